// Schedulers by diffusers class name or short name, built from a scheduler_config.json object.
// Like diffusers' SchedulerClass.from_config(other.config): keys the class does not know are
// ignored, missing ones take the class defaults.
import { CheckpointError } from '../../../io/checkpoint.js';
import type { Scheduler } from './common.js';
import { DDIMScheduler } from './ddim.js';
import { DPMSolverMultistepScheduler } from './dpm_solver_multistep.js';
import { EulerDiscreteScheduler } from './euler_discrete.js';
import { PNDMScheduler } from './pndm.js';
import { PLMSSampler } from './plms.js';

export type { Scheduler, SchedulerConfig, StepOutput } from './common.js';
export { DDIMScheduler, DPMSolverMultistepScheduler, EulerDiscreteScheduler, PNDMScheduler, PLMSSampler };

const CLASSES: Record<string, new (cfg: Record<string, any>) => Scheduler> = {
  PNDMScheduler,
  DDIMScheduler,
  DPMSolverMultistepScheduler,
  EulerDiscreteScheduler,
  PLMSSampler,
};

/** Short names for --scheduler: a class, and config fields set on top of the folder's. */
export const SCHEDULER_NAMES: Record<string, string> = {
  pndm: 'PNDMScheduler',
  plms: 'PLMSSampler',
  ddim: 'DDIMScheduler',
  dpmpp2m: 'DPMSolverMultistepScheduler',
  'dpm++2m': 'DPMSolverMultistepScheduler',
  'dpmpp2m-karras': 'DPMSolverMultistepScheduler',
  euler: 'EulerDiscreteScheduler',
  'euler-karras': 'EulerDiscreteScheduler',
};

const NAME_OVERRIDES: Record<string, Record<string, unknown>> = {
  'dpmpp2m-karras': { use_karras_sigmas: true },
  'euler-karras': { use_karras_sigmas: true },
};

/**
 * A scheduler from a config: `kind` (a class or short name) overrides the config's _class_name,
 * taking the other fields from the config as from_config does.
 */
export function createScheduler(config: Record<string, any>, kind?: string): Scheduler {
  const key = kind?.toLowerCase();
  const cls = kind ? (key && Object.hasOwn(SCHEDULER_NAMES, key) ? SCHEDULER_NAMES[key] : kind) : config._class_name;
  const Ctor = typeof cls === 'string' && Object.hasOwn(CLASSES, cls) ? CLASSES[cls] : undefined;
  if (!Ctor) {
    const names = [...Object.keys(SCHEDULER_NAMES), ...Object.keys(CLASSES)].join(', ');
    throw new CheckpointError(`scheduler ${JSON.stringify(kind ?? cls)} is not supported (use one of ${names})`);
  }
  const { _class_name: _c, ...rest } = config;
  const extra = key && Object.hasOwn(NAME_OVERRIDES, key) ? NAME_OVERRIDES[key] : {};
  return new Ctor({ ...rest, ...extra, _class_name: cls });
}
