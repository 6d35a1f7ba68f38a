// diffusers transformer_2d.py Transformer2DModel for continuous inputs: GroupNorm (eps 1e-6) →
// proj_in (Linear on tokens when use_linear_projection, else 1×1 Conv on the map) →
// BasicTransformerBlocks → proj_out → + residual.
import type { Value } from '../../graph/builder.js';
import { conv2d, groupNorm, outChannels } from '../../nn/conv.js';
import { linear } from '../../nn/layers.js';
import type { GraphWeights } from '../../nn/weights.js';
import { basicTransformerBlock, type TransformerBlockOptions } from './attention.js';
import type { Tokens } from './attention_processor.js';

export interface Transformer2DOptions extends TransformerBlockOptions {
  groups: number;
  useLinearProjection: boolean;
  layers: number;
}

/** [B, C, H, W] → tokens [B·HW, C] with bs = [B, HW]. */
export function mapToTokens(x: Value, C: number): Tokens {
  const g = x.graph;
  const t = g.op('Transpose', [g.op('Reshape', [x, g.ints([0, C, -1])])], { perm: [0, 2, 1] }); // [B, HW, C]
  const bs = g.op('Slice', [g.op('Shape', [t]), g.ints([0]), g.ints([2])]);
  return { x: g.op('Reshape', [t, g.ints([-1, C])]), bs };
}

/** tokens [B·HW, C] → [B, C, H, W] with the spatial shape of `like`. */
export function tokensToMap(t: Tokens, C: number, like: Value): Value {
  const g = t.x.graph;
  const bsc = g.op('Reshape', [t.x, g.op('Concat', [t.bs, g.ints([C])], { axis: 0 })]); // [B, HW, C]
  const chw = g.op('Transpose', [bsc], { perm: [0, 2, 1] }); // [B, C, HW]
  const shape = g.op('Concat', [g.op('Slice', [g.op('Shape', [like]), g.ints([0]), g.ints([1])]), g.ints([C]), g.op('Slice', [g.op('Shape', [like]), g.ints([2]), g.ints([4])])], { axis: 0 });
  return g.op('Reshape', [chw, shape]);
}

/** x: [B, C, H, W]; context: encoder_hidden_states tokens [B·T, Dc]. */
export function transformer2D(w: GraphWeights, x: Value, context: Tokens, prefix: string, o: Transformer2DOptions): Value {
  const g = x.graph;
  const C = outChannels(w, `${prefix}.norm`);
  const inner = outChannels(w, `${prefix}.proj_in`);
  const n = groupNorm(w, x, `${prefix}.norm`, o.groups, 1e-6);
  let t: Tokens;
  if (o.useLinearProjection) {
    const tk = mapToTokens(n, C);
    t = { x: linear(w, tk.x, `${prefix}.proj_in`), bs: tk.bs };
  } else {
    t = mapToTokens(conv2d(w, n, `${prefix}.proj_in`, { padding: 0 }), inner);
  }
  for (let i = 0; i < o.layers; i++) {
    t = { x: basicTransformerBlock(w, t, context, `${prefix}.transformer_blocks.${i}`, o), bs: t.bs };
  }
  let out: Value;
  if (o.useLinearProjection) out = tokensToMap({ x: linear(w, t.x, `${prefix}.proj_out`), bs: t.bs }, C, x);
  else out = conv2d(w, tokensToMap(t, inner, x), `${prefix}.proj_out`, { padding: 0 });
  return g.op('Add', [out, x]);
}
