// What the diffusers 0.20.2 schedulers share: the config fields, the beta schedules computed as
// torch computes them in float32 (torch.linspace's split start/end halves, cumprod accumulated
// in double), timestep spacings, and float32 arithmetic helpers (PyTorch rounds every tensor op
// to float32; Math.fround after each op reproduces that).
import { CheckpointError } from '../../../io/checkpoint.js';

const fr = Math.fround;

export type PredictionType = 'epsilon' | 'v_prediction' | 'sample';

/** Config fields read by the schedulers (scheduler_config.json; diffusers' defaults when absent). */
export interface SchedulerConfig {
  _class_name?: string;
  num_train_timesteps: number;
  beta_start: number;
  beta_end: number;
  beta_schedule: string;
  trained_betas: number[] | null;
  prediction_type: PredictionType;
  set_alpha_to_one: boolean;
  skip_prk_steps: boolean;
  steps_offset: number;
  timestep_spacing: 'leading' | 'linspace' | 'trailing';
  clip_sample: boolean;
  clip_sample_range: number;
  thresholding: boolean;
  rescale_betas_zero_snr: boolean;
  [k: string]: unknown;
}

export interface StepOutput {
  prevSample: Float32Array;
  predOriginalSample?: Float32Array;
}

/** The interface the pipelines drive: diffusers' set_timesteps / scale_model_input / step. */
export interface Scheduler {
  readonly config: SchedulerConfig;
  /** After setTimesteps: one entry per model call (PNDM with skip_prk_steps: N + 1). */
  timesteps: number[];
  readonly initNoiseSigma: number;
  setTimesteps(numInferenceSteps: number): void;
  scaleModelInput(sample: Float32Array, t: number): Float32Array;
  step(modelOutput: Float32Array, t: number, sample: Float32Array): StepOutput;
}

/** The config with diffusers' per-class defaults filled in and the fields checked. */
export function schedulerConfig(raw: Record<string, any>, defaults: Partial<SchedulerConfig>): SchedulerConfig {
  const c = { ...defaults, ...Object.fromEntries(Object.entries(raw).filter(([, v]) => v !== undefined)) } as SchedulerConfig;
  const base: Partial<SchedulerConfig> = {
    num_train_timesteps: 1000, beta_start: 0.0001, beta_end: 0.02, beta_schedule: 'linear', trained_betas: null,
    prediction_type: 'epsilon', steps_offset: 0, timestep_spacing: 'leading', clip_sample: false, clip_sample_range: 1,
    thresholding: false, rescale_betas_zero_snr: false, set_alpha_to_one: false, skip_prk_steps: false,
  };
  for (const [k, v] of Object.entries(base)) if ((c as any)[k] === undefined || (c as any)[k] === null && k !== 'trained_betas') (c as any)[k] = v;
  const what = `scheduler_config.json (${c._class_name ?? 'scheduler'})`;
  if (!['epsilon', 'v_prediction', 'sample'].includes(c.prediction_type)) {
    throw new CheckpointError(`${what}: prediction_type ${JSON.stringify(c.prediction_type)} is not epsilon, v_prediction or sample`);
  }
  if (!['leading', 'linspace', 'trailing'].includes(c.timestep_spacing)) {
    throw new CheckpointError(`${what}: timestep_spacing ${JSON.stringify(c.timestep_spacing)} is not leading, linspace or trailing`);
  }
  if (c.thresholding) throw new CheckpointError(`${what}: thresholding is not supported`);
  if (c.rescale_betas_zero_snr) throw new CheckpointError(`${what}: rescale_betas_zero_snr is not supported`);
  if (!Number.isInteger(c.num_train_timesteps) || c.num_train_timesteps < 2) throw new CheckpointError(`${what}: num_train_timesteps must be an integer ≥ 2`);
  return c;
}

/**
 * torch.linspace(start, end, steps) in float32 (round = Math.fround) or float64 (identity), as
 * ATen's CPU kernel computes it: below the halfway index `start + step·i`, from there on
 * `end − step·(steps − 1 − i)`, each rounded once (fused multiply-add; checked bit-exact against
 * torch 2.13 for the SD beta ranges in float32).
 */
export function torchLinspace(start: number, end: number, steps: number, round: (x: number) => number = fr): Float64Array {
  const out = new Float64Array(steps);
  const s = round(start), e = round(end);
  if (steps === 1) {
    out[0] = s;
    return out;
  }
  const step = round(round(e - s) / (steps - 1));
  const half = Math.floor(steps / 2);
  // step·i is exact in double for a float32 step and i < 2^29, so one rounding = the FMA's.
  for (let i = 0; i < steps; i++) out[i] = i < half ? round(s + step * i) : round(e - step * (steps - i - 1));
  return out;
}

/** diffusers' betas_for_alpha_bar (cosine, max_beta 0.999), float64 then float32. */
function betasForAlphaBar(n: number, maxBeta = 0.999): Float64Array {
  const f = (t: number) => Math.cos(((t + 0.008) / 1.008) * Math.PI / 2) ** 2;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = fr(Math.min(1 - f((i + 1) / n) / f(i / n), maxBeta));
  return out;
}

/** betas (float32 values) of the config's beta_schedule, as diffusers computes them. */
export function betasOf(c: SchedulerConfig): Float64Array {
  const n = c.num_train_timesteps;
  if (c.trained_betas) return Float64Array.from(c.trained_betas, fr);
  switch (c.beta_schedule) {
    case 'linear':
      return torchLinspace(c.beta_start, c.beta_end, n);
    case 'scaled_linear':
      return torchLinspace(Math.sqrt(c.beta_start), Math.sqrt(c.beta_end), n).map((x) => fr(x * x));
    case 'squaredcos_cap_v2':
      return betasForAlphaBar(n);
    default:
      throw new CheckpointError(`scheduler_config.json: beta_schedule ${JSON.stringify(c.beta_schedule)} is not supported (linear, scaled_linear, squaredcos_cap_v2)`);
  }
}

/** alphas_cumprod in float32: torch.cumprod multiplies in double and rounds each output. */
export function alphasCumprodOf(betas: Float64Array): Float64Array {
  const out = new Float64Array(betas.length);
  let acc = 1;
  for (let i = 0; i < betas.length; i++) {
    acc *= fr(1 - betas[i]!);
    out[i] = fr(acc);
  }
  return out;
}

/** numpy round-half-to-even, as np.round / ndarray.round. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** np.linspace(start, stop, num) in float64 (numpy's formula: start + i·step, last = stop). */
export function npLinspace(start: number, stop: number, num: number): number[] {
  if (num === 1) return [start];
  const step = (stop - start) / (num - 1);
  return Array.from({ length: num }, (_, i) => (i === num - 1 ? stop : start + i * step));
}

/** The descending training timesteps for `steps` inference steps (DDIM / Euler / PNDM spacing rules). */
export function spacedTimesteps(c: SchedulerConfig, steps: number): number[] {
  const T = c.num_train_timesteps;
  if (!Number.isInteger(steps) || steps < 1 || steps > T) throw new RangeError(`steps must be an integer in [1, ${T}], got ${steps}`);
  switch (c.timestep_spacing) {
    case 'linspace':
      return npLinspace(0, T - 1, steps).map(roundHalfEven).reverse();
    case 'leading': {
      const ratio = Math.floor(T / steps);
      return Array.from({ length: steps }, (_, i) => i * ratio + c.steps_offset).reverse();
    }
    case 'trailing': {
      const ratio = T / steps;
      // np.arange(T, 0, -ratio): ceil(T / ratio) values T − i·ratio.
      return Array.from({ length: Math.ceil(T / ratio) }, (_, i) => roundHalfEven(T - i * ratio) - 1);
    }
  }
}

/** Elementwise float32 map over equal-length arrays. */
export function map2(a: Float32Array, b: Float32Array, f: (x: number, y: number) => number): Float32Array {
  if (a.length !== b.length) throw new RangeError(`scheduler: model output has ${a.length} values, sample ${b.length}`);
  const out = new Float32Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = f(a[i]!, b[i]!);
  return out;
}

/**
 * diffusers' _convert_to_karras (Karras et al. 2022, rho 7), float64: sigmas from
 * `first` = in_sigmas[0] to `last` = in_sigmas[-1] (the names in diffusers are swapped when
 * in_sigmas ascends, as in DPMSolverMultistep; the formula is the same).
 */
export function karrasSigmas(first: number, last: number, n: number): number[] {
  const rho = 7;
  const minInv = last ** (1 / rho);
  const maxInv = first ** (1 / rho);
  return npLinspace(0, 1, n).map((r) => (maxInv + r * (minInv - maxInv)) ** rho);
}

/**
 * diffusers' _sigma_to_t: the fractional training timestep of `sigma` by linear interpolation in
 * log σ. `logSigmas` ascending (float32 values: numpy's log of the float32 σ table).
 */
export function sigmaToT(sigma: number, logSigmas: ArrayLike<number>): number {
  const n = logSigmas.length;
  const ls = Math.log(sigma);
  // cumsum(dists >= 0).argmax(): the last index whose log σ ≤ log sigma (0 when none), ≤ n − 2.
  let low = 0;
  for (let i = 0; i < n; i++) if (ls - logSigmas[i]! >= 0) low = i;
  low = Math.min(low, n - 2);
  const lo = logSigmas[low]!, hi = logSigmas[low + 1]!;
  let w = (lo - ls) / fr(lo - hi);
  w = Math.min(1, Math.max(0, w));
  return (1 - w) * low + w * (low + 1);
}
