// Graph-building layers shared by the models. Activations are kept 2-D [tokens, features]
// between layers (Gemm-friendly); attention reshapes to [B, S, ...] with shapes taken from inputs.
import { f, type Graph, type Value } from '../graph/builder.js';
import type { GraphWeights } from './weights.js';

/** y = x·Wᵀ + b for a PyTorch Linear (weight [out, in]); x is 2-D [N, in]. */
export function linear(w: GraphWeights, x: Value, prefix: string, bias = w.has(`${prefix}.bias`)): Value {
  return w.linear(x, `${prefix}.weight`, bias ? { bias: `${prefix}.bias` } : {});
}

/** Linear from explicit values (weight [out, in]). */
export function linearOf(x: Value, W: Value, b?: Value): Value {
  return x.graph.op('Gemm', b ? [x, W, b] : [x, W], { transB: 1 });
}

export function layerNorm(w: GraphWeights, x: Value, prefix: string, eps: number): Value {
  return x.graph.op('LayerNormalization', [x, w.get(`${prefix}.weight`), w.get(`${prefix}.bias`)], { axis: -1, epsilon: f(eps) });
}

export function rmsNorm(w: GraphWeights, x: Value, weightName: string, eps: number): Value {
  // ORT's SimplifiedLayerNormalization lives in the default domain (ort-facts.md); float32 math.
  return x.graph.op('SimplifiedLayerNormalization', [x, w.get(weightName)], { axis: -1, epsilon: f(eps) });
}

export function activation(g: Graph, x: Value, act: string): Value {
  switch (act) {
    case 'gelu_pytorch_tanh':
    case 'gelu_new':
    case 'gelu_fast':
      return g.op('Gelu', [x], { approximate: 'tanh' });
    case 'gelu':
      return g.op('Gelu', [x]);
    case 'silu':
    case 'swish':
      return g.op('Mul', [x, g.op('Sigmoid', [x])]);
    case 'relu':
      return g.op('Relu', [x]);
    case 'quick_gelu':
      return g.op('Mul', [x, g.op('Sigmoid', [g.op('Mul', [x, g.scalar(1.702)])])]);
    default:
      throw new Error(`activation ${act} is not supported`);
  }
}

/** Reshape to Concat(lead, tail): lead is a 1-D int64 value (e.g. [B, S] from Shape). */
export function reshapeLead(x: Value, lead: Value, tail: number[]): Value {
  const g = x.graph;
  return g.op('Reshape', [x, g.op('Concat', [lead, g.ints(tail)], { axis: 0 })]);
}

export function flatten2d(x: Value, features: number): Value {
  return x.graph.op('Reshape', [x, x.graph.ints([-1, features])]);
}

/**
 * com.microsoft MultiHeadAttention on [B, S, D] / [B, T, D] values → [B, S, D]; scale
 * 1/sqrt(head_dim) (PyTorch's q·scale before q·kᵀ differs by rounding only). `causal` masks key
 * t > query s (same result as an additive −10000 or −inf mask: exp underflows to 0 either way).
 */
export function multiHeadAttention(q: Value, k: Value, v: Value, numHeads: number, opts: { causal?: boolean } = {}): Value {
  const attrs: Record<string, number> = { num_heads: numHeads };
  if (opts.causal) attrs.unidirectional = 1;
  return q.graph.op('MultiHeadAttention', [q, k, v], attrs, 'com.microsoft');
}
