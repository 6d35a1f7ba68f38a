// diffusers embeddings.py: the sinusoidal timestep embedding (Timesteps / get_timestep_embedding)
// and TimestepEmbedding (linear_1 → act → linear_2), also used as unCLIP's "projection" class
// embedding.
import type { Value } from '../../graph/builder.js';
import { activation, linear } from '../../nn/layers.js';
import type { GraphWeights } from '../../nn/weights.js';

const fr = Math.fround;

/**
 * get_timestep_embedding(t, dim, flip_sin_to_cos, downscale_freq_shift) → [N, dim] row-major.
 * Computed as PyTorch does in float32 (frequencies, the product t·freq and sin/cos each rounded
 * to float32): at t≈1000 the float32 argument alone moves the result by ~3e-5, so float64 math
 * would not reproduce diffusers. Timesteps may be fractional (Euler, DPM-Solver).
 */
export function timestepSinusoid(timesteps: ArrayLike<number>, dim: number, flipSinToCos: boolean, freqShift: number, maxPeriod = 10000): Float32Array {
  const half = Math.floor(dim / 2);
  const logP = fr(-Math.log(maxPeriod));
  const denom = fr(half - freqShift);
  const freqs = new Float32Array(half);
  for (let i = 0; i < half; i++) freqs[i] = fr(Math.exp(fr(fr(logP * i) / denom)));
  const out = new Float32Array(timesteps.length * dim);
  for (let n = 0; n < timesteps.length; n++) {
    const t = fr(timesteps[n]!);
    const row = n * dim;
    for (let i = 0; i < half; i++) {
      const a = fr(t * freqs[i]!);
      const s = Math.sin(a), c = Math.cos(a);
      out[row + i] = flipSinToCos ? c : s;
      out[row + half + i] = flipSinToCos ? s : c;
    }
    // odd dim: the last column stays 0 (diffusers zero-pads)
  }
  return out;
}

/** TimestepEmbedding: linear_1 → act → linear_2. x: [B, in] → [B, time_embed_dim]. */
export function timestepEmbedding(w: GraphWeights, x: Value, prefix: string, act = 'silu'): Value {
  const h = activation(x.graph, linear(w, x, `${prefix}.linear_1`), act);
  return linear(w, h, `${prefix}.linear_2`);
}
