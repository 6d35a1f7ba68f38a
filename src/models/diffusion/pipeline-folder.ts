// A diffusers pipeline folder as published (diffusers 0.20 save_pretrained layout):
// model_index.json names the components; each lives in its own subfolder with config.json
// (models, transformers parts) or scheduler_config.json (schedulers), and weights
// diffusion_pytorch_model[.fp16].safetensors (diffusers) or model[.fp16].safetensors (transformers).
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CheckpointError, WeightStore } from '../../io/checkpoint.js';
import { parsePythonJson } from '../../io/python-json.js';

export interface PipelineFolder {
  dir: string;
  /** model_index.json's _class_name, e.g. "StableUnCLIPImg2ImgPipeline". */
  className: string;
  /** Component name → [library, class]; null where the pipeline was saved without it. */
  components: Map<string, [string, string] | null>;
}

/** A JSON file as Python writes it (accepts NaN / Infinity / -Infinity). */
export function readPythonJsonFile(path: string): Record<string, any> {
  let v: unknown;
  try {
    v = parsePythonJson(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new CheckpointError(`${path}: not valid JSON (${(e as Error).message})`);
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new CheckpointError(`${path}: expected a JSON object`);
  return v as Record<string, any>;
}

export function openPipelineFolder(dirIn: string): PipelineFolder {
  const dir = resolve(dirIn);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new CheckpointError(`diffusers folder ${dirIn} does not exist or is not a folder`);
  const indexPath = join(dir, 'model_index.json');
  if (!existsSync(indexPath)) throw new CheckpointError(`${dirIn}: no model_index.json (expected a diffusers pipeline folder, e.g. a stable-diffusion-2-1-unclip download)`);
  const index = readPythonJsonFile(indexPath);
  const components = new Map<string, [string, string] | null>();
  for (const [k, v] of Object.entries(index)) {
    if (k.startsWith('_')) continue;
    if (Array.isArray(v) && v.length === 2) {
      components.set(k, typeof v[0] === 'string' && typeof v[1] === 'string' ? [v[0], v[1]] : null);
    }
  }
  return { dir, className: typeof index._class_name === 'string' ? index._class_name : '', components };
}

/** The folder of a component, checked against model_index.json and the disk. */
export function componentDir(p: PipelineFolder, name: string): string {
  const entry = p.components.get(name);
  if (entry === undefined) {
    throw new CheckpointError(`${p.dir}: model_index.json has no "${name}" component (it lists ${[...p.components.keys()].join(', ') || 'none'})`);
  }
  if (entry === null) throw new CheckpointError(`${p.dir}: the "${name}" component is null in model_index.json (the pipeline was saved without it)`);
  const dir = join(p.dir, name);
  if (!existsSync(dir)) throw new CheckpointError(`${p.dir}: model_index.json names "${name}" (${entry[1]}) but the folder ${name}/ is missing`);
  return dir;
}

export function hasComponent(p: PipelineFolder, name: string): boolean {
  return !!p.components.get(name) && existsSync(join(p.dir, name));
}

/** The component's class from model_index.json, e.g. "PNDMScheduler". */
export function componentClass(p: PipelineFolder, name: string): string {
  componentDir(p, name);
  return p.components.get(name)![1];
}

/** config.json (or scheduler_config.json for schedulers) of a component. */
export function componentConfig(p: PipelineFolder, name: string): Record<string, any> {
  const dir = componentDir(p, name);
  for (const f of ['config.json', 'scheduler_config.json']) {
    const path = join(dir, f);
    if (existsSync(path)) return readPythonJsonFile(path);
  }
  throw new CheckpointError(`${dir}: no config.json or scheduler_config.json`);
}

export interface WeightOptions {
  /** Prefer `*.<variant>.safetensors` (e.g. "fp16") when both exist (default: the plain file, then the fp16 one). */
  variant?: string;
}

const WEIGHT_BASES = ['diffusion_pytorch_model', 'model', 'pytorch_model'];

/**
 * Weight files of a folder in the order they are tried: safetensors before PyTorch .bin (as
 * diffusers loads them), the preferred variant first; single files before sharded indexes.
 */
export function weightCandidates(dir: string, opts: WeightOptions = {}): string[] {
  const variants = opts.variant ? [`.${opts.variant}`, ''] : ['', '.fp16'];
  const out: string[] = [];
  for (const ext of ['safetensors', 'bin']) {
    for (const v of variants) for (const b of WEIGHT_BASES) out.push(join(dir, `${b}${v}.${ext}`), join(dir, `${b}${v}.${ext}.index.json`));
  }
  return out;
}

/** The weights of a component folder (diffusers or transformers names; safetensors or .bin; plain or variant; single or sharded). */
export function openComponentWeights(dir: string, opts: WeightOptions = {}): WeightStore {
  for (const path of weightCandidates(dir, opts)) {
    if (!existsSync(path)) continue;
    return path.endsWith('.index.json') ? WeightStore.fromIndex(dir, path) : WeightStore.fromFiles([path]);
  }
  throw new CheckpointError(`${dir}: no diffusion_pytorch_model.safetensors / .bin, model.safetensors, pytorch_model.bin or their .fp16 variants`);
}
