// Additive attention masks [B, 1, S, T] built in TypeScript: 0 where a query may attend, a large
// negative (not -inf, so fully masked padding rows stay finite, as in transformers) elsewhere.
export const MASKED = -3.4028234663852886e38;

export interface MaskSpec {
  /** Tokens already in the cache (T = past + S). */
  past: number;
  /** New tokens this step. */
  seq: number;
  /** Per row: number of left-padding slots at the start of the sequence (masked as keys). */
  leftPad?: number[];
  /** Per row or shared: the first `prefix` positions attend bidirectionally among themselves. */
  prefix?: number;
  /** Keys older than this many positions are masked (Mistral sliding window). */
  slidingWindow?: number;
  batch: number;
}

export function buildMask(m: MaskSpec): Float32Array {
  const T = m.past + m.seq;
  const out = new Float32Array(m.batch * m.seq * T);
  for (let b = 0; b < m.batch; b++) {
    const pad = m.leftPad?.[b] ?? 0;
    for (let s = 0; s < m.seq; s++) {
      const i = m.past + s; // absolute query index
      const row = (b * m.seq + s) * T;
      for (let j = 0; j < T; j++) {
        let ok = j <= i || (m.prefix !== undefined && i < m.prefix && j < m.prefix);
        if (j < pad) ok = false;
        if (ok && m.slidingWindow !== undefined && i - j >= m.slidingWindow) ok = false;
        out[row + j] = ok ? 0 : MASKED;
      }
    }
  }
  return out;
}
