// What a model file exports to be found by `loadModel`: how it recognises its checkpoint folders
// and how it loads them (the table itself is registry.ts).
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { LoadOptions, Model } from '../api.js';
import { CheckpointError, openModelFolder, readJsonFile, WeightStore, type ModelFolder } from '../io/checkpoint.js';
import { weightSettings } from '../quant/plan.js';

/** What a loader may look at to recognise a checkpoint folder, before any weight is read. */
export interface CheckpointProbe {
  dir: string;
  /** File names directly inside the folder. */
  files: string[];
  /** config.json, when the folder has one. */
  config?: Record<string, any>;
  /** model_index.json (diffusers pipeline folders), when present. */
  modelIndex?: Record<string, any>;
}

export interface ModelEntry {
  /** The identifier users see in --help and errors (usually the config's model_type). */
  id: string;
  kind: Model['kind'];
  /** One line: what checkpoints this entry loads. */
  describe: string;
  /** True when this entry loads the folder (with these options). Entries are tried in table order. */
  matches(p: CheckpointProbe, opts?: LoadOptions): boolean;
  load(p: CheckpointProbe, opts: LoadOptions): Promise<Model>;
}

const readJson = readJsonFile;

export function probeCheckpoint(dirIn: string): CheckpointProbe {
  const dir = resolve(dirIn);
  if (!existsSync(dir)) throw new CheckpointError(`model folder ${dirIn} does not exist`);
  if (!statSync(dir).isDirectory()) throw new CheckpointError(`${dirIn} is not a folder (expected a checkpoint folder)`);
  return {
    dir,
    files: readdirSync(dir),
    config: readJson(join(dir, 'config.json')),
    modelIndex: readJson(join(dir, 'model_index.json')),
  };
}

/** config.json's model_type when it is a plain string (never a prototype key). */
export function modelTypeOf(p: CheckpointProbe): string | undefined {
  const t = p.config?.model_type;
  return typeof t === 'string' ? t : undefined;
}

/** How graphs over `store` hold the weights (opts.dtype, or the default for its parameter count). */
export function withWeightSettings(store: WeightStore, opts: LoadOptions): WeightStore {
  let parameters = 0;
  for (const t of store.tensors.values()) parameters += t.shape.reduce((a, b) => a * b, 1);
  store.weights = weightSettings(opts, parameters);
  return store;
}

/**
 * The common start of a Hugging Face checkpoint load: config + tokenizer configs, then the weight
 * headers (safetensors or PyTorch), with progress.
 */
export function openHfCheckpoint(p: CheckpointProbe, opts: LoadOptions): { folder: ModelFolder; store: WeightStore } {
  const folder = openModelFolder(p.dir);
  opts.onProgress?.({ stage: 'load', done: 0, total: 1, message: `reading ${p.dir}` });
  const store = withWeightSettings(WeightStore.open(folder.dir), opts);
  opts.onProgress?.({ stage: 'load', done: 1, total: 1, message: `${store.tensors.size} tensors` });
  return { folder, store };
}
