// VectorQuantizer2 (SEED v2 qformer_quantizer.py, v1 quantize_semantic.py): no normalisation,
// codes = argmin over |z|² + |e|² − 2 z·e (first index on exact ties, as torch.argmin), and the
// codebook lookup the decoders start from.
import { f, type Value } from '../../graph/builder.js';
import type { GraphWeights } from '../../nn/weights.js';

export const CODEBOOK = 'quantize.embedding.weight';

/** z [N, e] → { distances [N, n_e], codes [N] int64 }, summed in the reference's order. */
export function vqArgmin(w: GraphWeights, z: Value): { distances: Value; codes: Value } {
  const g = w.g;
  const E = w.get(CODEBOOK); // [n_e, e]
  const zz = g.op('ReduceSumSquare', [z, g.ints([1])], { keepdims: 1 }); // [N, 1]
  const ee = g.op('ReduceSumSquare', [E, g.ints([1])], { keepdims: 0 }); // [n_e]
  const ze2 = g.op('Gemm', [z, E], { transB: 1, alpha: f(2) }); // 2·z·eᵀ [N, n_e] (×2 is exact)
  const distances = g.op('Sub', [g.op('Add', [zz, ee]), ze2]);
  const codes = g.op('ArgMin', [distances], { axis: 1, keepdims: 0, select_last_index: 0 });
  return { distances, codes };
}

/** codes [B, Q] int64 → codebook rows [B, Q, e]. */
export function codebookRows(w: GraphWeights, codes: Value): Value {
  return w.g.op('Gather', [w.get(CODEBOOK), codes], { axis: 0 });
}
