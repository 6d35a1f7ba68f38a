// diffusers attention.py: BasicTransformerBlock (LayerNorm → self-attention, LayerNorm →
// cross-attention, LayerNorm → GEGLU feed-forward, each residual) as the UNet uses it.
import type { Value } from '../../graph/builder.js';
import { activation, layerNorm, linear } from '../../nn/layers.js';
import type { GraphWeights } from '../../nn/weights.js';
import { attention, attentionNames, type Tokens } from './attention_processor.js';

export interface TransformerBlockOptions {
  heads: number;
  /** LayerNorm eps (diffusers' norm_eps default, 1e-5). */
  eps: number;
  /** only_cross_attention: attn1 attends to the context too. */
  onlyCrossAttention: boolean;
}

/** FeedForward with GEGLU: proj → (h, gate) halves → h·gelu(gate) (exact erf GELU) → net.2. */
export function feedForwardGeglu(w: GraphWeights, x: Value, prefix: string): Value {
  const g = x.graph;
  const [h, gate] = g.opN('Split', [linear(w, x, `${prefix}.net.0.proj`)], { axis: -1, num_outputs: 2 }, 2) as [Value, Value];
  return linear(w, g.op('Mul', [h, activation(g, gate, 'gelu')]), `${prefix}.net.2`);
}

/** x: [B·S, C] tokens of one image; context: encoder_hidden_states [B·T, Dc]. */
export function basicTransformerBlock(w: GraphWeights, hidden: Tokens, context: Tokens, prefix: string, o: TransformerBlockOptions): Value {
  const g = hidden.x.graph;
  let x = hidden.x;
  const n1 = layerNorm(w, x, `${prefix}.norm1`, o.eps);
  x = g.op('Add', [attention(w, { x: n1, bs: hidden.bs }, o.onlyCrossAttention ? context : null, attentionNames(`${prefix}.attn1`), o.heads), x]);
  if (w.has(`${prefix}.attn2.to_q.weight`)) {
    const n2 = layerNorm(w, x, `${prefix}.norm2`, o.eps);
    x = g.op('Add', [attention(w, { x: n2, bs: hidden.bs }, context, attentionNames(`${prefix}.attn2`), o.heads), x]);
  }
  const n3 = layerNorm(w, x, `${prefix}.norm3`, o.eps);
  return g.op('Add', [feedForwardGeglu(w, n3, `${prefix}.ff`), x]);
}
