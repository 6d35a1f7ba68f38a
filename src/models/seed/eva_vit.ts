// EVA ViT-g (BLIP-2's eva_vit.VisionTransformer as SEED uses it) and the timm-style pre-LN Block
// that SEED's decoder stacks (blocks_image / blocks_text) share with it.
// Activations stay 2-D [B·S, D] between layers (Gemm-friendly); `bs` = [B, S] int64.
import type { Value } from '../../graph/builder.js';
import type { GraphWeights } from '../../nn/weights.js';
import { activation, flatten2d, layerNorm, linear, multiHeadAttention, reshapeLead } from '../../nn/layers.js';
import type { EvaVitConfig } from './config.js';

export interface BlockOptions {
  dim: number;
  heads: number;
  eps: number;
}

/**
 * qkv bias: timm Blocks have `attn.qkv.bias`; EVA has `q_bias` and `v_bias` and no k bias
 * (cat(q_bias, 0, v_bias)); none → no bias.
 */
function qkvBias(w: GraphWeights, p: string, dim: number): Value | undefined {
  if (w.has(`${p}.attn.qkv.bias`)) return w.get(`${p}.attn.qkv.bias`);
  if (!w.has(`${p}.attn.q_bias`)) return undefined;
  const g = w.g;
  return g.op('Concat', [w.get(`${p}.attn.q_bias`), g.constant('float32', [dim], new Float32Array(dim)), w.get(`${p}.attn.v_bias`)], { axis: 0 });
}

/** Optional EVA layer scale (gamma_1/gamma_2, absent when init_values is None as in ViT-g). */
function scaled(w: GraphWeights, x: Value, name: string): Value {
  return w.has(name) ? w.g.op('Mul', [x, w.get(name)]) : x;
}

/**
 * Pre-LN transformer block: x + attn(norm1(x)); x + mlp(norm2(x)); bidirectional attention,
 * exact GELU. x: [B·S, D] → [B·S, D].
 */
export function vitBlock(w: GraphWeights, x: Value, bs: Value, p: string, o: BlockOptions): Value {
  const g = x.graph;
  const D = o.dim;
  const h = layerNorm(w, x, `${p}.norm1`, o.eps);
  // Through w.linear so quantized weights (--dtype q8/q4) apply here too; EVA's q/v bias is added after.
  const timmBias = w.has(`${p}.attn.qkv.bias`) ? `${p}.attn.qkv.bias` : undefined;
  const qkvW = w.linear(h, `${p}.attn.qkv.weight`, timmBias ? { bias: timmBias } : {});
  const eva = timmBias ? undefined : qkvBias(w, p, D);
  const qkv = eva ? g.op('Add', [qkvW, eva]) : qkvW; // [B·S, 3D], rows q | k | v
  const [q, k, v] = g.opN('Split', [qkv, g.ints([D, D, D])], { axis: 1 }, 3);
  const a = multiHeadAttention(reshapeLead(q!, bs, [D]), reshapeLead(k!, bs, [D]), reshapeLead(v!, bs, [D]), o.heads); // [B, S, D]
  x = g.op('Add', [x, scaled(w, linear(w, flatten2d(a, D), `${p}.attn.proj`), `${p}.gamma_1`)]);
  const m = layerNorm(w, x, `${p}.norm2`, o.eps);
  const ff = linear(w, activation(g, linear(w, m, `${p}.mlp.fc1`), 'gelu'), `${p}.mlp.fc2`);
  return g.op('Add', [x, scaled(w, ff, `${p}.gamma_2`)]);
}

/**
 * EVA ViT: patch Conv → CLS + learned pos_embed → blocks, no final norm.
 * pixel_values [B, 3, H, W] → tokens [B·N, D] (N = 1 + patches) and bs = [B, N].
 */
export function evaVit(w: GraphWeights, px: Value, c: EvaVitConfig, prefix = 'visual_encoder'): { x: Value; bs: Value } {
  const g = px.graph;
  const D = c.dim, P = c.patchSize, N = c.tokens;
  const conv = g.op('Conv', [px, w.get(`${prefix}.patch_embed.proj.weight`), w.get(`${prefix}.patch_embed.proj.bias`)], {
    kernel_shape: [P, P], strides: [P, P],
  }); // [B, D, gh, gw]
  const patches = g.op('Transpose', [g.op('Reshape', [conv, g.ints([0, D, N - 1])])], { perm: [0, 2, 1] }); // [B, N-1, D]
  const b1 = g.op('Slice', [g.op('Shape', [px]), g.ints([0]), g.ints([1])]); // [B]
  const cls = g.op('Expand', [w.get(`${prefix}.cls_token`), g.op('Concat', [b1, g.ints([1, D])], { axis: 0 })]); // [B, 1, D]
  const emb = g.op('Add', [g.op('Concat', [cls, patches], { axis: 1 }), w.get(`${prefix}.pos_embed`)]); // [B, N, D]
  const bs = g.op('Concat', [b1, g.ints([N])], { axis: 0 });
  let x = flatten2d(emb, D);
  for (let i = 0; i < c.depth; i++) x = vitBlock(w, x, bs, `${prefix}.blocks.${i}`, { dim: D, heads: c.heads, eps: c.eps });
  return { x, bs };
}
