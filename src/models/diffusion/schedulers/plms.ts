// The PLMS sampler as SEED v1 runs it (CompVis latent-diffusion ldm/models/diffusion/plms.py,
// SEED branch v1): the same multistep rule as PNDMScheduler(skip_prk_steps), but with ldm's
// numbers — betas from its "linear" schedule in float64 (= diffusers' scaled_linear), ᾱ cumprod
// in float64 then float32, "uniform" DDIM timesteps range(0, T, T // S) + 1, the update written
// as x0 and direction terms, final ᾱ_prev = ᾱ[0], eta 0. Driven through the Scheduler interface:
// N steps = N + 1 model calls (the first step evaluates t and t_next).
import { CheckpointError } from '../../../io/checkpoint.js';
import { map2, schedulerConfig, torchLinspace, type Scheduler, type SchedulerConfig, type StepOutput } from './common.js';

const fr = Math.fround;

export class PLMSSampler implements Scheduler {
  readonly config: SchedulerConfig;
  /** float32 ᾱ (ldm registers its float64 schedule as float32 buffers). */
  readonly alphasCumprod: Float64Array;
  readonly initNoiseSigma = 1;
  timesteps: number[] = [];
  /** The S sampler timesteps, ascending (ldm ddim_timesteps). */
  private ddim: number[] = [];
  private call = 0;
  private oldEps: Float32Array[] = [];
  private firstEps: Float32Array | null = null;
  private firstX: Float32Array | null = null;

  constructor(raw: Record<string, any>) {
    this.config = schedulerConfig(raw, {});
    const c = this.config;
    if (c.prediction_type !== 'epsilon') throw new CheckpointError('PLMS (SEED v1) samples epsilon-prediction models only');
    if (c.beta_schedule !== 'scaled_linear') throw new CheckpointError(`PLMS (SEED v1) uses ldm's "linear" schedule = scaled_linear, not ${c.beta_schedule}`);
    const betas = torchLinspace(Math.sqrt(c.beta_start), Math.sqrt(c.beta_end), c.num_train_timesteps, (x) => x).map((x) => x * x);
    let acc = 1;
    this.alphasCumprod = betas.map((b) => fr((acc *= 1 - b)));
  }

  setTimesteps(steps: number): void {
    const T = this.config.num_train_timesteps;
    if (!Number.isInteger(steps) || steps < 1 || steps > T) throw new RangeError(`steps must be an integer in [1, ${T}], got ${steps}`);
    const c = Math.floor(T / steps);
    this.ddim = [];
    for (let t = 0; t < T; t += c) this.ddim.push(t + 1);
    // ldm indexes ᾱ[T] (IndexError) when S does not divide T; diffusers' "leading" differs there.
    if (this.ddim[this.ddim.length - 1]! >= T) {
      throw new RangeError(`PLMS (SEED v1): ${steps} steps do not divide ${T}; the reference sampler fails there (use a divisor of ${T}, e.g. 50)`);
    }
    const desc = [...this.ddim].reverse();
    this.timesteps = [desc[0]!, desc[Math.min(1, desc.length - 1)]!, ...desc.slice(1)];
    this.call = 0;
    this.oldEps = [];
    this.firstEps = this.firstX = null;
  }

  scaleModelInput(sample: Float32Array): Float32Array {
    return sample;
  }

  /** x_prev from e_t at sampler index `index` (ldm get_x_prev_and_pred_x0, sigma 0). */
  private xPrev(x: Float32Array, e: Float32Array, index: number): StepOutput {
    const a = this.alphasCumprod;
    const at = a[this.ddim[index]!]!;
    const aPrev = index > 0 ? a[this.ddim[index - 1]!]! : a[0]!;
    const sq1m = fr(Math.sqrt(fr(1 - at)));
    const sa = fr(Math.sqrt(at));
    const dirC = fr(Math.sqrt(fr(fr(1 - aPrev) - 0)));
    const sPrev = fr(Math.sqrt(aPrev));
    const x0 = map2(x, e, (xi, ei) => fr(fr(xi - fr(sq1m * ei)) / sa));
    const prev = new Float32Array(x.length);
    for (let i = 0; i < x.length; i++) prev[i] = fr(fr(fr(sPrev * x0[i]!) + fr(dirC * e[i]!)) + 0);
    return { prevSample: prev, predOriginalSample: x0 };
  }

  step(e: Float32Array, _t: number, x: Float32Array): StepOutput {
    if (!this.timesteps.length) throw new Error('PLMSSampler.step before setTimesteps');
    const S = this.ddim.length;
    const k = this.call++;
    if (k === 0) {
      // First half of the pseudo improved Euler step: the model is next called at x_prev, t_next.
      this.firstEps = e;
      this.firstX = x;
      return this.xPrev(x, e, S - 1);
    }
    const i = k - 1; // sampler step
    const index = S - i - 1;
    let ep: Float32Array;
    if (i === 0) {
      ep = map2(this.firstEps!, e, (a, b) => fr(fr(a + b) / 2));
      x = this.firstX!;
      e = this.firstEps!;
    } else {
      const o = this.oldEps;
      const n = o.length;
      ep = new Float32Array(e.length);
      for (let j = 0; j < e.length; j++) {
        const et = e[j]!;
        if (n === 1) ep[j] = fr(fr(fr(3 * et) - o[0]![j]!) / 2);
        else if (n === 2) ep[j] = fr(fr(fr(fr(23 * et) - fr(16 * o[1]![j]!)) + fr(5 * o[0]![j]!)) / 12);
        else ep[j] = fr(fr(fr(fr(fr(55 * et) - fr(59 * o[n - 1]![j]!)) + fr(37 * o[n - 2]![j]!)) - fr(9 * o[n - 3]![j]!)) / 24);
      }
    }
    const out = this.xPrev(x, ep, index);
    // old_eps keeps e_t of each step (the first step's e_t, not the averaged one), at most 3.
    this.oldEps.push(e);
    if (this.oldEps.length > 3) this.oldEps.shift();
    return out;
  }
}
