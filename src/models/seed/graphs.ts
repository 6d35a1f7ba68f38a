// The two SEED tokenizer graphs, from the checkpoint's own tensor names.
//   encode: pixel_values [B, 3, S, S] → EVA ViT → ln_vision → causal Q-Former → encode_task_layer
//           → VQ argmin → codes [B, 32] int64
//   decode: codes [B, 32] → codebook rows → decode_task_layer → + pos_embed_{image,text} → blocks
//           v2: → image_down → flatten → distill_image_proj → embeds [B, 1024] (unCLIP image embedding)
//           v1: → Reverse_Qformer (77 queries, bidirectional) → distill_text_proj → embeds [B, 77, 768]
// With `intermediates`, every stage the fixtures record is a named output too (parity tests).
import { Graph, type Value } from '../../graph/builder.js';
import { GraphWeights } from '../../nn/weights.js';
import { flatten2d, layerNorm, linear, reshapeLead } from '../../nn/layers.js';
import type { WeightStore } from '../../io/checkpoint.js';
import type { SeedConfig } from './config.js';
import { evaVit, vitBlock } from './eva_vit.js';
import { qformer } from './qformer_causal.js';
import { codebookRows, vqArgmin } from './quantizer.js';

export interface SeedGraphOptions {
  intermediates?: boolean;
}

/** Linear → Tanh → Linear (encode_task_layer / decode_task_layer: indices 0 and 2). */
function taskLayer(w: GraphWeights, x: Value, prefix: string): Value {
  return linear(w, w.g.op('Tanh', [linear(w, x, `${prefix}.0`)]), `${prefix}.2`);
}

export function buildSeedEncodeGraph(store: WeightStore, c: SeedConfig, opts: SeedGraphOptions = {}): Graph {
  const g = new Graph(`seed_${c.variant}_encode`);
  const w = new GraphWeights(g, store);
  const S = c.vit.imageSize;
  const px = g.input('pixel_values', 'float32', ['batch', 3, S, S]);
  const { x: vit, bs } = evaVit(w, px, c.vit); // [B·N, Dv]
  const mem = layerNorm(w, vit, 'ln_vision', c.lnVisionEps); // fp32 LayerNorm, eps 1e-5
  const b1 = g.op('Slice', [bs, g.ints([0]), g.ints([1])]);
  const states = qformer(w, c.qformer, { b1, memory: mem, bm: bs });
  const out = states[states.length - 1]!; // [B·32, H]
  const z = taskLayer(w, out, 'encode_task_layer'); // [B·32, e]
  const { distances, codes } = vqArgmin(w, z);
  const Q = c.qformer.queries;
  g.output(g.op('Reshape', [codes, g.ints([-1, Q])]), 'codes', 'int64', ['batch', Q]);
  if (opts.intermediates) {
    const bq = g.op('Concat', [b1, g.ints([Q])], { axis: 0 });
    g.output(reshapeLead(vit, bs, [c.vit.dim]), 'vit_tokens');
    g.output(reshapeLead(mem, bs, [c.vit.dim]), 'ln_vision');
    states.forEach((s, i) => g.output(reshapeLead(s, bq, [c.qformer.hidden]), i === 0 ? 'qformer_embeddings' : `qformer_layer${i - 1}`));
    g.output(reshapeLead(out, bq, [c.qformer.hidden]), 'qformer_out');
    g.output(reshapeLead(z, bq, [c.codebookDim]), 'encode_task_layer');
    g.output(reshapeLead(distances, bq, [c.codebookSize]), 'vq_distances');
  }
  return g;
}

export function buildSeedDecodeGraph(store: WeightStore, c: SeedConfig, opts: SeedGraphOptions = {}): Graph {
  const g = new Graph(`seed_${c.variant}_decode`);
  const w = new GraphWeights(g, store);
  const Q = c.qformer.queries, H = c.qformer.hidden;
  const codes = g.input('codes', 'int64', ['batch', Q]);
  const bq = g.op('Shape', [codes]); // [B, Q]
  const b1 = g.op('Slice', [bq, g.ints([0]), g.ints([1])]);
  const rows = codebookRows(w, codes); // [B, Q, e]
  const up = taskLayer(w, flatten2d(rows, c.codebookDim), 'decode_task_layer'); // [B·Q, H]
  let x = flatten2d(g.op('Add', [reshapeLead(up, bq, [H]), w.get(c.blocks.posEmbed)]), H);
  for (let i = 0; i < c.blocks.depth; i++) x = vitBlock(w, x, bq, `${c.blocks.prefix}.${i}`, { dim: H, heads: c.blocks.heads, eps: c.blocks.eps });
  let embeds: Value;
  const extra: [Value, string][] = [];
  if (c.variant === 'v2') {
    // image_down: Linear ReLU Linear ReLU Linear, no biases → [B·Q, 32] → [B, Q·32] → distill_image_proj
    const relu = (v: Value) => g.op('Relu', [v]);
    const down = linear(w, relu(linear(w, relu(linear(w, x, 'image_down.0')), 'image_down.2')), 'image_down.4');
    const downW = store.get('image_down.4.weight').shape[0]!;
    embeds = linear(w, g.op('Reshape', [down, g.ints([-1, Q * downW])]), 'distill_image_proj');
    extra.push([reshapeLead(down, bq, [downW]), 'image_down']);
  } else {
    const r = c.reverse!;
    const states = qformer(w, r, { b1, memory: x, bm: bq });
    const rev = states[states.length - 1]!; // [B·77, H]
    const [T, F] = c.embeddingShape as [number, number];
    embeds = reshapeLead(linear(w, rev, 'distill_text_proj'), b1, [T, F]);
    extra.push([reshapeLead(rev, b1, [T, r.hidden]), 'reverse_qformer_out']);
  }
  g.output(embeds, 'embeds', 'float32', ['batch', ...c.embeddingShape]);
  if (opts.intermediates) {
    g.output(rows, 'codebook_rows');
    g.output(reshapeLead(up, bq, [H]), 'decode_task_layer');
    g.output(reshapeLead(x, bq, [H]), `${c.blocks.prefix}_out`);
    for (const [v, name] of extra) g.output(v, name);
  }
  return g;
}
