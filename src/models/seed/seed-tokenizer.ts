// SEED image tokenizers (AILab-CVC): v2 (`Blip2QformerQuantizer`, seed-tokenizer-2) and v1
// (`SEEDVisualTokenizer`) as an `ImageTokenizer`: images → 32 causal codes, codes → the
// embedding a diffusion model consumes (v2: the unCLIP image embedding [1024]; v1: [77, 768]
// stand-in SD-1.4 text embeddings). No text tokenizer is needed.
import { basename, join } from 'node:path';
import type { ImageInput, ImageTokenizer, LoadOptions, ModelInfo } from '../../api.js';
import { InputError } from '../../api.js';
import { CheckpointError, WeightStore } from '../../io/checkpoint.js';
import { createSession, f32Tensor, i64Tensor, type ort } from '../../graph/session.js';
import { decodeImage } from '../../processors/image.js';
import { CLIP_MEAN, CLIP_STD, normalize, resizeRGB, type RGBPixels } from '../../processors/vision.js';
import type { ResampleFilter } from '../../processors/resize.js';
import { modelTypeOf, withWeightSettings, type CheckpointProbe, type ModelEntry } from '../entry.js';
import { seedConfig, type SeedConfig } from './config.js';
import { buildSeedDecodeGraph, buildSeedEncodeGraph } from './graphs.js';

/**
 * The reference transform: Resize((S, S)) on the PIL image (bicubic in the tokenizer's own
 * processor, seed_llama_tokenizer.py; no crop, aspect not kept), ToTensor (/255 in float32),
 * Normalize with the CLIP mean/std. HWC uint8 → CHW float32, written at `offset` of `out`.
 */
export function seedPixels(img: RGBPixels, size: number, resample: ResampleFilter, out?: Float32Array, offset = 0): Float32Array {
  const r = img.width === size && img.height === size ? img : resizeRGB(img, size, size, resample);
  return normalize(r, CLIP_MEAN, CLIP_STD, { mode: 'torchvision', out, offset });
}

export interface SeedLoadOptions extends LoadOptions {
  /** Images per encoder run (default 8). */
  imageBatch?: number;
  /** Code lists per decoder run (default 64). */
  codeBatch?: number;
}

export class SeedImageTokenizer implements ImageTokenizer {
  readonly kind = 'image-tokenizer' as const;

  private constructor(
    readonly info: ModelInfo,
    readonly cfg: SeedConfig,
    private readonly encoder: ort.InferenceSession,
    private readonly decoder: ort.InferenceSession,
    readonly imageBatch: number,
    readonly codeBatch: number,
  ) {}

  get codesPerImage(): number {
    return this.cfg.qformer.queries;
  }

  get codebookSize(): number {
    return this.cfg.codebookSize;
  }

  get embeddingShape(): readonly number[] {
    return this.cfg.embeddingShape;
  }

  /** Builds both graphs over an open weight store; `config` = config.json when the folder has one. */
  static async load(dir: string, store: WeightStore, config: Record<string, any> | undefined, opts: SeedLoadOptions = {}): Promise<SeedImageTokenizer> {
    const cfg = seedConfig(store, config);
    opts.onProgress?.({ stage: 'session', done: 0, total: 2, message: `building the SEED ${cfg.variant} encoder (ViT ${cfg.vit.depth}×${cfg.vit.dim})` });
    const encoder = await createSession(buildSeedEncodeGraph(store, cfg), { device: opts.device });
    opts.onProgress?.({ stage: 'session', done: 1, total: 2, message: 'building the decoder' });
    const decoder = await createSession(buildSeedDecodeGraph(store, cfg), { device: opts.device });
    opts.onProgress?.({ stage: 'session', done: 2, total: 2 });
    const modelType = typeof config?.model_type === 'string' ? config.model_type : cfg.variant === 'v2' ? SEED_V2_TYPE : SEED_V1_TYPE;
    const info: ModelInfo = { modelType, name: opts.name ?? basename(dir), dir, device: opts.device ?? 'cpu' };
    return new SeedImageTokenizer(info, cfg, encoder, decoder, opts.imageBatch ?? 8, opts.codeBatch ?? 64);
  }

  /** Preprocessed pixels of a batch [n, 3, S, S]. */
  async pixels(images: ImageInput[]): Promise<Float32Array> {
    const S = this.cfg.vit.imageSize;
    const px = new Float32Array(images.length * 3 * S * S);
    for (let j = 0; j < images.length; j++) {
      const img = await decodeImage(images[j]!);
      seedPixels(img, S, this.cfg.resample, px, j * 3 * S * S);
    }
    return px;
  }

  async encode(images: ImageInput[]): Promise<number[][]> {
    if (!Array.isArray(images)) throw new InputError('encode expects an array of images');
    const S = this.cfg.vit.imageSize, Q = this.codesPerImage;
    const result: number[][] = [];
    for (let i = 0; i < images.length; i += this.imageBatch) {
      const chunk = images.slice(i, i + this.imageBatch);
      const px = await this.pixels(chunk);
      const out = await this.encoder.run({ pixel_values: f32Tensor(px, [chunk.length, 3, S, S]) });
      const codes = out.codes!.data as BigInt64Array;
      for (let j = 0; j < chunk.length; j++) result.push(Array.from(codes.subarray(j * Q, (j + 1) * Q), Number));
    }
    return result;
  }

  /** Checks code lists: arrays of `codesPerImage` integers in [0, codebookSize). */
  private checkCodes(codes: number[][]): void {
    if (!Array.isArray(codes)) throw new InputError('decode expects an array of code lists');
    const Q = this.codesPerImage, N = this.codebookSize;
    codes.forEach((list, i) => {
      if (!Array.isArray(list) || list.length !== Q) {
        throw new InputError(`code list ${i} has ${Array.isArray(list) ? list.length : 'no'} codes; SEED needs exactly ${Q}`);
      }
      const bad = list.findIndex((c) => !Number.isInteger(c) || c < 0 || c >= N);
      if (bad >= 0) throw new InputError(`code list ${i}, position ${bad}: ${JSON.stringify(list[bad])} is not a code in [0, ${N})`);
    });
  }

  async decode(codes: number[][]): Promise<Float32Array[]> {
    this.checkCodes(codes);
    const Q = this.codesPerImage;
    const size = this.cfg.embeddingShape.reduce((a, b) => a * b, 1);
    const result: Float32Array[] = [];
    for (let i = 0; i < codes.length; i += this.codeBatch) {
      const chunk = codes.slice(i, i + this.codeBatch);
      const out = await this.decoder.run({ codes: i64Tensor(chunk.flat(), [chunk.length, Q]) });
      const e = out.embeds!.data as Float32Array;
      for (let j = 0; j < chunk.length; j++) result.push(e.slice(j * size, (j + 1) * size));
    }
    return result;
  }

  async dispose(): Promise<void> {
    await this.encoder.release();
    await this.decoder.release();
  }
}

export const SEED_V2_TYPE = 'seed_qformer_quantizer';
export const SEED_V1_TYPE = 'seed_v1_visual_tokenizer';

/** PyTorch checkpoints as SEED releases them: seed_quantizer.pt (v2), *.pth (v1). */
const TORCH_FILE = /\.(pt|pth)$/;

/**
 * The weights of a SEED folder: a Hugging Face layout (model.safetensors, pytorch_model.bin, or
 * their index) when present, else every .pt/.pth file in name order (v1 splits its weights over
 * causal_qformer.pth and seed_tokenizer.pth; a later file wins for a repeated name, as the
 * reference's successive load_state_dict calls).
 */
export function openSeedWeights(dir: string, files: string[]): WeightStore {
  const torchFiles = files.filter((f) => TORCH_FILE.test(f)).sort();
  const hfLayout = files.some((f) => /^(model\.safetensors|pytorch_model\.bin)(\.index\.json)?$/.test(f));
  if (hfLayout || !torchFiles.length) return WeightStore.open(dir);
  return WeightStore.fromFiles(torchFiles.map((f) => join(dir, f)));
}

async function loadSeed(p: CheckpointProbe, opts: LoadOptions): Promise<SeedImageTokenizer> {
  opts.onProgress?.({ stage: 'load', done: 0, total: 1, message: `reading ${p.dir}` });
  const store = withWeightSettings(openSeedWeights(p.dir, p.files), opts);
  opts.onProgress?.({ stage: 'load', done: 1, total: 1, message: `${store.tensors.size} tensors` });
  if (!store.has('quantize.embedding.weight')) throw new CheckpointError(`${p.dir}: the weights have no quantize.embedding.weight; not a SEED tokenizer`);
  return SeedImageTokenizer.load(p.dir, store, p.config, opts);
}

export const seedV2Entry: ModelEntry = {
  id: SEED_V2_TYPE,
  kind: 'image-tokenizer',
  describe: 'SEED v2 image tokenizer: image → 32 codes → unCLIP image embedding (seed_quantizer.pt, or config model_type "seed_qformer_quantizer")',
  matches: (p) => modelTypeOf(p) === SEED_V2_TYPE || (!p.config && p.files.includes('seed_quantizer.pt')),
  load: loadSeed,
};

export const seedV1Entry: ModelEntry = {
  id: SEED_V1_TYPE,
  kind: 'image-tokenizer',
  describe: 'SEED v1 image tokenizer: image → 32 codes → 77×768 SD text embeddings (seed_tokenizer.pth, or config model_type "seed_v1_visual_tokenizer")',
  matches: (p) => modelTypeOf(p) === SEED_V1_TYPE || (!p.config && p.files.includes('seed_tokenizer.pth')),
  load: loadSeed,
};
