// Token choice from logits: greedy, or sampling with repetition penalty, temperature, top-k,
// top-p and min-p (applied in that order, as transformers' logits processors are), seeded.
import type { GenerationOptions } from '../api.js';

/** mulberry32: small, fast, seedable; same seed → same sequence. */
export function makeRng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The sampling subset of the public generation options (one definition, in api.ts). */
export type SamplingOptions = Pick<GenerationOptions, 'temperature' | 'topK' | 'topP' | 'minP' | 'repetitionPenalty' | 'seed'>;

/**
 * Allowed values of the sampling options: [low, high, low excluded]. A repetition penalty of 0
 * would divide logits by zero. The CLI checks its flags against the same table.
 */
export const SAMPLING_RANGES = {
  temperature: [0, 100, false],
  topP: [0, 1, false],
  minP: [0, 1, false],
  repetitionPenalty: [0, 100, true],
  topK: [0, Number.MAX_SAFE_INTEGER, false],
} as const;

/** Why `v` is not an allowed value of option `k` ("must be …"), or undefined when it is. */
export function samplingRangeError(k: keyof typeof SAMPLING_RANGES, v: number | undefined): string | undefined {
  if (v === undefined) return undefined;
  const [lo, hi, open] = SAMPLING_RANGES[k];
  if (k === 'topK') return Number.isInteger(v) && v >= 0 ? undefined : `must be a non-negative integer, got ${v}`;
  if (open ? v > lo && v <= hi : v >= lo && v <= hi) return undefined;
  return `must be in ${open ? '(' : '['}${lo}, ${hi}], got ${v}`;
}

export function isGreedy(o: SamplingOptions): boolean {
  if (o.temperature === 0) return true;
  return o.temperature === undefined && o.topK === undefined && o.topP === undefined && o.minP === undefined;
}

export function argmax(logits: ArrayLike<number>, offset = 0, n = logits.length): number {
  let best = 0, bv = -Infinity;
  for (let i = 0; i < n; i++) {
    const v = logits[offset + i]!;
    if (v > bv) { bv = v; best = i; }
  }
  return best;
}

export class Sampler {
  private rng: () => number;
  readonly greedy: boolean;

  constructor(readonly o: SamplingOptions = {}) {
    this.greedy = isGreedy(o);
    this.rng = makeRng(o.seed ?? Math.floor(Math.random() * 2 ** 32));
    for (const k of Object.keys(SAMPLING_RANGES) as Array<keyof typeof SAMPLING_RANGES>) {
      const why = samplingRangeError(k, o[k]);
      if (why) throw new RangeError(`${k} ${why}`);
    }
  }

  /** Chooses the next token from one row of logits; `seen` are prompt + generated ids. */
  choose(logitsIn: Float32Array, seen: Iterable<number>): number {
    const rp = this.o.repetitionPenalty;
    let logits = logitsIn;
    if (rp !== undefined && rp !== 1) {
      logits = logitsIn.slice();
      for (const id of new Set(seen)) {
        const v = logits[id]!;
        logits[id] = v < 0 ? v * rp : v / rp;
      }
    }
    if (this.greedy) return argmax(logits);
    const t = this.o.temperature ?? 1;
    const V = logits.length;
    // Candidates sorted by logit, descending.
    let idx = Array.from({ length: V }, (_, i) => i);
    const k = this.o.topK && this.o.topK > 0 ? Math.min(this.o.topK, V) : V;
    idx.sort((a, b) => logits[b]! - logits[a]!);
    idx = idx.slice(0, k);
    const maxL = logits[idx[0]!]! / t;
    let probs = idx.map((i) => Math.exp(logits[i]! / t - maxL));
    let sum = probs.reduce((a, b) => a + b, 0);
    probs = probs.map((p) => p / sum);
    const topP = this.o.topP;
    if (topP !== undefined && topP < 1) {
      let c = 0, cut = probs.length;
      for (let i = 0; i < probs.length; i++) {
        c += probs[i]!;
        if (c >= topP) { cut = i + 1; break; }
      }
      idx = idx.slice(0, cut);
      probs = probs.slice(0, cut);
    }
    const minP = this.o.minP;
    if (minP !== undefined && minP > 0) {
      const thr = probs[0]! * minP;
      const keep = probs.map((p, i) => [p, i] as const).filter(([p]) => p >= thr).map(([, i]) => i);
      idx = keep.map((i) => idx[i]!);
      probs = keep.map((i) => probs[i]!);
    }
    sum = probs.reduce((a, b) => a + b, 0);
    let r = this.rng() * sum;
    for (let i = 0; i < probs.length; i++) {
      r -= probs[i]!;
      if (r <= 0) return idx[i]!;
    }
    return idx[idx.length - 1]!;
  }
}
