// What every Stable Diffusion pipeline shares (diffusers pipeline_utils.py's role): loading UNet,
// VAE and the scheduler config of a diffusers folder, latent geometry and seeded latents, VAE
// decode + post-processing, the output and option types.
import { InputError, type Device, type Progress } from '../../api.js';
import { AutoencoderKL } from './autoencoder_kl.js';
import type { DenoiseCall } from './denoise.js';
import { imageToUint8, vaeOutputToImage } from './image_processor.js';
import { componentConfig, componentDir, openPipelineFolder, type PipelineFolder } from './pipeline-folder.js';
import { createScheduler, type Scheduler } from './schedulers/index.js';
import type { TorchGenerator } from './torch-random.js';
import { UNet2DConditionModel } from './unet_2d_condition.js';

export interface DiffusionLoadOptions {
  device?: Device;
  /** Weights variant preferred when present, e.g. "fp16". */
  variant?: string;
  onProgress?: (p: Progress) => void;
}

export interface DiffusionImage {
  /** Final latents [B, C, h, w] (before the VAE). */
  latents: Float32Array;
  latentShape: [number, number, number, number];
  /** VAE output [B, 3, H, W], roughly in [−1, 1]. */
  decoded: Float32Array;
  /** [B, H, W, 3] in [0, 1] (output_type "np"). */
  imageFloat: Float32Array;
  /** [B, H, W, 3] uint8 (output_type "pil"). */
  pixels: Uint8Array;
  batch: number;
  width: number;
  height: number;
}

export interface DenoiseRunOptions {
  steps?: number;
  guidanceScale?: number;
  /** Scheduler short or class name (pndm, ddim, dpmpp2m, euler, plms); default the folder's. */
  scheduler?: string;
  /** Initial latents [B, 4, h, w]; drawn from `seed` / `generator` when absent. */
  latents?: Float32Array;
  seed?: number;
  generator?: TorchGenerator;
  height?: number;
  width?: number;
  signal?: AbortSignal;
  onProgress?: (p: Progress) => void;
  onCall?: (c: DenoiseCall) => void;
}

/** The pieces every SD pipeline folder has: UNet, VAE, scheduler config, latent geometry. */
export class DiffusionCore {
  protected constructor(
    readonly folder: PipelineFolder,
    readonly unet: UNet2DConditionModel,
    readonly vae: AutoencoderKL,
    readonly schedulerConfig: Record<string, any>,
    /** unet config sample_size (latent side) × VAE scale = default image side. */
    readonly defaultSize: number,
  ) {}

  protected static async loadCore(dir: string, opts: DiffusionLoadOptions) {
    const folder = openPipelineFolder(dir);
    const say = (done: number, message: string) => opts.onProgress?.({ stage: 'load', done, total: 3, message });
    say(0, 'unet');
    const unet = await UNet2DConditionModel.load(componentDir(folder, 'unet'), { device: opts.device, variant: opts.variant });
    say(1, 'vae');
    const vae = AutoencoderKL.load(componentDir(folder, 'vae'), { device: opts.device, variant: opts.variant });
    const schedulerConfig = componentConfig(folder, 'scheduler');
    const sample = componentConfig(folder, 'unet').sample_size;
    const defaultSize = (typeof sample === 'number' ? sample : Array.isArray(sample) ? sample[0] : 64) * vae.scale;
    say(2, 'scheduler');
    return { folder, unet, vae, schedulerConfig, defaultSize };
  }

  scheduler(kind?: string): Scheduler {
    return createScheduler(this.schedulerConfig, kind);
  }

  /** Latent shape for an image size (multiples of the VAE scale). */
  latentShape(batch: number, height = this.defaultSize, width = this.defaultSize): [number, number, number, number] {
    const s = this.vae.scale;
    if (!Number.isInteger(height) || !Number.isInteger(width) || height % s || width % s || height <= 0 || width <= 0) {
      throw new InputError(`image size ${width}×${height} must be positive multiples of ${s}`);
    }
    return [batch, this.unet.config.inChannels, height / s, width / s];
  }

  /** Given latents, or torch.randn(shape, generator) as diffusers' prepare_latents draws them. */
  protected initialLatents(shape: readonly number[], o: DenoiseRunOptions, gen: TorchGenerator): Float32Array {
    const n = shape.reduce((a, b) => a * b, 1);
    if (o.latents) {
      if (o.latents.length !== n) throw new InputError(`latents have ${o.latents.length} values, [${shape}] needs ${n}`);
      return o.latents;
    }
    return gen.randn(n);
  }

  /** VAE decode + VaeImageProcessor post-processing (or SEED v1's truncation). */
  async decode(latents: Float32Array, shape: [number, number, number, number], toUint8: 'round' | 'truncate' = 'round'): Promise<DiffusionImage> {
    const { image, shape: ishape } = await this.vae.decode(latents, shape);
    const imageFloat = vaeOutputToImage(image, ishape);
    return {
      latents, latentShape: shape, decoded: image, imageFloat, pixels: imageToUint8(imageFloat, toUint8),
      batch: ishape[0]!, height: ishape[2]!, width: ishape[3]!,
    };
  }

  async release(): Promise<void> {
    await this.unet.release();
    await this.vae.release();
  }
}

/** Embeddings with their dims, e.g. CLIP prompt embeddings [B, 77, D]. */
export interface Embeds {
  data: Float32Array;
  dims: number[];
}

/** [1, ...] or [B, ...] → [B, ...] data. */
export function repeatRows(x: Embeds, B: number, what: string): Float32Array {
  const rows = x.dims[0]!;
  const per = x.dims.slice(1).reduce((a, b) => a * b, 1);
  if (x.data.length !== rows * per || per === 0) throw new InputError(`${what}: ${x.data.length} values do not match dims [${x.dims}]`);
  if (rows === B) return x.data;
  if (rows !== 1) throw new InputError(`${what} have ${rows} rows; expected 1 or ${B}`);
  const out = new Float32Array(per * B);
  for (let b = 0; b < B; b++) out.set(x.data, b * per);
  return out;
}

export function randomSeed(): number {
  return Math.floor(Math.random() * 2 ** 32);
}
