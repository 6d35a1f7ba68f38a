// Plain text-to-image parity: StableDiffusionPipeline on the tiny SD 2.x-shaped folder
// (test/helpers/tiny-sd.ts) against diffusers 0.20.2's pipeline steps with the same components
// (test/data/diffusion/make_txt2img.py): prompt and "" embeddings, the latents torch draws from
// manual_seed(7), the latents after every step for PNDM / DDIM / DPM-Solver++ / Euler (the
// folder's PNDM config through from_config, so "leading" spacing everywhere), the uint8 image.
import { describe, it, expect, beforeAll } from 'vitest';
import { join } from 'node:path';
import { SafetensorsFile, toFloat32 } from '../../src/io/safetensors.js';
import { compare, report } from '../helpers/fixtures.js';
import { assembleTinySd, haveTinySdSources } from '../helpers/tiny-sd.js';
import { StableDiffusionPipeline } from '../../src/models/diffusion/pipeline_stable_diffusion.js';
import { TorchGenerator } from '../../src/models/diffusion/torch-random.js';
import type { DenoiseCall } from '../../src/models/diffusion/denoise.js';

const ref = SafetensorsFile.open(join(__dirname, '../data/diffusion/txt2img.safetensors'));
const t = (k: string) => toFloat32(ref.readBytes(k), ref.tensors.get(k)!.dtype);
const meta = ref.metadata;
const TOL = { abs: 1e-4, rel: 1e-4 }; // the unclip-tiny fixture's end-to-end tolerance (same UNet, VAE, schedulers)

describe.skipIf(!haveTinySdSources)('text-to-image vs diffusers (tiny SD 2.x folder)', () => {
  let pipe: StableDiffusionPipeline;
  beforeAll(async () => {
    pipe = await StableDiffusionPipeline.load(assembleTinySd());
  });

  it('prompt and negative embeddings', async () => {
    for (const [key, text] of [['prompt_embeds', meta.prompt!], ['negative_prompt_embeds', '']] as const) {
      const e = await pipe.encodePrompt([text]);
      const c = compare(e.data, t(key), TOL);
      report('tiny-sd', 'txt2img', key, c, TOL);
    }
  });

  for (const name of ['pndm', 'ddim', 'dpmpp2m', 'euler']) {
    it(`${name}: seeded latents, every step, the image`, async () => {
      const seed = Number(meta.seed);
      const noise = t(`${name}.initial_noise`);
      const drawn = new TorchGenerator(seed).randn(noise.length);
      report('tiny-sd', name, 'initial_noise', compare(drawn, noise, { abs: 2.4e-7, rel: 0 }), { abs: 2.4e-7, rel: 0 });
      const calls: DenoiseCall[] = [];
      const img = await pipe.generate({
        prompt: meta.prompt!, seed, steps: Number(meta.steps), guidanceScale: Number(meta.guidance),
        height: Number(meta.height), width: Number(meta.width), scheduler: name, onCall: (k) => calls.push(k),
      });
      expect(calls.map((k) => k.timestep)).toEqual(Array.from(t(`${name}.timesteps`)));
      const lat = new Float32Array(calls.length * calls[0]!.latents.length);
      calls.forEach((k, i) => lat.set(k.latents, i * k.latents.length));
      report('tiny-sd', name, 'latents_after_step', compare(lat, t(`${name}.latents_after_step`), TOL), TOL);
      const u8 = { abs: 1, rel: 0 };
      report('tiny-sd', name, 'image_u8', compare(img.pixels, t(`${name}.image_u8`), u8), u8);
    });
  }

  it('AbortSignal stops between steps; progress reports every model call with s/step', async () => {
    const ac = new AbortController();
    const seen: string[] = [];
    const run = pipe.generate({
      prompt: 'x', seed: 1, steps: 5, height: 32, width: 32, signal: ac.signal,
      onProgress: (p) => {
        seen.push(`${p.stage} ${p.done}/${p.total} ${p.message}`);
        if (p.done === 2) ac.abort(new Error('stop here'));
      },
    });
    await expect(run).rejects.toThrow('stop here');
    expect(seen).toHaveLength(2);
    expect(seen[0]).toMatch(/^denoise 1\/6 t=\d+ [\d.]+ s\/step$/);
  });
});

