// RoPE tables computed in TypeScript with float32 rounding at each step, as transformers does
// (inv_freq, angle = inv_freq·position and cos/sin are float32 tensors there).
import { CheckpointError } from '../io/checkpoint.js';

const fr = Math.fround;

export interface RopeConfig {
  theta: number;
  headDim: number;
  /** transformers rope_type: 'default' | 'linear' | 'dynamic' */
  type: string;
  factor: number;
  maxPositions: number;
}

/** Reads rope settings from a config.json (transformers 5 `rope_parameters` or legacy keys). */
export function parseRopeConfig(cfg: Record<string, any>, headDim: number): RopeConfig {
  const p = cfg.rope_parameters ?? {};
  const legacy = cfg.rope_scaling ?? {};
  const type = p.rope_type ?? legacy.rope_type ?? legacy.type ?? 'default';
  if (!['default', 'linear', 'dynamic'].includes(type)) {
    throw new Error(`config.json: rope type ${JSON.stringify(type)} is not supported (default, linear, dynamic are)`);
  }
  const theta = p.rope_theta ?? cfg.rope_theta ?? 10000;
  const factor = p.factor ?? legacy.factor ?? 1;
  const maxPositions = cfg.max_position_embeddings ?? 2048;
  // Numbers only, finite and positive: a string or 0 would make every angle NaN or constant.
  const check = (v: unknown, key: string, integer = false) => {
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0 || v > 1e15 || (integer && !Number.isInteger(v))) {
      throw new CheckpointError(`config.json: ${key} is ${JSON.stringify(v)}; expected a positive ${integer ? 'integer' : 'number'}`);
    }
  };
  check(theta, p.rope_theta !== undefined ? 'rope_parameters.rope_theta' : 'rope_theta');
  check(factor, p.factor !== undefined ? 'rope_parameters.factor' : 'rope_scaling.factor');
  check(maxPositions, 'max_position_embeddings', true);
  if (!Number.isInteger(headDim) || headDim < 2 || headDim % 2 !== 0) throw new CheckpointError(`config.json: head_dim ${headDim} must be an even integer for RoPE`);
  return { theta, headDim, type, factor, maxPositions };
}

/** inv_freq[k] = 1 / θ^(2k/d) (float32), adjusted for linear/dynamic scaling. */
export function invFreq(c: RopeConfig, seqLen = 0): Float32Array {
  const half = c.headDim / 2;
  let base = c.theta;
  if (c.type === 'dynamic' && seqLen > c.maxPositions) {
    // Dynamic NTK: grow the base once the sequence passes the trained length.
    base = base * ((c.factor * seqLen) / c.maxPositions - (c.factor - 1)) ** (c.headDim / (c.headDim - 2));
  }
  const out = new Float32Array(half);
  for (let k = 0; k < half; k++) {
    let v = fr(1 / fr(Math.pow(fr(base), fr((2 * k) / c.headDim))));
    if (c.type === 'linear') v = fr(v / c.factor);
    out[k] = v;
  }
  return out;
}

/**
 * cos/sin [B, S, half] for positions [B][S]. `axisPositions` (optional) gives, per frequency k,
 * which position axis rotates it (M-RoPE); then positions are [axis][B][S].
 */
export function ropeTables(inv: Float32Array, positions: number[][]): { cos: Float32Array; sin: Float32Array } {
  const B = positions.length, S = positions[0]?.length ?? 0, half = inv.length;
  const cos = new Float32Array(B * S * half), sin = new Float32Array(B * S * half);
  for (let b = 0; b < B; b++) {
    for (let s = 0; s < S; s++) {
      const p = positions[b]![s]!;
      const o = (b * S + s) * half;
      for (let k = 0; k < half; k++) {
        const a = fr(inv[k]! * p);
        cos[o + k] = Math.cos(a);
        sin[o + k] = Math.sin(a);
      }
    }
  }
  return { cos, sin };
}

/** Multi-axis RoPE: frequency k rotates by positions[axisOf[k]][b][s] (SAIL's H/W split). */
export function mropeTables(inv: Float32Array, axisOf: ArrayLike<number>, positions: number[][][]): { cos: Float32Array; sin: Float32Array } {
  const B = positions[0]!.length, S = positions[0]![0]?.length ?? 0, half = inv.length;
  const cos = new Float32Array(B * S * half), sin = new Float32Array(B * S * half);
  for (let b = 0; b < B; b++) {
    for (let s = 0; s < S; s++) {
      const o = (b * S + s) * half;
      for (let k = 0; k < half; k++) {
        const a = fr(inv[k]! * positions[axisOf[k]!]![b]![s]!);
        cos[o + k] = Math.cos(a);
        sin[o + k] = Math.sin(a);
      }
    }
  }
  return { cos, sin };
}
