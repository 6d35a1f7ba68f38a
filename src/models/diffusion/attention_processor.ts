// diffusers attention_processor.py Attention (AttnProcessor2_0 path), as one fused
// com.microsoft MultiHeadAttention: on CPU it runs flash-style, so self-attention over 9216
// latent tokens never materialises the [B, heads, S, S] score matrix (ort-facts.md).
import type { Value } from '../../graph/builder.js';
import { flatten2d, linear, reshapeLead } from '../../nn/layers.js';
import type { GraphWeights } from '../../nn/weights.js';

/** Token activations kept 2-D for Gemm: rows [B·S, C]; `bs` = int64 [B, S]. */
export interface Tokens {
  x: Value;
  bs: Value;
}

export interface AttentionNames {
  q: string;
  k: string;
  v: string;
  out: string;
}

/** Tensor names of diffusers' Attention (to_q/to_k/to_v/to_out.0). */
export const attentionNames = (prefix: string): AttentionNames => ({
  q: `${prefix}.to_q`,
  k: `${prefix}.to_k`,
  v: `${prefix}.to_v`,
  out: `${prefix}.to_out.0`,
});

/**
 * softmax(q·kᵀ/√d)·v over `heads` heads, then the output projection. `context` null = self-attention.
 * Projections use biases only where the checkpoint has them (UNet: q/k/v without, VAE: with).
 * Returns [B·S, C].
 */
export function attention(w: GraphWeights, hidden: Tokens, context: Tokens | null, names: AttentionNames, heads: number): Value {
  const g = hidden.x.graph;
  const ctx = context ?? hidden;
  const C = w.store.get(`${names.q}.weight`).shape[0]!;
  if (C % heads !== 0) throw new Error(`${names.q}: ${C} channels cannot be split into ${heads} heads`);
  const q = reshapeLead(linear(w, hidden.x, names.q), hidden.bs, [C]); // [B, S, C]
  const k = reshapeLead(linear(w, ctx.x, names.k), ctx.bs, [C]); // [B, T, C]
  const v = reshapeLead(linear(w, ctx.x, names.v), ctx.bs, [C]);
  const a = g.op('MultiHeadAttention', [q, k, v], { num_heads: heads }, 'com.microsoft'); // [B, S, C]
  return linear(w, flatten2d(a, C), names.out);
}
