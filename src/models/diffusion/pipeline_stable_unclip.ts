// Stable unCLIP 2.1 from image embeddings, as SEED v2 decodes its codes: diffusers 0.20.2
// StableUnCLIPImg2ImgPipeline called with image_embeds (SEED's models/pipeline_stable_unclip_img2img.py):
// noise-augmented embedding → class labels ([zeros; noised] with guidance), the empty-prompt text
// embedding in both guidance halves, PNDM (the folder's scheduler), VAE decode, rounding to uint8.
// With image_encoder/: variations of a picture (its CLIP image embedding).
import { InputError, type ImageInput } from '../../api.js';
import { ClipTextEncoder } from './clip_text_model.js';
import { ClipImageEncoder } from './clip_vision_model.js';
import { denoise } from './denoise.js';
import { componentConfig, componentDir, hasComponent, openComponentWeights } from './pipeline-folder.js';
import { DiffusionCore, randomSeed, repeatRows, type DenoiseRunOptions, type DiffusionImage, type DiffusionLoadOptions, type Embeds } from './pipeline_utils.js';
import { DDPMScheduler } from './schedulers/ddpm.js';
import { StableUnCLIPImageNormalizer, unclipClassLabels } from './stable_unclip_image_normalizer.js';
import { TorchGenerator } from './torch-random.js';

export type { DiffusionImage, DiffusionLoadOptions, Embeds } from './pipeline_utils.js';

export interface UnclipGenerateOptions extends DenoiseRunOptions {
  negativeImageEmbeds?: Float32Array;
  /** SEED: 0 (still adds ≈0.0064·noise). */
  noiseLevel?: number;
  /** Text embedding for both guidance halves [1 or B, 77, D]; default: "" through the folder's text encoder. */
  promptEmbeds?: Embeds;
  /** Or a prompt (then the other guidance half gets `negativePrompt`, default ""). */
  prompt?: string;
  negativePrompt?: string;
}

export class StableUnCLIPPipeline extends DiffusionCore {
  private textEncoder?: Promise<ClipTextEncoder>;
  private imageEncoder?: Promise<ClipImageEncoder>;
  private emptyPrompt?: Promise<Embeds>;

  private constructor(
    core: Awaited<ReturnType<typeof DiffusionCore['loadCore']>>,
    readonly normalizer: StableUnCLIPImageNormalizer,
    readonly noising: DDPMScheduler,
    private readonly opts: DiffusionLoadOptions,
  ) {
    super(core.folder, core.unet, core.vae, core.schedulerConfig, core.defaultSize);
  }

  static async load(dir: string, opts: DiffusionLoadOptions = {}): Promise<StableUnCLIPPipeline> {
    const core = await DiffusionCore.loadCore(dir, opts);
    const f = core.folder;
    const normalizer = StableUnCLIPImageNormalizer.fromWeights(openComponentWeights(componentDir(f, 'image_normalizer'), opts));
    const noising = new DDPMScheduler(componentConfig(f, 'image_noising_scheduler'));
    return new StableUnCLIPPipeline(core, normalizer, noising, opts);
  }

  /** prompt_embeds [B, 77, D] of the prompts, through the folder's text encoder. */
  async encodePrompt(prompts: string[]): Promise<Embeds> {
    const f = this.folder;
    if (!hasComponent(f, 'text_encoder') || !hasComponent(f, 'tokenizer')) {
      throw new InputError(`${f.dir} has no text_encoder/ and tokenizer/: pass promptEmbeds (the empty-prompt embedding [1, 77, D])`);
    }
    this.textEncoder ??= ClipTextEncoder.load(componentDir(f, 'tokenizer'), componentDir(f, 'text_encoder'), { variant: this.opts.variant, device: this.opts.device });
    return (await this.textEncoder).encode(prompts);
  }

  /** The embedding of the empty prompt (both guidance halves in SEED's call), computed once. */
  async emptyPromptEmbeds(): Promise<Embeds> {
    return (this.emptyPrompt ??= this.encodePrompt(['']));
  }

  /** Image variations: pictures → image_embeds [B, E] through image_encoder/ + feature_extractor/. */
  async embedImages(images: ImageInput[]): Promise<Float32Array> {
    const f = this.folder;
    if (!hasComponent(f, 'image_encoder')) throw new InputError(`${f.dir} has no image_encoder/ (the CLIP vision model that turns pictures into image embeddings)`);
    this.imageEncoder ??= ClipImageEncoder.load(componentDir(f, 'image_encoder'), hasComponent(f, 'feature_extractor') ? componentDir(f, 'feature_extractor') : undefined, {
      variant: this.opts.variant, device: this.opts.device,
    });
    return (await this.imageEncoder).embed(images);
  }

  /** image_embeds [B, E] → images (SEED ImageTokenizer.decode's pipeline call). */
  async generate(imageEmbeds: Float32Array, o: UnclipGenerateOptions = {}): Promise<DiffusionImage> {
    const E = this.normalizer.embeddingDim;
    if (imageEmbeds.length === 0 || imageEmbeds.length % E !== 0) throw new InputError(`image embeddings have ${imageEmbeds.length} values, not a multiple of ${E}`);
    const B = imageEmbeds.length / E;
    const guidanceScale = o.guidanceScale ?? 10;
    const gen = o.generator ?? new TorchGenerator(o.seed ?? randomSeed());
    // SEED: one embedding (of "") for both halves; with a prompt, the negative prompt ("") for the other.
    const cond = o.promptEmbeds ?? (o.prompt !== undefined ? await this.encodePrompt([o.prompt]) : await this.emptyPromptEmbeds());
    const uncond = o.negativePrompt !== undefined ? await this.encodePrompt([o.negativePrompt]) : o.prompt !== undefined ? await this.emptyPromptEmbeds() : cond;
    const promptEmbeds = repeatRows(cond, B, 'prompt embeddings');
    const negativePromptEmbeds = repeatRows(uncond, B, 'negative prompt embeddings');
    // Drawn in the pipeline's order: the embedding noise (positive, then negative), then the latents.
    const classLabels = unclipClassLabels(this.normalizer, this.noising, imageEmbeds, {
      noiseLevel: o.noiseLevel ?? 0, guidance: guidanceScale > 1, negativeEmbeds: o.negativeImageEmbeds, generator: gen,
    });
    const shape = this.latentShape(B, o.height, o.width);
    const latents = await denoise({
      unet: this.unet, scheduler: this.scheduler(o.scheduler), steps: o.steps ?? 20,
      latents: this.initialLatents(shape, o, gen), shape, promptEmbeds, negativePromptEmbeds,
      classLabels, guidanceScale, signal: o.signal, onProgress: o.onProgress, onCall: o.onCall,
    });
    return this.decode(latents, shape);
  }

  override async release(): Promise<void> {
    for (const e of [this.textEncoder, this.imageEncoder]) if (e) await (await e).release();
    await super.release();
  }
}
