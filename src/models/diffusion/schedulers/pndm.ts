// PNDMScheduler (diffusers 0.20.2 scheduling_pndm.py) with skip_prk_steps, the sampler of the
// Stable Diffusion 1.x / 2.x / 2.1-unCLIP repos: linear multistep (PLMS) whose first step is a
// pseudo improved Euler step, so N steps are N + 1 model calls (the second timestep repeats).
import { CheckpointError } from '../../../io/checkpoint.js';
import { alphasCumprodOf, betasOf, map2, schedulerConfig, spacedTimesteps, type Scheduler, type SchedulerConfig, type StepOutput } from './common.js';

const fr = Math.fround;

export class PNDMScheduler implements Scheduler {
  readonly config: SchedulerConfig;
  readonly alphasCumprod: Float64Array;
  readonly initNoiseSigma = 1;
  timesteps: number[] = [];
  private finalAlphaCumprod: number;
  private numInferenceSteps = 0;
  private ets: Float32Array[] = [];
  private counter = 0;
  private curSample: Float32Array | null = null;

  constructor(raw: Record<string, any>) {
    this.config = schedulerConfig(raw, { skip_prk_steps: false, set_alpha_to_one: false, timestep_spacing: 'leading' });
    if (!this.config.skip_prk_steps) {
      throw new CheckpointError('scheduler_config.json: PNDMScheduler with skip_prk_steps false (Runge-Kutta warm-up) is not supported; the Stable Diffusion repos set it true');
    }
    if (this.config.prediction_type === 'sample') throw new CheckpointError('scheduler_config.json: PNDMScheduler supports prediction_type epsilon or v_prediction');
    this.alphasCumprod = alphasCumprodOf(betasOf(this.config));
    this.finalAlphaCumprod = this.config.set_alpha_to_one ? 1 : this.alphasCumprod[0]!;
  }

  setTimesteps(n: number): void {
    // Ascending, as PNDM's _timesteps; the spacing rules are DDIM's.
    const asc = spacedTimesteps(this.config, n).reverse();
    this.numInferenceSteps = n;
    // skip_prk_steps: [..., t_{n-2}, t_{n-2}, t_{n-1}] reversed — the second timestep repeats.
    this.timesteps = [...asc.slice(0, -1), ...asc.slice(-2, -1), ...asc.slice(-1)].reverse();
    this.ets = [];
    this.counter = 0;
    this.curSample = null;
  }

  scaleModelInput(sample: Float32Array): Float32Array {
    return sample;
  }

  step(modelOutput: Float32Array, t: number, sample: Float32Array): StepOutput {
    if (!this.numInferenceSteps) throw new Error('PNDMScheduler.step before setTimesteps');
    const ratio = Math.floor(this.config.num_train_timesteps / this.numInferenceSteps);
    let timestep = t;
    let prevTimestep = t - ratio;
    if (this.counter !== 1) {
      this.ets = this.ets.slice(-3);
      this.ets.push(modelOutput);
    } else {
      prevTimestep = t;
      timestep = t + ratio;
    }
    const e = this.ets;
    let m: Float32Array;
    if (e.length === 1 && this.counter === 0) {
      m = modelOutput;
      this.curSample = sample;
    } else if (e.length === 1 && this.counter === 1) {
      m = map2(modelOutput, e[0]!, (a, b) => fr(fr(a + b) / 2));
      sample = this.curSample!;
      this.curSample = null;
    } else if (e.length === 2) {
      m = map2(e[1]!, e[0]!, (a, b) => fr(fr(fr(3 * a) - b) / 2));
    } else if (e.length === 3) {
      const [e3, e2, e1] = e as [Float32Array, Float32Array, Float32Array];
      m = new Float32Array(e1.length);
      for (let i = 0; i < m.length; i++) m[i] = fr(fr(fr(fr(23 * e1[i]!) - fr(16 * e2[i]!)) + fr(5 * e3[i]!)) / 12);
    } else {
      const [e4, e3, e2, e1] = e as [Float32Array, Float32Array, Float32Array, Float32Array];
      m = new Float32Array(e1.length);
      for (let i = 0; i < m.length; i++) {
        m[i] = fr(fr(1 / 24) * fr(fr(fr(fr(55 * e1[i]!) - fr(59 * e2[i]!)) + fr(37 * e3[i]!)) - fr(9 * e4[i]!)));
      }
    }
    const prev = this.prevSample(sample, timestep, prevTimestep, m);
    this.counter++;
    return { prevSample: prev };
  }

  /** Formula (9) of the PNDM paper, in float32 as torch evaluates it. */
  private prevSample(sample: Float32Array, t: number, prevT: number, modelOutput: Float32Array): Float32Array {
    const at = this.alphasCumprod[t]!;
    const aPrev = prevT >= 0 ? this.alphasCumprod[prevT]! : this.finalAlphaCumprod;
    const bt = fr(1 - at);
    const bPrev = fr(1 - aPrev);
    const v = this.config.prediction_type === 'v_prediction';
    const sa = fr(Math.sqrt(at)), sb = fr(Math.sqrt(bt));
    const sampleCoeff = fr(Math.sqrt(fr(aPrev / at)));
    const denom = fr(fr(at * fr(Math.sqrt(bPrev))) + fr(Math.sqrt(fr(fr(at * bt) * aPrev))));
    const diff = fr(aPrev - at);
    return map2(modelOutput, sample, (mo, s) => {
      const eps = v ? fr(fr(sa * mo) + fr(sb * s)) : mo;
      return fr(fr(sampleCoeff * s) - fr(fr(diff * eps) / denom));
    });
  }
}
