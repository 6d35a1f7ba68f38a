// tsvlm reconstruct: image → SEED codes → image (as SEED's demo_recon does): the image tokenizer
// encodes, its decoder gives the generation embedding, a Stable Diffusion folder renders it
// (unCLIP 2.1 for SEED v2, SD 1.4 + PLMS for SEED v1). Prints the codes.
import { parseArgs } from 'node:util';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { SafetensorsFile, toFloat32 } from '../io/safetensors.js';
import { loadModel, SeedImageRenderer, type ImageTokenizer, type Progress } from '../index.js';
import { encodePng } from './drawn-images.js';

export const RECONSTRUCT_USAGE = `tsvlm reconstruct --model SEED_DIR --diffusion SD_DIR --image FILE [--out FILE.png] [options]

Image → codes → image: encodes the image with a SEED image tokenizer, prints its codes, decodes
them to the generation embedding and renders that with the diffusers folder (stable-diffusion-2-1-unclip
for SEED v2, stable-diffusion-v1-4 for SEED v1), as SEED's demo does.

Options:
  --out FILE.png        output (default recon.png)
  --seed N              seed of the torch-compatible generator (latents, embedding noise)
  --steps N             denoising steps (SEED: 20 for unCLIP, 50 for SD 1.x)
  --guidance G          guidance scale (SEED: 10 for unCLIP, 7.5 for SD 1.x)
  --latents FILE[:NAME]        initial latents from a safetensors tensor instead of the seed
  --prompt-embeds FILE[:NAME]  the empty-prompt text embedding [1, 77, D] when SD_DIR has no
                               text_encoder/ (safetensors tensor)
  --variant fp16  --json  -q, --quiet
`;

const options = {
  model: { type: 'string' },
  diffusion: { type: 'string' },
  image: { type: 'string' },
  out: { type: 'string' },
  seed: { type: 'string' },
  steps: { type: 'string' },
  guidance: { type: 'string' },
  latents: { type: 'string' },
  'prompt-embeds': { type: 'string' },
  variant: { type: 'string' },
  json: { type: 'boolean' },
  quiet: { type: 'boolean', short: 'q' },
  help: { type: 'boolean', short: 'h' },
} as const;

class ReconstructUsageError extends Error {}

function int(v: string | undefined, name: string, min: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new ReconstructUsageError(`--${name} must be an integer ≥ ${min} (got ${JSON.stringify(v)})`);
  return n;
}

/** A float tensor from FILE.safetensors[:NAME] (NAME may be omitted when the file holds one tensor). */
export function readTensorArg(arg: string, flag: string): { data: Float32Array; dims: number[] } {
  const colon = arg.lastIndexOf(':');
  const [file, name] = colon > 0 && !existsSync(arg) ? [arg.slice(0, colon), arg.slice(colon + 1)] : [arg, undefined];
  if (!existsSync(file)) throw new ReconstructUsageError(`--${flag}: ${file} does not exist`);
  const st = SafetensorsFile.open(file);
  const names = [...st.tensors.keys()];
  const key = name ?? (names.length === 1 ? names[0] : undefined);
  if (key === undefined) throw new ReconstructUsageError(`--${flag}: ${file} holds ${names.length} tensors; name one as ${file}:NAME`);
  const info = st.tensors.get(key);
  if (!info) throw new ReconstructUsageError(`--${flag}: ${file} has no tensor ${key}`);
  return { data: toFloat32(st.readBytes(key), info.dtype), dims: info.shape };
}

export async function runReconstruct(argv: string[]): Promise<number> {
  let v: ReturnType<typeof parseArgs<{ options: typeof options; allowPositionals: false }>>['values'];
  try {
    ({ values: v } = parseArgs({ args: argv, options, allowPositionals: false, strict: true }));
  } catch (e) {
    process.stderr.write(`tsvlm reconstruct: error: ${(e as Error).message}\n${RECONSTRUCT_USAGE}`);
    return 2;
  }
  if (v.help) {
    process.stdout.write(RECONSTRUCT_USAGE);
    return 0;
  }
  let tokenizer: ImageTokenizer | undefined;
  let renderer: SeedImageRenderer | undefined;
  const ac = new AbortController();
  const onSig = () => ac.abort(new Error('interrupted'));
  process.once('SIGINT', onSig);
  try {
    if (!v.model) throw new ReconstructUsageError('reconstruct needs --model SEED_DIR (a SEED image tokenizer)');
    if (!v.diffusion) throw new ReconstructUsageError('reconstruct needs --diffusion SD_DIR (stable-diffusion-2-1-unclip for SEED v2, SD 1.4 for v1)');
    if (!v.image) throw new ReconstructUsageError('reconstruct needs --image FILE');
    if (!existsSync(v.image)) throw new ReconstructUsageError(`image file ${v.image} does not exist`);
    const guidance = v.guidance === undefined ? undefined : Number(v.guidance);
    if (guidance !== undefined && !Number.isFinite(guidance)) throw new ReconstructUsageError(`--guidance must be a number (got ${JSON.stringify(v.guidance)})`);
    const latents = v.latents ? readTensorArg(v.latents, 'latents').data : undefined;
    const emptyPromptEmbeds = v['prompt-embeds'] ? readTensorArg(v['prompt-embeds'], 'prompt-embeds') : undefined;
    const seed = int(v.seed, 'seed', 0) ?? Math.floor(Math.random() * 2 ** 32);
    const steps = int(v.steps, 'steps', 1);
    const quiet = v.quiet || (!process.stderr.isTTY && process.env.TSVLM_PROGRESS !== '1');
    const onProgress = quiet ? undefined : (p: Progress) => process.stderr.write(`[tsvlm] ${p.stage} ${p.done}/${p.total}${p.message ? ` ${p.message}` : ''}\n`);

    const m = await loadModel(v.model, { onProgress });
    if (m.kind !== 'image-tokenizer') {
      await m.dispose();
      throw new ReconstructUsageError(`${v.model} is not an image tokenizer (${m.info.modelType}); reconstruct needs a SEED tokenizer folder`);
    }
    tokenizer = m;
    const [codes] = await tokenizer.encode([new Uint8Array(readFileSync(v.image))]);
    process.stdout.write(v.json ? '' : `${codes!.join(' ')}\n`);
    const [embedding] = await tokenizer.decode([codes!]);
    renderer = await SeedImageRenderer.load(v.diffusion, { variant: v.variant, steps, guidanceScale: guidance, latents, emptyPromptEmbeds, onProgress });
    const want = renderer.kind === 'unclip' ? 'a [1024]-style unCLIP image embedding (SEED v2)' : 'a [77, 768] embedding (SEED v1)';
    const shape = tokenizer.embeddingShape;
    if ((renderer.kind === 'unclip') !== (shape.length === 1)) {
      throw new ReconstructUsageError(`${v.diffusion} renders ${want}, but ${v.model} decodes to [${shape}]`);
    }
    const [image] = await renderer.render([embedding!], { seed, signal: ac.signal, onProgress });
    const out = v.out ?? 'recon.png';
    writeFileSync(out, await encodePng(image!));
    if (v.json) process.stdout.write(JSON.stringify({ codes, file: out, seed, width: image!.width, height: image!.height }) + '\n');
    else process.stdout.write(`${out} (${image!.width}×${image!.height}, seed ${seed})\n`);
    return 0;
  } catch (e) {
    const usage = e instanceof ReconstructUsageError;
    process.stderr.write(`tsvlm reconstruct: error: ${(e as Error).message}\n`);
    if (usage) process.stderr.write('run "tsvlm reconstruct --help" for usage\n');
    return usage ? 2 : 1;
  } finally {
    process.off('SIGINT', onSig);
    await renderer?.dispose();
    await tokenizer?.dispose();
  }
}
