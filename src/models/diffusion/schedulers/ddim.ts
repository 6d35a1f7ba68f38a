// DDIMScheduler (diffusers 0.20.2 scheduling_ddim.py), deterministic (eta = 0) as the pipelines
// call it: x0 and ε from the model output, then the DDIM update, in float32 as torch evaluates it.
import { CheckpointError } from '../../../io/checkpoint.js';
import { alphasCumprodOf, betasOf, schedulerConfig, spacedTimesteps, type Scheduler, type SchedulerConfig, type StepOutput } from './common.js';

const fr = Math.fround;

export class DDIMScheduler implements Scheduler {
  readonly config: SchedulerConfig;
  readonly alphasCumprod: Float64Array;
  readonly initNoiseSigma = 1;
  timesteps: number[] = [];
  private finalAlphaCumprod: number;
  private numInferenceSteps = 0;

  constructor(raw: Record<string, any>) {
    this.config = schedulerConfig(raw, { clip_sample: true, set_alpha_to_one: true, timestep_spacing: 'leading' });
    this.alphasCumprod = alphasCumprodOf(betasOf(this.config));
    this.finalAlphaCumprod = this.config.set_alpha_to_one ? 1 : this.alphasCumprod[0]!;
    if (this.config.clip_sample && !(this.config.clip_sample_range > 0)) throw new CheckpointError('scheduler_config.json: clip_sample_range must be > 0');
  }

  setTimesteps(n: number): void {
    this.timesteps = spacedTimesteps(this.config, n);
    this.numInferenceSteps = n;
  }

  scaleModelInput(sample: Float32Array): Float32Array {
    return sample;
  }

  step(modelOutput: Float32Array, t: number, sample: Float32Array): StepOutput {
    if (!this.numInferenceSteps) throw new Error('DDIMScheduler.step before setTimesteps');
    if (modelOutput.length !== sample.length) throw new RangeError(`scheduler: model output has ${modelOutput.length} values, sample ${sample.length}`);
    const c = this.config;
    const prevT = t - Math.floor(c.num_train_timesteps / this.numInferenceSteps);
    const at = this.alphasCumprod[t]!;
    const aPrev = prevT >= 0 ? this.alphasCumprod[prevT]! : this.finalAlphaCumprod;
    const bt = fr(1 - at);
    const sa = fr(Math.sqrt(at)), sb = fr(Math.sqrt(bt));
    const dirCoeff = fr(Math.sqrt(fr(fr(1 - aPrev) - 0))); // std_dev_t = 0 (eta 0)
    const sPrev = fr(Math.sqrt(aPrev));
    const clip = c.clip_sample ? c.clip_sample_range : Infinity;
    const x0 = new Float32Array(sample.length);
    const prev = new Float32Array(sample.length);
    for (let i = 0; i < sample.length; i++) {
      const m = modelOutput[i]!, s = sample[i]!;
      let p: number, eps: number;
      if (c.prediction_type === 'epsilon') {
        p = fr(fr(s - fr(sb * m)) / sa);
        eps = m;
      } else if (c.prediction_type === 'sample') {
        p = m;
        eps = fr(fr(s - fr(sa * p)) / sb);
      } else {
        p = fr(fr(sa * s) - fr(sb * m));
        eps = fr(fr(sa * m) + fr(sb * s));
      }
      p = Math.min(clip, Math.max(-clip, p));
      x0[i] = p;
      prev[i] = fr(fr(sPrev * p) + fr(dirCoeff * eps));
    }
    return { prevSample: prev, predOriginalSample: x0 };
  }
}
