// Stable Diffusion 1.x / 2.x text-to-image: diffusers 0.20.2 StableDiffusionPipeline (prompt →
// CLIP text embeddings, the "" negative embedding, seeded latents, guided denoising, VAE), and
// SEED v1's decode (77×768 embeddings in place of the text embeddings, PLMS, uint8 truncation)
// through the same loop with given prompt embeddings.
import { InputError } from '../../api.js';
import { ClipTextEncoder } from './clip_text_model.js';
import { denoise } from './denoise.js';
import { componentDir, hasComponent } from './pipeline-folder.js';
import {
  DiffusionCore, randomSeed, repeatRows,
  type DenoiseRunOptions, type DiffusionImage, type DiffusionLoadOptions, type Embeds,
} from './pipeline_utils.js';
import { TorchGenerator } from './torch-random.js';

export interface TextToImageOptions extends DenoiseRunOptions {
  /** One prompt per image. */
  prompt?: string | string[];
  negativePrompt?: string | string[];
  /** Instead of prompt: conditioning embeddings [B, T, D] (SEED v1: the reverse Q-Former's 77×768). */
  promptEmbeds?: Embeds;
  /** Unconditional embeddings [1 or B, T, D]; default the text encoder's "" (or negativePrompt). */
  negativePromptEmbeds?: Embeds;
  /** 'round' (diffusers) or 'truncate' (SEED v1's sample saving). */
  toUint8?: 'round' | 'truncate';
}

export class StableDiffusionPipeline extends DiffusionCore {
  private textEncoder?: Promise<ClipTextEncoder>;
  private loadOpts: DiffusionLoadOptions = {};

  static async load(dir: string, opts: DiffusionLoadOptions = {}): Promise<StableDiffusionPipeline> {
    const c = await DiffusionCore.loadCore(dir, opts);
    const p = new StableDiffusionPipeline(c.folder, c.unet, c.vae, c.schedulerConfig, c.defaultSize);
    p.loadOpts = opts;
    return p;
  }

  private encoder(): Promise<ClipTextEncoder> {
    const f = this.folder;
    if (!hasComponent(f, 'text_encoder') || !hasComponent(f, 'tokenizer')) {
      throw new InputError(`${f.dir} has no text_encoder/ and tokenizer/: pass promptEmbeds and negativePromptEmbeds instead of prompts`);
    }
    return (this.textEncoder ??= ClipTextEncoder.load(componentDir(f, 'tokenizer'), componentDir(f, 'text_encoder'), {
      variant: this.loadOpts.variant, device: this.loadOpts.device,
    }));
  }

  /** encode_prompt: prompt_embeds [B, 77, D] of the prompts. */
  async encodePrompt(prompts: string[]): Promise<Embeds> {
    return (await this.encoder()).encode(prompts);
  }

  async generate(o: TextToImageOptions): Promise<DiffusionImage> {
    let cond: Embeds;
    if (o.promptEmbeds) cond = o.promptEmbeds;
    else if (o.prompt !== undefined) cond = await this.encodePrompt(Array.isArray(o.prompt) ? o.prompt : [o.prompt]);
    else throw new InputError('text-to-image needs a prompt or promptEmbeds');
    const B = cond.dims[0]!;
    const guidanceScale = o.guidanceScale ?? 7.5;
    let uncond: Float32Array | undefined;
    if (guidanceScale > 1) {
      let neg = o.negativePromptEmbeds;
      if (!neg) {
        const np = o.negativePrompt === undefined ? [''] : Array.isArray(o.negativePrompt) ? o.negativePrompt : [o.negativePrompt];
        neg = await this.encodePrompt(np);
      }
      uncond = repeatRows(neg, B, 'negative prompt embeddings');
    }
    const gen = o.generator ?? new TorchGenerator(o.seed ?? randomSeed());
    const shape = this.latentShape(B, o.height, o.width);
    const latents = await denoise({
      unet: this.unet, scheduler: this.scheduler(o.scheduler), steps: o.steps ?? 50,
      latents: this.initialLatents(shape, o, gen), shape,
      promptEmbeds: cond.data, negativePromptEmbeds: uncond, guidanceScale,
      signal: o.signal, onProgress: o.onProgress, onCall: o.onCall,
    });
    return this.decode(latents, shape, o.toUint8);
  }

  override async release(): Promise<void> {
    if (this.textEncoder) await (await this.textEncoder).release();
    await super.release();
  }
}
