// A tiny Stable Diffusion 2.x-shaped diffusers folder assembled from the fixtures, for the CLI and
// text-to-image tests: unclip-tiny's UNet (its config without the unCLIP class embedding; cross
// attention 32), VAE and PNDM scheduler, and clip-text-sd2-tiny's CLIP text encoder (hidden 32)
// and real BPE tokenizer. Weights are symlinked.
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FIXTURES_ROOT } from './fixtures.js';

const UNCLIP = join(FIXTURES_ROOT, 'unclip-tiny');
const CLIP = join(FIXTURES_ROOT, 'clip-text-sd2-tiny');

export const haveTinySdSources = existsSync(join(UNCLIP, 'unet')) && existsSync(join(CLIP, 'text_encoder'));

export function assembleTinySd(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tsvlm-tiny-sd-'));
  writeFileSync(join(dir, 'model_index.json'), JSON.stringify({
    _class_name: 'StableDiffusionPipeline', _diffusers_version: '0.20.2',
    scheduler: ['diffusers', 'PNDMScheduler'], text_encoder: ['transformers', 'CLIPTextModel'], tokenizer: ['transformers', 'CLIPTokenizer'],
    unet: ['diffusers', 'UNet2DConditionModel'], vae: ['diffusers', 'AutoencoderKL'], safety_checker: [null, null], feature_extractor: [null, null],
  }, null, 2));
  for (const c of ['unet', 'vae', 'scheduler', 'text_encoder', 'tokenizer']) mkdirSync(join(dir, c));
  const unetCfg = JSON.parse(readFileSync(join(UNCLIP, 'unet', 'config.json'), 'utf8'));
  delete unetCfg.real_checkpoint;
  unetCfg.class_embed_type = null;
  unetCfg.projection_class_embeddings_input_dim = null;
  writeFileSync(join(dir, 'unet', 'config.json'), JSON.stringify(unetCfg, null, 2));
  symlinkSync(join(UNCLIP, 'unet', 'diffusion_pytorch_model.safetensors'), join(dir, 'unet', 'diffusion_pytorch_model.safetensors'));
  for (const f of ['config.json', 'diffusion_pytorch_model.safetensors']) symlinkSync(join(UNCLIP, 'vae', f), join(dir, 'vae', f));
  cpSync(join(UNCLIP, 'scheduler', 'scheduler_config.json'), join(dir, 'scheduler', 'scheduler_config.json'));
  for (const f of ['config.json', 'model.safetensors']) symlinkSync(join(CLIP, 'text_encoder', f), join(dir, 'text_encoder', f));
  cpSync(join(CLIP, 'tokenizer'), join(dir, 'tokenizer'), { recursive: true });
  return dir;
}

/** unclip-tiny with clip-text-sd2-tiny's text encoder and tokenizer and a tiny image encoder added (the real unCLIP repo layout). */
export function assembleTinyUnclipWithText(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tsvlm-tiny-unclip-'));
  const index = JSON.parse(readFileSync(join(UNCLIP, 'model_index.json'), 'utf8'));
  index.text_encoder = ['transformers', 'CLIPTextModel'];
  index.tokenizer = ['transformers', 'CLIPTokenizer'];
  writeFileSync(join(dir, 'model_index.json'), JSON.stringify(index, null, 2));
  for (const c of ['unet', 'vae', 'scheduler', 'image_normalizer', 'image_noising_scheduler']) symlinkSync(join(UNCLIP, c), join(dir, c));
  for (const c of ['text_encoder', 'tokenizer']) symlinkSync(join(CLIP, c), join(dir, c));
  // The image encoder of image variations (projection 64 = the tiny unCLIP embedding size).
  const vision = join(__dirname, '../data/diffusion/clip-vision-tiny');
  index.image_encoder = ['transformers', 'CLIPVisionModelWithProjection'];
  index.feature_extractor = ['transformers', 'CLIPImageProcessor'];
  writeFileSync(join(dir, 'model_index.json'), JSON.stringify(index, null, 2));
  for (const c of ['image_encoder', 'feature_extractor']) symlinkSync(join(vision, c), join(dir, c));
  return dir;
}
