// SEED's Q-Former (models/seed_qformer/qformer_causual.py, BERT with learned queries only):
// embeddings = LayerNorm(queries) (no word/position embeddings); each layer = post-LN
// self-attention (causal among exactly 32 queries, else bidirectional) → cross-attention to the
// memory in the layers that have it (K/V projected from the memory width) → the query FFN
// (intermediate_query / output_query; the text FFN is absent from the checkpoints).
// v2/v1 encoders run it over the ViT tokens; v1's Reverse_Qformer (77 queries) over the decoded codes.
import type { Value } from '../../graph/builder.js';
import type { GraphWeights } from '../../nn/weights.js';
import { activation, flatten2d, layerNorm, linear, multiHeadAttention, reshapeLead } from '../../nn/layers.js';
import type { QformerConfig } from './config.js';

/** BertAttention: LayerNorm(x + dense(attn(query(x), key(mem), value(mem)))). x: [B·Q, H]. */
function bertAttention(w: GraphWeights, x: Value, mem: Value, bq: Value, bm: Value, p: string, c: QformerConfig, causal: boolean): Value {
  const g = x.graph;
  const H = c.hidden;
  const q = reshapeLead(linear(w, x, `${p}.self.query`), bq, [H]);
  const k = reshapeLead(linear(w, mem, `${p}.self.key`), bm, [H]);
  const v = reshapeLead(linear(w, mem, `${p}.self.value`), bm, [H]);
  const a = flatten2d(multiHeadAttention(q, k, v, c.heads, { causal }), H); // [B·Q, H]
  return layerNorm(w, g.op('Add', [linear(w, a, `${p}.output.dense`), x]), `${p}.output.LayerNorm`, c.eps);
}

export interface QformerInputs {
  /** Batch size as a 1-D int64 value [B]. */
  b1: Value;
  /** Cross-attention memory [B·T, encoderWidth] and its [B, T]. */
  memory: Value;
  bm: Value;
}

/**
 * Runs the Q-Former; returns the per-layer outputs ([0] = embeddings, [i+1] = after layer i),
 * each [B·Q, H]; the last one is last_hidden_state.
 */
export function qformer(w: GraphWeights, c: QformerConfig, inp: QformerInputs): Value[] {
  const g = w.g;
  const H = c.hidden;
  const emb = layerNorm(w, w.get(c.queryTokens), `${c.prefix}.bert.embeddings.LayerNorm`, c.eps); // [1, Q, H]
  const bq = g.op('Concat', [inp.b1, g.ints([c.queries])], { axis: 0 }); // [B, Q]
  let x = flatten2d(g.op('Expand', [emb, g.op('Concat', [inp.b1, g.ints([c.queries, H])], { axis: 0 })]), H);
  const states = [x];
  c.crossAttention.forEach((cross, i) => {
    const p = `${c.prefix}.bert.encoder.layer.${i}`;
    x = bertAttention(w, x, x, bq, bq, `${p}.attention`, c, c.causal);
    if (cross) x = bertAttention(w, x, inp.memory, bq, inp.bm, `${p}.crossattention`, c, false);
    const ff = linear(w, activation(g, linear(w, x, `${p}.intermediate_query.dense`), 'gelu'), `${p}.output_query.dense`);
    x = layerNorm(w, g.op('Add', [ff, x]), `${p}.output_query.LayerNorm`, c.eps);
    states.push(x);
  });
  return states;
}
