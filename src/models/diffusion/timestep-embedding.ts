// diffusers' get_timestep_embedding (models/embeddings.py) in TypeScript, float32 as torch
// computes it: the sinusoid [sin | cos] (or [cos | sin] with flip_sin_to_cos) of each timestep.
const fr = Math.fround;

/** [N, dim] row-major: embedding of each timestep. */
export function timestepEmbedding(
  timesteps: readonly number[],
  dim: number,
  opts: { flipSinToCos?: boolean; downscaleFreqShift?: number; scale?: number; maxPeriod?: number } = {},
): Float32Array {
  const half = Math.floor(dim / 2);
  const shift = opts.downscaleFreqShift ?? 1;
  const scale = opts.scale ?? 1;
  const k = fr(-Math.log(opts.maxPeriod ?? 10000));
  const freqs = Array.from({ length: half }, (_, i) => fr(Math.exp(fr(fr(k * i) / (half - shift)))));
  const out = new Float32Array(timesteps.length * dim);
  timesteps.forEach((t, n) => {
    const row = n * dim;
    for (let i = 0; i < half; i++) {
      const e = fr(scale * fr(fr(t) * freqs[i]!));
      const s = fr(Math.sin(e)), c = fr(Math.cos(e));
      out[row + i] = opts.flipSinToCos ? c : s;
      out[row + half + i] = opts.flipSinToCos ? s : c;
    }
  });
  return out;
}
