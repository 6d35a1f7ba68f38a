// DPMSolverMultistepScheduler (diffusers 0.20.2 scheduling_dpmsolver_multistep.py):
// DPM-Solver++ (2M by default: solver_order 2, midpoint), data prediction, lower-order final
// steps below 15 steps. float32 tensors as in torch; the SDE variants and Karras sigmas are not here.
import { CheckpointError } from '../../../io/checkpoint.js';
import { alphasCumprodOf, betasOf, karrasSigmas, npLinspace, roundHalfEven, schedulerConfig, sigmaToT, type Scheduler, type SchedulerConfig, type StepOutput } from './common.js';

const fr = Math.fround;

export class DPMSolverMultistepScheduler implements Scheduler {
  readonly config: SchedulerConfig;
  readonly alphasCumprod: Float64Array;
  readonly initNoiseSigma = 1;
  timesteps: number[] = [];
  private readonly alphaT: Float64Array;
  private readonly sigmaT: Float64Array;
  private readonly lambdaT: Float64Array;
  private readonly order: number;
  private modelOutputs: (Float32Array | null)[];
  private lowerOrderNums = 0;

  constructor(raw: Record<string, any>) {
    this.config = schedulerConfig(raw, {
      solver_order: 2, algorithm_type: 'dpmsolver++', solver_type: 'midpoint', lower_order_final: true,
      use_karras_sigmas: false, timestep_spacing: 'linspace', lambda_min_clipped: -Infinity, variance_type: null,
    });
    const c = this.config;
    const algo = c.algorithm_type === 'deis' ? 'dpmsolver++' : c.algorithm_type;
    if (algo !== 'dpmsolver++' && algo !== 'dpmsolver') throw new CheckpointError(`scheduler_config.json: algorithm_type ${JSON.stringify(c.algorithm_type)} is not supported (dpmsolver++, dpmsolver)`);
    c.algorithm_type = algo;
    if (['logrho', 'bh1', 'bh2'].includes(c.solver_type as string)) c.solver_type = 'midpoint';
    if (c.solver_type !== 'midpoint' && c.solver_type !== 'heun') throw new CheckpointError(`scheduler_config.json: solver_type ${JSON.stringify(c.solver_type)} is not midpoint or heun`);
    if (c.variance_type === 'learned' || c.variance_type === 'learned_range') throw new CheckpointError('scheduler_config.json: learned variance is not supported');
    this.order = c.solver_order as number;
    if (![1, 2, 3].includes(this.order)) throw new CheckpointError(`scheduler_config.json: solver_order ${this.order} is not 1, 2 or 3`);
    this.alphasCumprod = alphasCumprodOf(betasOf(c));
    this.alphaT = this.alphasCumprod.map((a) => fr(Math.sqrt(a)));
    this.sigmaT = this.alphasCumprod.map((a) => fr(Math.sqrt(fr(1 - a))));
    this.lambdaT = this.alphaT.map((a, i) => fr(fr(Math.log(a)) - fr(Math.log(this.sigmaT[i]!))));
    this.modelOutputs = new Array(this.order).fill(null);
  }

  setTimesteps(n: number): void {
    const c = this.config;
    const T = c.num_train_timesteps;
    if (!Number.isInteger(n) || n < 1 || n > T) throw new RangeError(`steps must be an integer in [1, ${T}], got ${n}`);
    // searchsorted(flip(lambda_t), lambda_min_clipped): how many λ (ascending) lie below the clip.
    const minL = c.lambda_min_clipped as number;
    let clipped = 0;
    for (let i = T - 1; i >= 0 && this.lambdaT[i]! < minL; i--) clipped++;
    const last = T - clipped;
    let ts: number[];
    if (c.timestep_spacing === 'linspace') ts = npLinspace(0, last - 1, n + 1).map(roundHalfEven).reverse().slice(0, -1);
    else if (c.timestep_spacing === 'leading') {
      const ratio = Math.floor(last / (n + 1));
      ts = Array.from({ length: n + 1 }, (_, i) => i * ratio).reverse().slice(0, -1).map((t) => t + c.steps_offset);
    } else {
      const ratio = T / n;
      ts = Array.from({ length: Math.ceil(last / ratio) }, (_, i) => roundHalfEven(last - i * ratio) - 1);
    }
    if (c.use_karras_sigmas) {
      // 0.20.2: Karras σ over the training σ table, mapped back to (rounded) timesteps; the solver
      // still steps between those timesteps' ᾱ.
      const sig = this.alphasCumprod.map((a) => fr(Math.sqrt(fr(fr(1 - a) / a))));
      const logS = sig.map((x) => fr(Math.log(x)));
      ts = karrasSigmas(sig[0]!, sig[T - 1]!, n).map((x) => roundHalfEven(sigmaToT(x, logS))).reverse();
    }
    // np.unique(..., return_index) keeps the first occurrence of each value, in order.
    this.timesteps = ts.filter((t, i) => ts.indexOf(t) === i);
    this.modelOutputs = new Array(this.order).fill(null);
    this.lowerOrderNums = 0;
  }

  scaleModelInput(sample: Float32Array): Float32Array {
    return sample;
  }

  /** The model output as x0 (dpmsolver++) or ε (dpmsolver). */
  private convert(m: Float32Array, t: number, sample: Float32Array): Float32Array {
    const a = this.alphaT[t]!, s = this.sigmaT[t]!;
    const p = this.config.prediction_type;
    const out = new Float32Array(m.length);
    for (let i = 0; i < m.length; i++) {
      const x = sample[i]!, y = m[i]!;
      if (this.config.algorithm_type === 'dpmsolver++') {
        out[i] = p === 'epsilon' ? fr(fr(x - fr(s * y)) / a) : p === 'sample' ? y : fr(fr(a * x) - fr(s * y));
      } else {
        out[i] = p === 'epsilon' ? y : p === 'sample' ? fr(fr(x - fr(a * y)) / s) : fr(fr(a * y) + fr(s * x));
      }
    }
    return out;
  }

  step(modelOutput: Float32Array, t: number, sample: Float32Array): StepOutput {
    if (!this.timesteps.length) throw new Error('DPMSolverMultistepScheduler.step before setTimesteps');
    if (modelOutput.length !== sample.length) throw new RangeError(`scheduler: model output has ${modelOutput.length} values, sample ${sample.length}`);
    const ts = this.timesteps;
    let k = ts.indexOf(t);
    if (k < 0) k = ts.length - 1;
    const prevT = k === ts.length - 1 ? 0 : ts[k + 1]!;
    const lof = this.config.lower_order_final && ts.length < 15;
    const lowerFinal = k === ts.length - 1 && lof;
    const lowerSecond = k === ts.length - 2 && lof;
    const m = this.convert(modelOutput, t, sample);
    this.modelOutputs.shift();
    this.modelOutputs.push(m);
    let prev: Float32Array;
    if (this.order === 1 || this.lowerOrderNums < 1 || lowerFinal) prev = this.firstOrder(m, t, prevT, sample);
    else if (this.order === 2 || this.lowerOrderNums < 2 || lowerSecond) prev = this.secondOrder([ts[k - 1]!, t], prevT, sample);
    else prev = this.thirdOrder([ts[k - 2]!, ts[k - 1]!, t], prevT, sample);
    if (this.lowerOrderNums < this.order) this.lowerOrderNums++;
    return { prevSample: prev };
  }

  private firstOrder(m: Float32Array, s: number, t: number, x: Float32Array): Float32Array {
    const h = fr(this.lambdaT[t]! - this.lambdaT[s]!);
    const out = new Float32Array(x.length);
    if (this.config.algorithm_type === 'dpmsolver++') {
      const c1 = fr(this.sigmaT[t]! / this.sigmaT[s]!), c2 = fr(this.alphaT[t]! * fr(fr(Math.exp(-h)) - 1));
      for (let i = 0; i < x.length; i++) out[i] = fr(fr(c1 * x[i]!) - fr(c2 * m[i]!));
    } else {
      const c1 = fr(this.alphaT[t]! / this.alphaT[s]!), c2 = fr(this.sigmaT[t]! * fr(fr(Math.exp(h)) - 1));
      for (let i = 0; i < x.length; i++) out[i] = fr(fr(c1 * x[i]!) - fr(c2 * m[i]!));
    }
    return out;
  }

  private secondOrder([s1, s0]: number[], t: number, x: Float32Array): Float32Array {
    const [m1, m0] = this.modelOutputs.slice(-2) as [Float32Array, Float32Array];
    const L = this.lambdaT;
    const h = fr(L[t]! - L[s0!]!), h0 = fr(L[s0!]! - L[s1!]!);
    const r0 = fr(h0 / h);
    const inv = fr(1 / r0);
    const pp = this.config.algorithm_type === 'dpmsolver++';
    const heun = this.config.solver_type === 'heun';
    const c1 = pp ? fr(this.sigmaT[t]! / this.sigmaT[s0!]!) : fr(this.alphaT[t]! / this.alphaT[s0!]!);
    const e = pp ? fr(fr(Math.exp(-h)) - 1) : fr(fr(Math.exp(h)) - 1);
    const c2 = pp ? fr(this.alphaT[t]! * e) : fr(this.sigmaT[t]! * e);
    // midpoint: − 0.5·c2·D1; heun: ± (coef)·D1, signs as in diffusers.
    const c3 = heun
      ? pp ? fr(this.alphaT[t]! * fr(fr(e / h) + 1)) : fr(-fr(this.sigmaT[t]! * fr(fr(e / h) - 1)))
      : fr(-fr(0.5 * c2));
    const out = new Float32Array(x.length);
    for (let i = 0; i < x.length; i++) {
      const d1 = fr(inv * fr(m0[i]! - m1[i]!));
      out[i] = fr(fr(fr(c1 * x[i]!) - fr(c2 * m0[i]!)) + fr(c3 * d1));
    }
    return out;
  }

  private thirdOrder([s2, s1, s0]: number[], t: number, x: Float32Array): Float32Array {
    const [m2, m1, m0] = this.modelOutputs.slice(-3) as [Float32Array, Float32Array, Float32Array];
    const L = this.lambdaT;
    const h = fr(L[t]! - L[s0!]!), h0 = fr(L[s0!]! - L[s1!]!), h1 = fr(L[s1!]! - L[s2!]!);
    const r0 = fr(h0 / h), r1 = fr(h1 / h);
    const pp = this.config.algorithm_type === 'dpmsolver++';
    const c1 = pp ? fr(this.sigmaT[t]! / this.sigmaT[s0!]!) : fr(this.alphaT[t]! / this.alphaT[s0!]!);
    const e = pp ? fr(fr(Math.exp(-h)) - 1) : fr(fr(Math.exp(h)) - 1);
    const w = pp ? this.alphaT[t]! : this.sigmaT[t]!;
    const c2 = fr(w * e);
    const c3 = pp ? fr(w * fr(fr(e / h) + 1)) : fr(-fr(w * fr(fr(e / h) - 1)));
    const c4 = pp ? fr(-fr(w * fr(fr(fr(e + h) / fr(h * h)) - 0.5))) : fr(-fr(w * fr(fr(fr(e - h) / fr(h * h)) - 0.5)));
    const a0 = fr(1 / r0), a1 = fr(1 / r1), b = fr(r0 / fr(r0 + r1)), c = fr(1 / fr(r0 + r1));
    const out = new Float32Array(x.length);
    for (let i = 0; i < x.length; i++) {
      const d10 = fr(a0 * fr(m0[i]! - m1[i]!)), d11 = fr(a1 * fr(m1[i]! - m2[i]!));
      const d1 = fr(d10 + fr(b * fr(d10 - d11)));
      const d2 = fr(c * fr(d10 - d11));
      out[i] = fr(fr(fr(fr(c1 * x[i]!) - fr(c2 * m0[i]!)) + fr(c3 * d1)) + fr(c4 * d2));
    }
    return out;
  }
}
