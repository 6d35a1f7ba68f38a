// tsvlm reconstruct: image → SEED codes → image (as SEED's demo_recon does): the image tokenizer
// encodes, its decoder gives the generation embedding, a Stable Diffusion folder renders it
// (unCLIP 2.1 for SEED v2, SD 1.4 + PLMS for SEED v1). Prints the codes.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { SafetensorsFile, toFloat32 } from '../io/safetensors.js';
import { loadModel, resolveModelRef, SeedImageRenderer } from '../index.js';
import { DIFFUSION_OPTIONS, DiffusionUsageError, intFlag, numberFlag, progressPrinter, randomSeed, runCommand } from './diffusion-cli.js';
import { encodePng } from '../processors/image-encode.js';
import { resolveDevice } from '../graph/session.js';
import { checkDevice } from './commands.js';

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
  --variant fp16  --device cpu|webgpu|auto  --json  -q, --quiet
`;

const options = {
  ...DIFFUSION_OPTIONS,
  diffusion: { type: 'string' },
  image: { type: 'string' },
  latents: { type: 'string' },
  'prompt-embeds': { type: 'string' },
} as const;

/** A float tensor from FILE.safetensors[:NAME] (NAME may be omitted when the file holds one tensor). */
export function readTensorArg(arg: string, flag: string): { data: Float32Array; dims: number[] } {
  const colon = arg.lastIndexOf(':');
  const [file, name] = colon > 0 && !existsSync(arg) ? [arg.slice(0, colon), arg.slice(colon + 1)] : [arg, undefined];
  if (!existsSync(file)) throw new DiffusionUsageError(`--${flag}: ${file} does not exist`);
  const st = SafetensorsFile.open(file);
  const names = [...st.tensors.keys()];
  const key = name ?? (names.length === 1 ? names[0] : undefined);
  if (key === undefined) throw new DiffusionUsageError(`--${flag}: ${file} holds ${names.length} tensors; name one as ${file}:NAME`);
  const info = st.tensors.get(key);
  if (!info) throw new DiffusionUsageError(`--${flag}: ${file} has no tensor ${key}`);
  return { data: toFloat32(st.readBytes(key), info.dtype), dims: info.shape };
}

export async function runReconstruct(argv: string[]): Promise<number> {
  return runCommand('reconstruct', RECONSTRUCT_USAGE, argv, options, async (v, positionals, signal) => {
    if (positionals.length) throw new DiffusionUsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
    if (!v.model) throw new DiffusionUsageError('reconstruct needs --model SEED_DIR (a SEED image tokenizer)');
    if (!v.diffusion) throw new DiffusionUsageError('reconstruct needs --diffusion SD_DIR (stable-diffusion-2-1-unclip for SEED v2, SD 1.4 for v1)');
    if (!v.image) throw new DiffusionUsageError('reconstruct needs --image FILE');
    if (!existsSync(v.image)) throw new DiffusionUsageError(`image file ${v.image} does not exist`);
    const guidanceScale = numberFlag(v.guidance, 'guidance');
    const latents = v.latents ? readTensorArg(v.latents, 'latents').data : undefined;
    const emptyPromptEmbeds = v['prompt-embeds'] ? readTensorArg(v['prompt-embeds'], 'prompt-embeds') : undefined;
    const seed = intFlag(v.seed, 'seed', 0) ?? randomSeed();
    const steps = intFlag(v.steps, 'steps', 1);
    const onProgress = progressPrinter(v.quiet);
    const device = await resolveDevice(checkDevice(v.device));

    const m = await loadModel(v.model, { device, onProgress });
    let renderer: SeedImageRenderer | undefined;
    try {
      if (m.kind !== 'image-tokenizer') throw new DiffusionUsageError(`${v.model} is not an image tokenizer (${m.info.modelType}); reconstruct needs a SEED tokenizer folder`);
      const [codes] = await m.encode([new Uint8Array(readFileSync(v.image))]);
      if (!v.json) process.stdout.write(`${codes!.join(' ')}\n`);
      const [embedding] = await m.decode([codes!]);
      renderer = await SeedImageRenderer.load(await resolveModelRef(v.diffusion, { onProgress }), { device, variant: v.variant, steps, guidanceScale, latents, emptyPromptEmbeds, onProgress });
      if ((renderer.kind === 'unclip') !== (m.embeddingShape.length === 1)) {
        const want = renderer.kind === 'unclip' ? 'a [1024]-style unCLIP image embedding (SEED v2)' : 'a [77, 768] embedding (SEED v1)';
        throw new DiffusionUsageError(`${v.diffusion} renders ${want}, but ${v.model} decodes to [${m.embeddingShape}]`);
      }
      const [image] = await renderer.render([embedding!], { seed, signal, onProgress });
      const out = v.out ?? 'recon.png';
      writeFileSync(out, await encodePng(image!));
      if (v.json) process.stdout.write(JSON.stringify({ codes, file: out, seed, width: image!.width, height: image!.height }) + '\n');
      else process.stdout.write(`${out} (${image!.width}×${image!.height}, seed ${seed})\n`);
    } finally {
      await renderer?.dispose();
      await m.dispose();
    }
  });
}
