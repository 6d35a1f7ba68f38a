// A Hugging Face model folder: config.json, model.safetensors or a sharded
// model.safetensors.index.json (or the PyTorch pytorch_model.bin equivalents), tokenizer and
// generation files. Only headers (and a .pt's data.pkl) are read here.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { WeightSettings } from '../quant/plan.js';
import { SafetensorsFile, type TensorInfo, readRange, toFloat32, bytesToTyped, type TypedArray } from './safetensors.js';
import { PytorchFile, detectWeightsFormat } from './pytorch.js';

export class CheckpointError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CheckpointError';
  }
}

/** One weights file and its tensors (safetensors or a PyTorch zip archive). */
export interface WeightsFile {
  readonly path: string;
  readonly tensors: Map<string, TensorInfo>;
}

/** Opens a weights file by its magic bytes: safetensors, or a torch.save zip (.pt/.pth/.bin). */
export function openWeightsFile(path: string): WeightsFile {
  if (!existsSync(path)) throw new CheckpointError(`weights file ${path} does not exist`);
  const format = detectWeightsFormat(path);
  if (format === 'safetensors') return SafetensorsFile.open(path);
  if (format === 'pytorch-zip' || format === 'pytorch-legacy') return PytorchFile.open(path);
  throw new CheckpointError(`${path}: neither safetensors nor a PyTorch checkpoint (unrecognised first bytes)`);
}

/** Sharded checkpoints: an index JSON whose weight_map names the shard of every tensor. */
const LAYOUTS = [
  { index: 'model.safetensors.index.json', single: 'model.safetensors' },
  { index: 'pytorch_model.bin.index.json', single: 'pytorch_model.bin' },
];

/** All tensors of a checkpoint, across shards, by name. */
export class WeightStore {
  readonly tensors = new Map<string, TensorInfo>();
  readonly files: WeightsFile[] = [];
  /** How graphs built over this store hold the weights (default fp32 as stored; see src/quant/). */
  weights?: WeightSettings;

  /**
   * A Hugging Face folder: model.safetensors(.index.json), else pytorch_model.bin(.index.json)
   * (safetensors win when both are present, as in transformers).
   */
  static open(dir: string): WeightStore {
    const store = new WeightStore();
    for (const { index: indexName, single: singleName } of LAYOUTS) {
      const index = join(dir, indexName);
      const single = join(dir, singleName);
      if (existsSync(index)) {
        store.addIndex(dir, index);
        return store;
      }
      if (existsSync(single)) {
        store.add(openWeightsFile(single));
        return store;
      }
    }
    throw new CheckpointError(`${dir}: no model.safetensors, pytorch_model.bin or their .index.json (expected a Hugging Face checkpoint folder)`);
  }

  /** A store over explicitly named weights files (safetensors, .pt, .pth, .bin; detected by content). */
  static fromFiles(paths: string[]): WeightStore {
    const store = new WeightStore();
    for (const p of paths) store.add(openWeightsFile(p));
    return store;
  }

  /** A sharded checkpoint from its index JSON (shards resolved in `dir`). */
  static fromIndex(dir: string, index: string): WeightStore {
    const store = new WeightStore();
    store.addIndex(dir, index);
    return store;
  }

  private addIndex(dir: string, index: string): void {
    let map: Record<string, string>;
    try {
      map = JSON.parse(readFileSync(index, 'utf8')).weight_map;
    } catch (e) {
      throw new CheckpointError(`${index}: not valid JSON (${(e as Error).message})`);
    }
    if (!map || typeof map !== 'object') throw new CheckpointError(`${index}: no weight_map`);
    const shards = [...new Set(Object.values(map))];
    for (const shard of shards) {
      const p = join(dir, shard);
      if (typeof shard !== 'string' || shard.includes('..') || !existsSync(p)) throw new CheckpointError(`${index} names shard ${shard}, which is missing from ${dir}`);
      this.add(openWeightsFile(p));
    }
    for (const [name, shard] of Object.entries(map)) {
      const t = this.tensors.get(name);
      if (!t) throw new CheckpointError(`${index} maps ${name} to ${shard}, but that shard has no such tensor`);
    }
  }

  private add(f: WeightsFile): void {
    this.files.push(f);
    for (const [name, t] of f.tensors) this.tensors.set(name, t);
  }

  has(name: string): boolean {
    return this.tensors.has(name);
  }

  get(name: string): TensorInfo {
    const t = this.tensors.get(name);
    if (!t) throw new CheckpointError(`checkpoint has no tensor ${name}`);
    return t;
  }

  /** Checks that every name exists and has the expected shape; one error lists every problem. */
  expect(shapes: Record<string, readonly number[]>): void {
    const problems: string[] = [];
    for (const [name, shape] of Object.entries(shapes)) {
      const t = this.tensors.get(name);
      if (!t) problems.push(`missing tensor ${name}`);
      else if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
        problems.push(`tensor ${name} has shape [${t.shape}], config implies [${shape}]`);
      }
    }
    if (problems.length) {
      const more = problems.length > 8 ? ` (and ${problems.length - 8} more)` : '';
      throw new CheckpointError(`checkpoint does not match config.json: ${problems.slice(0, 8).join('; ')}${more}`);
    }
  }

  readFloat32(name: string): Float32Array {
    const t = this.get(name);
    return toFloat32(readRange(t), t.dtype);
  }

  readTyped(name: string): TypedArray {
    const t = this.get(name);
    return bytesToTyped(readRange(t), t.dtype);
  }
}

export interface ModelFolder {
  dir: string;
  config: Record<string, any>;
  /** Parsed generation_config.json, preprocessor_config.json, tokenizer_config.json when present. */
  generationConfig?: Record<string, any>;
  preprocessorConfig?: Record<string, any>;
  tokenizerConfig?: Record<string, any>;
}

function readJsonIfExists(path: string): Record<string, any> | undefined {
  if (!existsSync(path)) return undefined;
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new CheckpointError(`${path}: not valid JSON (${(e as Error).message})`);
  }
}

export function openModelFolder(dirIn: string): ModelFolder {
  const dir = resolve(dirIn);
  if (!existsSync(dir)) throw new CheckpointError(`model folder ${dirIn} does not exist`);
  if (!statSync(dir).isDirectory()) throw new CheckpointError(`${dirIn} is not a folder (expected a Hugging Face checkpoint folder)`);
  const config = readJsonIfExists(join(dir, 'config.json'));
  if (!config) throw new CheckpointError(`${dirIn}: no config.json (expected a Hugging Face checkpoint folder)`);
  return {
    dir,
    config,
    generationConfig: readJsonIfExists(join(dir, 'generation_config.json')),
    preprocessorConfig: readJsonIfExists(join(dir, 'preprocessor_config.json')),
    tokenizerConfig: readJsonIfExists(join(dir, 'tokenizer_config.json')),
  };
}

/** Reads a required numeric config field, with a message that names the model it expects. */
export function configNumber(cfg: Record<string, any>, key: string, what: string, fallback?: number): number {
  const v = cfg[key];
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (v === undefined && fallback !== undefined) return fallback;
  throw new CheckpointError(`config.json: ${key} ${v === undefined ? 'missing' : `is ${JSON.stringify(v)}, not a number`} (expected ${what})`);
}
