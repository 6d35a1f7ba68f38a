// tsvlm draw: text-to-image from a Stable Diffusion 1.x / 2.x diffusers folder.
import { parseArgs } from 'node:util';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { openPipelineFolder, SCHEDULER_NAMES, StableDiffusionPipeline, type DiffusionImage, type Device, type Progress } from '../index.js';

export const DRAW_USAGE = `tsvlm draw --model SD_DIR "prompt" [options]

Text-to-image with a Stable Diffusion 1.x / 2.x diffusers folder (model_index.json, unet/, vae/,
text_encoder/, tokenizer/, scheduler/), as diffusers' StableDiffusionPipeline computes it.

Options:
  --negative TEXT       negative prompt (default: "")
  --steps N             denoising steps (default 50)
  --guidance G          classifier-free guidance scale (default 7.5; ≤ 1 turns it off)
  --scheduler NAME      ${[...new Set(Object.keys(SCHEDULER_NAMES))].join(', ')} (default: the folder's scheduler)
  --seed N              seed of the torch-compatible generator (same latents as torch.Generator().manual_seed(N))
  --size WxH | N        image size, multiples of 8 (default: the UNet's sample_size × 8)
  --out FILE.png        output file (default out.png; with --batch N: FILE-1.png, …)
  --batch N             images of the same prompt (default 1)
  --variant fp16        prefer the *.fp16.safetensors weights
  --device cpu|webgpu   --json   -q, --quiet
`;

const options = {
  model: { type: 'string' },
  negative: { type: 'string' },
  steps: { type: 'string' },
  guidance: { type: 'string' },
  scheduler: { type: 'string' },
  seed: { type: 'string' },
  size: { type: 'string' },
  out: { type: 'string' },
  batch: { type: 'string' },
  variant: { type: 'string' },
  device: { type: 'string' },
  json: { type: 'boolean' },
  quiet: { type: 'boolean', short: 'q' },
  help: { type: 'boolean', short: 'h' },
} as const;

class DrawUsageError extends Error {}

/** True when the command's --model is a diffusers pipeline folder (model_index.json). */
export function isDiffusersDraw(argv: string[]): boolean {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const dir = a === '--model' ? argv[i + 1] : a.startsWith('--model=') ? a.slice('--model='.length) : undefined;
    if (dir !== undefined) return existsSync(join(dir, 'model_index.json'));
  }
  return false;
}

function int(v: string | undefined, name: string, min: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new DrawUsageError(`--${name} must be an integer ≥ ${min} (got ${JSON.stringify(v)})`);
  return n;
}

function parseSize(v: string | undefined): { width?: number; height?: number } {
  if (v === undefined) return {};
  const m = /^(\d+)(?:x(\d+))?$/i.exec(v.trim());
  if (!m) throw new DrawUsageError(`--size must be WxH or N (got ${JSON.stringify(v)})`);
  const width = Number(m[1]);
  return { width, height: m[2] ? Number(m[2]) : width };
}

/** PNG bytes of image `i` of a batch. */
export async function pngOf(img: DiffusionImage, i = 0): Promise<Buffer> {
  const n = img.width * img.height * 3;
  return sharp(Buffer.from(img.pixels.buffer, img.pixels.byteOffset + i * n, n), { raw: { width: img.width, height: img.height, channels: 3 } }).png().toBuffer();
}

export async function runDraw(argv: string[]): Promise<number> {
  let v: ReturnType<typeof parseArgs<{ options: typeof options; allowPositionals: true }>>['values'];
  let positionals: string[];
  try {
    ({ values: v, positionals } = parseArgs({ args: argv, options, allowPositionals: true, strict: true }));
  } catch (e) {
    process.stderr.write(`tsvlm draw: error: ${(e as Error).message}\n${DRAW_USAGE}`);
    return 2;
  }
  if (v.help) {
    process.stdout.write(DRAW_USAGE);
    return 0;
  }
  const ac = new AbortController();
  const onSig = () => ac.abort(new Error('interrupted'));
  process.once('SIGINT', onSig);
  try {
    const prompt = positionals.join(' ').trim();
    if (!v.model) throw new DrawUsageError('draw needs --model SD_DIR (a diffusers Stable Diffusion folder)');
    if (!prompt) throw new DrawUsageError('draw needs a prompt: tsvlm draw --model SD_DIR "a lighthouse at dusk"');
    const folder = openPipelineFolder(v.model);
    if (/UnCLIP/i.test(folder.className)) {
      throw new DrawUsageError(`${v.model} is a ${folder.className} folder: it draws from image embeddings, not prompts`);
    }
    const device = (v.device ?? 'cpu') as Device;
    if (device !== 'cpu' && device !== 'webgpu') throw new DrawUsageError(`--device must be cpu or webgpu (got ${device})`);
    const guidance = v.guidance === undefined ? undefined : Number(v.guidance);
    if (guidance !== undefined && !Number.isFinite(guidance)) throw new DrawUsageError(`--guidance must be a number (got ${JSON.stringify(v.guidance)})`);
    const batch = int(v.batch, 'batch', 1) ?? 1;
    const seed = int(v.seed, 'seed', 0) ?? Math.floor(Math.random() * 2 ** 32);
    const quiet = v.quiet || (!process.stderr.isTTY && process.env.TSVLM_PROGRESS !== '1');
    const onProgress = quiet ? undefined : (p: Progress) => process.stderr.write(`[tsvlm] ${p.stage} ${p.done}/${p.total}${p.message ? ` ${p.message}` : ''}\n`);
    const t0 = performance.now();
    const pipe = await StableDiffusionPipeline.load(v.model, { device, variant: v.variant, onProgress });
    const img = await pipe.generate({
      prompt: Array(batch).fill(prompt),
      negativePrompt: v.negative === undefined ? undefined : Array(batch).fill(v.negative),
      steps: int(v.steps, 'steps', 1),
      guidanceScale: guidance,
      scheduler: v.scheduler,
      seed,
      ...parseSize(v.size),
      signal: ac.signal,
      onProgress,
    });
    await pipe.release();
    const out = v.out ?? 'out.png';
    const files: string[] = [];
    for (let i = 0; i < img.batch; i++) {
      const f = img.batch === 1 ? out : out.replace(/(\.png)?$/i, `-${i + 1}.png`);
      writeFileSync(f, await pngOf(img, i));
      files.push(f);
    }
    const seconds = (performance.now() - t0) / 1000;
    if (v.json) process.stdout.write(JSON.stringify({ files, seed, width: img.width, height: img.height, seconds }) + '\n');
    else process.stdout.write(`${files.join(', ')} (${img.width}×${img.height}, seed ${seed}, ${seconds.toFixed(1)} s)\n`);
    return 0;
  } catch (e) {
    const usage = e instanceof DrawUsageError;
    process.stderr.write(`tsvlm draw: error: ${(e as Error).message}\n`);
    if (usage) process.stderr.write('run "tsvlm draw --help" for usage\n');
    return usage ? 2 : 1;
  } finally {
    process.off('SIGINT', onSig);
  }
}
