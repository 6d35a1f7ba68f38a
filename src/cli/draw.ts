// tsvlm draw: text-to-image from a Stable Diffusion 1.x / 2.x diffusers folder.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodedImage, openPipelineFolder, resolveModelRef, SCHEDULER_NAMES, StableDiffusionPipeline, StableUnCLIPPipeline } from '../index.js';
import { resolveDevice } from '../graph/session.js';
import { checkDevice } from './commands.js';
import { encodePng } from '../processors/image-encode.js';
import { cachedSnapshot, isRepoId } from '../hub/cache.js';
import { DIFFUSION_OPTIONS, DiffusionUsageError, intFlag, numberFlag, progressPrinter, randomSeed, runCommand } from './diffusion-cli.js';

export const DRAW_USAGE = `tsvlm draw --model SD_DIR "prompt" [options]
tsvlm draw --model UNCLIP_DIR --image FILE ["prompt"] [options]

Text-to-image with a Stable Diffusion 1.x / 2.x diffusers folder (model_index.json, unet/, vae/,
text_encoder/, tokenizer/, scheduler/), as diffusers' StableDiffusionPipeline computes it; with a
Stable unCLIP folder, variations of a picture (its CLIP image embedding, optionally a prompt).

Options:
  --negative TEXT       negative prompt (default: "")
  --steps N             denoising steps (default 50)
  --guidance G          classifier-free guidance scale (default 7.5; ≤ 1 turns it off)
  --scheduler NAME      ${[...new Set(Object.keys(SCHEDULER_NAMES))].join(', ')} (default: the folder's scheduler)
  --seed N              seed of the torch-compatible generator (same latents as torch.Generator().manual_seed(N))
  --size WxH | N        image size, multiples of 8 (default: the UNet's sample_size × 8)
  --out FILE.png        output file (default out.png; with --batch N: FILE-1.png, …)
  --batch N             images of the same prompt (default 1)
  --image FILE          unCLIP: the picture to vary
  --noise-level N       unCLIP: noise added to the image embedding, 0-999 (default 0)
  --variant fp16        prefer the *.fp16.safetensors weights
  --device cpu|webgpu|auto   --json   -q, --quiet
`;

const options = {
  ...DIFFUSION_OPTIONS,
  negative: { type: 'string' },
  scheduler: { type: 'string' },
  size: { type: 'string' },
  batch: { type: 'string' },
  image: { type: 'string' },
  'noise-level': { type: 'string' },
} as const;

/** True when the command's --model is a diffusers pipeline folder (model_index.json). */
export function isDiffusersDraw(argv: string[]): boolean {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const dir = a === '--model' ? argv[i + 1] : a.startsWith('--model=') ? a.slice('--model='.length) : undefined;
    if (dir === undefined) continue;
    // A folder, or a Hugging Face repo id already in the cache.
    const folder = existsSync(dir) ? dir : isRepoId(dir) ? cachedSnapshot(dir) : undefined;
    return folder !== undefined && existsSync(join(folder, 'model_index.json'));
  }
  return false;
}

function parseSize(v: string | undefined): { width?: number; height?: number } {
  if (v === undefined) return {};
  const m = /^(\d+)(?:x(\d+))?$/i.exec(v.trim());
  if (!m) throw new DiffusionUsageError(`--size must be WxH or N (got ${JSON.stringify(v)})`);
  const width = Number(m[1]);
  return { width, height: m[2] ? Number(m[2]) : width };
}

export async function runDraw(argv: string[]): Promise<number> {
  return runCommand('draw', DRAW_USAGE, argv, options, async (v, positionals, signal) => {
    const prompt = positionals.join(' ').trim();
    if (!v.model) throw new DiffusionUsageError('draw needs --model SD_DIR (a diffusers Stable Diffusion folder)');
    const dir = await resolveModelRef(v.model, { onProgress: progressPrinter(v.quiet) });
    const folder = openPipelineFolder(dir);
    const unclip = /UnCLIP/i.test(folder.className);
    if (unclip && !v.image) throw new DiffusionUsageError(`${v.model} is a ${folder.className} folder: it draws variations of a picture (--image FILE)`);
    if (!unclip && v.image) throw new DiffusionUsageError('--image (variations of a picture) needs a Stable unCLIP folder');
    if (!unclip && !prompt) throw new DiffusionUsageError('draw needs a prompt: tsvlm draw --model SD_DIR "a lighthouse at dusk"');
    if (v.image && !existsSync(v.image)) throw new DiffusionUsageError(`image file ${v.image} does not exist`);
    const noiseLevel = intFlag(v['noise-level'], 'noise-level', 0);
    const device = await resolveDevice(checkDevice(v.device));
    const guidance = numberFlag(v.guidance, 'guidance');
    const batch = intFlag(v.batch, 'batch', 1) ?? 1;
    const steps = intFlag(v.steps, 'steps', 1);
    const seed = intFlag(v.seed, 'seed', 0) ?? randomSeed();
    const size = parseSize(v.size);
    const onProgress = progressPrinter(v.quiet);
    const t0 = performance.now();
    const common = { steps, guidanceScale: guidance, scheduler: v.scheduler, seed, ...size, signal, onProgress };
    const pipe = unclip
      ? await StableUnCLIPPipeline.load(dir, { device, variant: v.variant, onProgress })
      : await StableDiffusionPipeline.load(dir, { device, variant: v.variant, onProgress });
    try {
      let img;
      if (pipe instanceof StableUnCLIPPipeline) {
        const e = await pipe.embedImages([new Uint8Array(readFileSync(v.image!))]);
        const embeds = new Float32Array(e.length * batch);
        for (let i = 0; i < batch; i++) embeds.set(e, i * e.length);
        img = await pipe.generate(embeds, { ...common, noiseLevel, prompt: prompt || undefined, negativePrompt: v.negative });
      } else {
        img = await pipe.generate({
          ...common,
          prompt: Array(batch).fill(prompt),
          negativePrompt: v.negative === undefined ? undefined : Array(batch).fill(v.negative),
        });
      }
      const out = v.out ?? 'out.png';
      const files: string[] = [];
      for (let i = 0; i < img.batch; i++) {
        const f = img.batch === 1 ? out : out.replace(/(\.png)?$/i, `-${i + 1}.png`);
        writeFileSync(f, await encodePng(decodedImage(img, i)));
        files.push(f);
      }
      const seconds = (performance.now() - t0) / 1000;
      if (v.json) process.stdout.write(JSON.stringify({ files, seed, width: img.width, height: img.height, seconds }) + '\n');
      else process.stdout.write(`${files.join(', ')} (${img.width}×${img.height}, seed ${seed}, ${seconds.toFixed(1)} s)\n`);
    } finally {
      await pipe.release();
    }
  });
}
