// SEED's de-tokenizers as an ImageRenderer (api.ts): image-tokenizer embeddings → pixels.
// v2: [1024] unCLIP image embeddings → Stable unCLIP 2.1 (noise level 0, guidance 10, 20 PNDM
// steps, the "" text embedding in both halves, 768²); v1: [77, 768] embeddings → SD-1.4 in place
// of text embeddings (PLMS, 50 steps, guidance 7.5, uncond = "" text embedding, 512², uint8 by
// truncation). Which one comes from model_index.json's pipeline class.
import { InputError, type DecodedImage, type ImageRenderer, type ImageTokenizer, type Progress } from '../../api.js';
import { StableDiffusionPipeline } from './pipeline_stable_diffusion.js';
import { StableUnCLIPPipeline } from './pipeline_stable_unclip.js';
import type { DiffusionImage, DiffusionLoadOptions, Embeds } from './pipeline_utils.js';
import { openPipelineFolder } from './pipeline-folder.js';

export interface SeedRendererOptions extends DiffusionLoadOptions {
  steps?: number;
  guidanceScale?: number;
  scheduler?: string;
  /** Pixel size (default: the UNet's sample_size × 8, SEED's 768 / 512). */
  height?: number;
  width?: number;
  /** Initial latents [1, 4, h, w] for every image (SEED v2 draws one tensor at start-up and reuses it). */
  latents?: Float32Array;
  /** unCLIP noise level of the image embedding (SEED: 0). */
  noiseLevel?: number;
  /** The empty-prompt / unconditional text embedding [1, 77, D] when the folder has no text encoder. */
  emptyPromptEmbeds?: Embeds;
}

/** Pixels of image `i` of a pipeline output. */
export function decodedImage(img: DiffusionImage, i = 0): DecodedImage {
  const n = img.width * img.height * 3;
  return { width: img.width, height: img.height, channels: 3, data: img.pixels.slice(i * n, (i + 1) * n) };
}

export class SeedImageRenderer implements ImageRenderer {
  private constructor(
    private readonly pipe: StableUnCLIPPipeline | StableDiffusionPipeline,
    private readonly o: SeedRendererOptions,
  ) {}

  /** Loads the diffusers folder: unCLIP folders render v2 embeddings, SD 1.x folders v1 embeddings. */
  static async load(dir: string, o: SeedRendererOptions = {}): Promise<SeedImageRenderer> {
    const cls = openPipelineFolder(dir).className;
    const pipe = /UnCLIP/i.test(cls) ? await StableUnCLIPPipeline.load(dir, o) : await StableDiffusionPipeline.load(dir, o);
    return new SeedImageRenderer(pipe, o);
  }

  /** unCLIP (SEED v2) or SD 1.x from 77×D embeddings (SEED v1). */
  get kind(): 'unclip' | 'sd-v1' {
    return this.pipe instanceof StableUnCLIPPipeline ? 'unclip' : 'sd-v1';
  }

  /** One full pipeline run with its output (parity tests, reconstruct). */
  async run(embedding: Float32Array, opts: { signal?: AbortSignal; onProgress?: (p: Progress) => void; seed?: number } = {}): Promise<DiffusionImage> {
    const o = this.o;
    const common = {
      steps: o.steps, guidanceScale: o.guidanceScale, scheduler: o.scheduler, height: o.height, width: o.width,
      latents: o.latents, seed: opts.seed, signal: opts.signal, onProgress: opts.onProgress,
    };
    if (this.pipe instanceof StableUnCLIPPipeline) {
      return this.pipe.generate(embedding, { ...common, noiseLevel: o.noiseLevel, promptEmbeds: o.emptyPromptEmbeds });
    }
    const D = this.pipe.unet.config.crossAttentionDim;
    if (embedding.length % D !== 0) throw new InputError(`SEED v1 embedding has ${embedding.length} values, not a multiple of ${D} (cross_attention_dim)`);
    const uncond = o.emptyPromptEmbeds ?? (await this.pipe.encodePrompt(['']));
    return this.pipe.generate({
      ...common,
      steps: o.steps ?? 50,
      guidanceScale: o.guidanceScale ?? 7.5,
      scheduler: o.scheduler ?? 'plms',
      promptEmbeds: { data: embedding, dims: [1, embedding.length / D, D] },
      negativePromptEmbeds: uncond,
      toUint8: 'truncate',
    });
  }

  async render(embeddings: Float32Array[], opts: { signal?: AbortSignal; onProgress?: (p: Progress) => void; seed?: number } = {}): Promise<DecodedImage[]> {
    const out: DecodedImage[] = [];
    for (const e of embeddings) out.push(decodedImage(await this.run(e, opts)));
    return out;
  }

  async dispose(): Promise<void> {
    await this.pipe.release();
  }
}

/**
 * SEED's full de-tokenizer: codes → the tokenizer's embeddings → pixels (ImageTokenizer.decode then
 * the renderer), one image per code list.
 */
export async function decodeCodesToImages(
  tokenizer: ImageTokenizer,
  renderer: ImageRenderer,
  codes: number[][],
  opts: { signal?: AbortSignal; onProgress?: (p: Progress) => void; seed?: number } = {},
): Promise<DecodedImage[]> {
  return renderer.render(await tokenizer.decode(codes), opts);
}
