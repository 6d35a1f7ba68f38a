// EulerDiscreteScheduler (diffusers 0.20.2 scheduling_euler_discrete.py), s_churn = 0 as the
// pipelines call it: k-diffusion sigmas interpolated at the (float) timesteps, input scaled by
// 1/sqrt(σ² + 1), one Euler step per model call.
import { CheckpointError } from '../../../io/checkpoint.js';
import { alphasCumprodOf, betasOf, karrasSigmas, npLinspace, roundHalfEven, schedulerConfig, sigmaToT, type Scheduler, type SchedulerConfig, type StepOutput } from './common.js';

const fr = Math.fround;

export class EulerDiscreteScheduler implements Scheduler {
  readonly config: SchedulerConfig;
  readonly alphasCumprod: Float64Array;
  timesteps: number[] = [];
  /** float32 σ per timestep, then 0. */
  sigmas: number[] = [];
  private readonly trainSigmas: Float64Array;

  constructor(raw: Record<string, any>) {
    this.config = schedulerConfig(raw, { timestep_spacing: 'linspace', interpolation_type: 'linear', use_karras_sigmas: false });
    if (this.config.interpolation_type !== 'linear') throw new CheckpointError(`scheduler_config.json: interpolation_type ${JSON.stringify(this.config.interpolation_type)} is not supported (linear)`);
    this.alphasCumprod = alphasCumprodOf(betasOf(this.config));
    // ((1 − ᾱ) / ᾱ) ** 0.5 on the float32 tensor.
    this.trainSigmas = this.alphasCumprod.map((a) => fr(Math.sqrt(fr(fr(1 - a) / a))));
    this.sigmas = [...this.trainSigmas].reverse().concat(0);
  }

  get initNoiseSigma(): number {
    const max = Math.max(...this.sigmas);
    return this.config.timestep_spacing === 'leading' ? fr(Math.sqrt(fr(fr(max * max) + 1))) : max;
  }

  setTimesteps(n: number): void {
    const c = this.config;
    const T = c.num_train_timesteps;
    if (!Number.isInteger(n) || n < 1 || n > T) throw new RangeError(`steps must be an integer in [1, ${T}], got ${n}`);
    let ts: number[];
    if (c.timestep_spacing === 'linspace') ts = npLinspace(0, T - 1, n).reverse();
    else if (c.timestep_spacing === 'leading') {
      const ratio = Math.floor(T / n);
      ts = Array.from({ length: n }, (_, i) => i * ratio + c.steps_offset).reverse();
    } else {
      const ratio = T / n;
      ts = Array.from({ length: Math.ceil(T / ratio) }, (_, i) => roundHalfEven(T - i * ratio) - 1);
    }
    // np.interp(timesteps, arange(T), sigmas) in float64, then float32.
    const s = this.trainSigmas;
    let sig = ts.map((t) => {
      if (t <= 0) return s[0]!;
      if (t >= T - 1) return s[T - 1]!;
      const i = Math.floor(t);
      const w = t - i;
      return w === 0 ? s[i]! : s[i]! + (s[i + 1]! - s[i]!) * w;
    });
    if (c.use_karras_sigmas) {
      // Karras σ between the interpolated extremes; timesteps = their fractional training steps.
      const logS = Array.from(s, (x) => fr(Math.log(x)));
      sig = karrasSigmas(sig[0]!, sig[sig.length - 1]!, n);
      ts = sig.map((x) => sigmaToT(x, logS));
    }
    this.sigmas = sig.map(fr).concat(0);
    this.timesteps = ts;
  }

  private indexOf(t: number): number {
    const i = this.timesteps.indexOf(t);
    if (i < 0) throw new RangeError(`EulerDiscreteScheduler: timestep ${t} is not one of the scheduler's timesteps`);
    return i;
  }

  scaleModelInput(sample: Float32Array, t: number): Float32Array {
    const sigma = this.sigmas[this.indexOf(t)]!;
    const d = fr(Math.sqrt(fr(fr(sigma * sigma) + 1)));
    return sample.map((x) => fr(x / d));
  }

  step(modelOutput: Float32Array, t: number, sample: Float32Array): StepOutput {
    if (modelOutput.length !== sample.length) throw new RangeError(`scheduler: model output has ${modelOutput.length} values, sample ${sample.length}`);
    const k = this.indexOf(t);
    const sigma = this.sigmas[k]!;
    const sigmaHat = sigma; // gamma = 0 (s_churn 0)
    const dt = fr(this.sigmas[k + 1]! - sigmaHat);
    const s2p1 = fr(fr(sigma * sigma) + 1);
    const vCoeff = fr(-sigma / fr(Math.sqrt(s2p1)));
    const p = this.config.prediction_type;
    const x0 = new Float32Array(sample.length);
    const prev = new Float32Array(sample.length);
    for (let i = 0; i < sample.length; i++) {
      const m = modelOutput[i]!, s = sample[i]!;
      const po = p === 'sample' ? m : p === 'epsilon' ? fr(s - fr(sigmaHat * m)) : fr(fr(m * vCoeff) + fr(s / s2p1));
      x0[i] = po;
      const deriv = fr(fr(s - po) / sigmaHat);
      prev[i] = fr(s + fr(deriv * dt));
    }
    return { prevSample: prev, predOriginalSample: x0 };
  }
}
