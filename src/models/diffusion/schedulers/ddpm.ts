// DDPMScheduler (diffusers 0.20.2 scheduling_ddpm.py), the forward-noising half only: what the
// Stable unCLIP pipelines use it for (image_noising_scheduler.add_noise on the image embedding).
import { alphasCumprodOf, betasOf, schedulerConfig, type SchedulerConfig } from './common.js';

const fr = Math.fround;

export class DDPMScheduler {
  readonly config: SchedulerConfig;
  /** float32 ᾱ per training timestep. */
  readonly alphasCumprod: Float64Array;

  constructor(raw: Record<string, any>) {
    this.config = schedulerConfig(raw, { clip_sample: true });
    this.alphasCumprod = alphasCumprodOf(betasOf(this.config));
  }

  /** add_noise: sqrt(ᾱ_t)·x + sqrt(1 − ᾱ_t)·noise, row b of x [B, ...] at timesteps[b]. */
  addNoise(x: Float32Array, noise: Float32Array, timesteps: readonly number[]): Float32Array {
    if (x.length !== noise.length) throw new RangeError(`add_noise: sample has ${x.length} values, noise ${noise.length}`);
    const per = x.length / timesteps.length;
    if (!Number.isInteger(per)) throw new RangeError(`add_noise: ${timesteps.length} timesteps do not divide ${x.length} values`);
    const out = new Float32Array(x.length);
    timesteps.forEach((t, b) => {
      if (!Number.isInteger(t) || t < 0 || t >= this.alphasCumprod.length) {
        throw new RangeError(`noise level ${t} is outside [0, ${this.alphasCumprod.length - 1}]`);
      }
      const a = this.alphasCumprod[t]!;
      const sa = fr(Math.sqrt(a)), sb = fr(Math.sqrt(fr(1 - a)));
      for (let i = b * per; i < (b + 1) * per; i++) out[i] = fr(fr(sa * x[i]!) + fr(sb * noise[i]!));
    });
    return out;
  }
}
