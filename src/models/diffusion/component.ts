// One component folder of a diffusers pipeline (unet/, vae/, …): config.json and the weights
// file diffusers' save_pretrained writes (diffusion_pytorch_model[.variant].safetensors).
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CheckpointError, type WeightStore } from '../../io/checkpoint.js';
import { openComponentWeights, readPythonJsonFile } from './pipeline-folder.js';

export interface ComponentOptions {
  /** Weights variant, e.g. "fp16" → diffusion_pytorch_model.fp16.safetensors. */
  variant?: string;
}

export interface DiffusersComponent {
  dir: string;
  config: Record<string, any>;
  store: WeightStore;
  weightsFile: string;
}

export function readComponentConfig(dir: string, expectedClass: string): Record<string, any> {
  const path = join(dir, 'config.json');
  if (!existsSync(path)) throw new CheckpointError(`${dir}: no config.json (expected a diffusers ${expectedClass} folder)`);
  const cfg = readPythonJsonFile(path);
  if (cfg._class_name !== undefined && cfg._class_name !== expectedClass) {
    throw new CheckpointError(`${path}: _class_name is ${JSON.stringify(cfg._class_name)}, expected "${expectedClass}"`);
  }
  return cfg;
}

export function openDiffusersComponent(dirIn: string, expectedClass: string, opts: ComponentOptions = {}): DiffusersComponent {
  const dir = resolve(dirIn);
  if (!existsSync(dir)) throw new CheckpointError(`${expectedClass} folder ${dirIn} does not exist`);
  const config = readComponentConfig(dir, expectedClass);
  const store = openComponentWeights(dir, opts);
  return { dir, config, store, weightsFile: store.files[0]!.path };
}

/** Config readers whose errors name the field and the component. */
export function cfgNumber(cfg: Record<string, any>, key: string, what: string, fallback?: number): number {
  const v = cfg[key];
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if ((v === undefined || v === null) && fallback !== undefined) return fallback;
  throw new CheckpointError(`${what} config.json: ${key} ${v === undefined ? 'is missing' : `is ${JSON.stringify(v)}, not a number`}`);
}

export function cfgStrings(cfg: Record<string, any>, key: string, what: string): string[] {
  const v = cfg[key];
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v;
  throw new CheckpointError(`${what} config.json: ${key} ${v === undefined ? 'is missing' : `is ${JSON.stringify(v)}, not a list of block names`}`);
}

export function cfgNumbers(cfg: Record<string, any>, key: string, what: string, n?: number): number[] {
  const v = cfg[key];
  if (typeof v === 'number' && n !== undefined) return Array(n).fill(v);
  if (Array.isArray(v) && v.every((x) => typeof x === 'number') && (n === undefined || v.length === n)) return v;
  throw new CheckpointError(`${what} config.json: ${key} is ${JSON.stringify(v)}, expected ${n === undefined ? 'a list of numbers' : `a number or ${n} numbers`}`);
}
