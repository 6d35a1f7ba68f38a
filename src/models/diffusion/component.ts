// One component folder of a diffusers pipeline (unet/, vae/, …): config.json and the weights
// file diffusers' save_pretrained writes (diffusion_pytorch_model[.variant].safetensors).
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CheckpointError, WeightStore } from '../../io/checkpoint.js';

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
  let cfg: Record<string, any>;
  try {
    cfg = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new CheckpointError(`${path}: not valid JSON (${(e as Error).message})`);
  }
  if (cfg._class_name !== undefined && cfg._class_name !== expectedClass) {
    throw new CheckpointError(`${path}: _class_name is ${JSON.stringify(cfg._class_name)}, expected "${expectedClass}"`);
  }
  return cfg;
}

export function openDiffusersComponent(dirIn: string, expectedClass: string, opts: ComponentOptions = {}): DiffusersComponent {
  const dir = resolve(dirIn);
  if (!existsSync(dir)) throw new CheckpointError(`${expectedClass} folder ${dirIn} does not exist`);
  const config = readComponentConfig(dir, expectedClass);
  const stem = opts.variant ? `diffusion_pytorch_model.${opts.variant}` : 'diffusion_pytorch_model';
  const st = join(dir, `${stem}.safetensors`);
  const index = join(dir, `${stem}.safetensors.index.json`);
  let store: WeightStore;
  if (existsSync(st)) store = WeightStore.fromFiles([st]);
  else if (existsSync(index)) store = shardedStore(dir, index);
  else if (existsSync(join(dir, `${stem}.bin`))) {
    throw new CheckpointError(`${dirIn}: only ${stem}.bin (a PyTorch pickle) is present; tsvlm reads ${stem}.safetensors`);
  } else {
    throw new CheckpointError(`${dirIn}: no ${stem}.safetensors${opts.variant ? '' : ' (for half-precision weights pass the variant "fp16")'}`);
  }
  return { dir, config, store, weightsFile: existsSync(st) ? st : index };
}

function shardedStore(dir: string, index: string): WeightStore {
  let map: Record<string, string>;
  try {
    map = JSON.parse(readFileSync(index, 'utf8')).weight_map;
  } catch (e) {
    throw new CheckpointError(`${index}: not valid JSON (${(e as Error).message})`);
  }
  if (!map || typeof map !== 'object') throw new CheckpointError(`${index}: no weight_map`);
  return WeightStore.fromFiles([...new Set(Object.values(map))].map((s) => join(dir, s)));
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
