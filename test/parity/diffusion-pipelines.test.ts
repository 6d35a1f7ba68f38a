// End-to-end Stable Diffusion parity: SEED v2's unCLIP decode (unclip fixtures, e / e2 cases) and
// SEED v1's PLMS sampling (sd-v1 fixtures, e case) — every UNet call, the latents after every
// step, the VAE output and the final image (uint8 within ±1).
import { describe, it, expect } from 'vitest';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES_ROOT, discoverFixtures, checkTensor, type Fixture, type FixtureCase } from '../helpers/fixtures.js';
import { StableUnCLIPPipeline } from '../../src/models/diffusion/pipeline_stable_unclip.js';
import { StableDiffusionPipeline } from '../../src/models/diffusion/pipeline_stable_diffusion.js';
import type { DenoiseCall } from '../../src/models/diffusion/denoise.js';
import { assembleTinyUnclipWithText, haveTinySdSources } from '../helpers/tiny-sd.js';
import { SeedImageRenderer, decodeCodesToImages } from '../../src/models/diffusion/image-renderer.js';
import { loadModel } from '../../src/index.js';
import { openFixture, compare, report } from '../helpers/fixtures.js';
import { FIXTURES_ROOT as ROOT } from '../helpers/fixtures.js';
import { SafetensorsFile, toFloat32 } from '../../src/io/safetensors.js';

const fixtures = discoverFixtures((_cfg, dir) => existsSync(join(dir, 'model_index.json')) && existsSync(join(dir, 'unet')));
if (!fixtures.length) it.skip(`no matching fixtures under ${FIXTURES_ROOT}`, () => {});

/** Stacks per-call arrays → one array. */
const stack = (xs: Float32Array[]) => {
  const out = new Float32Array(xs.reduce((a, x) => a + x.length, 0));
  let o = 0;
  for (const x of xs) (out.set(x, o), (o += x.length));
  return out;
};

function checkCalls(fx: Fixture, c: FixtureCase, p: string, calls: DenoiseCall[], latentCalls: DenoiseCall[]) {
  const has = (k: string) => c.outputs.includes(`${p}.${k}`);
  if (has('timesteps')) expect(calls.map((k) => k.timestep)).toEqual(fx.ints(`${p}.timesteps`));
  if (has('unet_inputs')) checkTensor(fx, c, `${p}.unet_inputs`, stack(calls.map((k) => k.unetInput)));
  if (has('unet_outputs')) checkTensor(fx, c, `${p}.unet_outputs`, stack(calls.map((k) => k.unetOutput)));
  if (has('guided')) {
    // The guidance arithmetic itself, on the recorded UNet outputs: the fixture's tolerance.
    const g = c.facts!.guidance_scale as number;
    const rec = fx.f32(`${p}.unet_outputs`);
    const n = rec.length / calls.length / 2;
    const fromRecorded = new Float32Array(n * calls.length);
    for (let k = 0; k < calls.length; k++) {
      for (let i = 0; i < n; i++) {
        const u = rec[2 * k * n + i]!, t = rec[(2 * k + 1) * n + i]!;
        fromRecorded[k * n + i] = Math.fround(u + Math.fround(g * Math.fround(t - u)));
      }
    }
    checkTensor(fx, c, `${p}.guided`, fromRecorded);
    // Along our own chain the guided prediction is uncond + g·(cond − uncond) of our UNet outputs,
    // which pass at the fixture's tolerance: their differences reach it multiplied by up to 2g + 1.
    checkTensor(fx, c, `${p}.guided`, stack(calls.map((k) => k.guided)), undefined, { abs: (2 * g + 1) * c.tolerance.abs, rel: c.tolerance.rel });
  }
  checkTensor(fx, c, `${p}.latents_after_step`, stack(latentCalls.map((k) => k.latents)));
}

/** How many uint8 values differ from the fixture's (all within ±1 when checkTensor passed). */
function differing(fx: Fixture, key: string, got: Uint8Array): void {
  const want = fx.f32(key);
  let n = 0;
  for (let i = 0; i < want.length; i++) if (want[i] !== got[i]) n++;
  console.log(`  ${key}: ${n} of ${want.length} values differ by 1`);
}

const byName = (fx: Fixture, n: string) => fx.cases.find((c) => c.name === n);

describe.each(fixtures.map((f) => [f.name, f] as [string, Fixture]))('diffusion pipelines %s', (_name, fx) => {
  const isUnclip = existsSync(join(fx.dir, 'image_normalizer'));

  for (const [name, p] of [['e_end_to_end_seed_call', 'e'], ['e2_end_to_end_negative_embeds', 'e2']] as const) {
    const c = byName(fx, name);
    if (!c || !isUnclip) continue;
    it(`${name}: SEED unCLIP decode, step by step`, async () => {
      const pipe = await StableUnCLIPPipeline.load(fx.dir);
      const lat = fx.shape(`${p}.latents`) as [number, number, number, number];
      const calls: DenoiseCall[] = [];
      const img = await pipe.generate(fx.f32(`${p}.image_embeds`), {
        negativeImageEmbeds: fx.has(`${p}.negative_image_embeds`) ? fx.f32(`${p}.negative_image_embeds`) : undefined,
        promptEmbeds: { data: fx.f32(`${p}.empty_prompt_embeds`), dims: fx.shape(`${p}.empty_prompt_embeds`) },
        latents: fx.f32(`${p}.latents`),
        seed: c.facts!.generator_seed,
        steps: c.facts!.num_inference_steps ?? fx.casesJson.sizes?.neg_steps,
        guidanceScale: c.facts!.guidance_scale ?? fx.casesJson.sizes?.guidance,
        height: lat[2] * pipe.vae.scale,
        width: lat[3] * pipe.vae.scale,
        onCall: (k) => calls.push(k),
      });
      checkCalls(fx, c, p, calls, calls);
      if (c.outputs.includes(`${p}.decoded`)) checkTensor(fx, c, `${p}.decoded`, img.decoded);
      checkTensor(fx, c, `${p}.image_float`, img.imageFloat);
      checkTensor(fx, c, `${p}.image_u8`, img.pixels);
      differing(fx, `${p}.image_u8`, img.pixels);
      await pipe.release();
    }, 120_000);
  }

  const v1 = byName(fx, 'e_end_to_end_seed_v1_plms');
  if (v1) it('e_end_to_end_seed_v1_plms: SEED v1 PLMS sampling from 77×768 embeddings, truncated uint8', async () => {
    const pipe = await StableDiffusionPipeline.load(fx.dir);
    const lat = fx.shape('e.latents') as [number, number, number, number];
    const calls: DenoiseCall[] = [];
    const img = await pipe.generate({
      promptEmbeds: { data: fx.f32('e.text_embeds'), dims: fx.shape('e.text_embeds') },
      negativePromptEmbeds: { data: fx.f32('e.uncond_embeds'), dims: fx.shape('e.uncond_embeds') },
      latents: fx.f32('e.latents'),
      scheduler: 'plms',
      steps: v1.facts!.ddim_steps_S,
      guidanceScale: v1.facts!.guidance_scale,
      height: lat[2] * pipe.vae.scale,
      width: lat[3] * pipe.vae.scale,
      toUint8: 'truncate',
      onCall: (k) => calls.push(k),
    });
    // The first call is the first half of PLMS's pseudo improved Euler step: latents are recorded per step.
    checkCalls(fx, v1, 'e', calls, calls.slice(1));
    checkTensor(fx, v1, 'e.decoded', img.decoded);
    checkTensor(fx, v1, 'e.image_float', img.imageFloat);
    checkTensor(fx, v1, 'e.image_u8_seed_v1', img.pixels);
    differing(fx, 'e.image_u8_seed_v1', img.pixels);
    const rounded = await pipe.decode(img.latents, img.latentShape, 'round');
    checkTensor(fx, v1, 'e.image_u8_round', rounded.pixels);
    differing(fx, 'e.image_u8_round', rounded.pixels);
    await pipe.release();
  }, 120_000);
});

describe.skipIf(!haveTinySdSources)('unCLIP with a text encoder in the folder', () => {
  it('the empty-prompt embedding comes from text_encoder/ + tokenizer/ (= encode_prompt of "")', async () => {
    const pipe = await StableUnCLIPPipeline.load(assembleTinyUnclipWithText());
    const e = await pipe.emptyPromptEmbeds();
    const st = SafetensorsFile.open(join(ROOT, 'clip-text-sd2-tiny', 'cases.safetensors'));
    const want = toFloat32(st.readBytes('negative_prompt_embeds'), 'F32');
    expect(e.dims).toEqual([1, 77, 32]);
    let worst = 0;
    for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(e.data[i]! - want[i]!));
    expect(worst).toBeLessThan(1e-4);
    const img = await pipe.generate(new Float32Array(64).fill(0.1), { steps: 2, seed: 3, height: 32, width: 32 });
    expect([img.width, img.height, img.pixels.length]).toEqual([32, 32, 32 * 32 * 3]);
    await pipe.release();
  });
});

const seedTokDir = join(ROOT, 'seed-tokenizer-tiny');
describe.skipIf(!existsSync(join(seedTokDir, 'cases.json')) || !existsSync(join(ROOT, 'unclip-tiny', 'cases.json')))('SEED de-tokenizer in the library', () => {
  it('decodeCodesToImages: the tokenizer fixture\'s codes → the unclip fixture image (±1)', async () => {
    const unclip = openFixture(join(ROOT, 'unclip-tiny'));
    const e = unclip.cases.find((c) => c.name === 'e_end_to_end_seed_call')!;
    const tok = await loadModel(seedTokDir);
    if (tok.kind !== 'image-tokenizer') throw new Error('seed-tokenizer-tiny did not load as an image tokenizer');
    const renderer = await SeedImageRenderer.load(unclip.dir, {
      steps: e.facts!.num_inference_steps, guidanceScale: e.facts!.guidance_scale, latents: unclip.f32('e.latents'),
      emptyPromptEmbeds: { data: unclip.f32('e.empty_prompt_embeds'), dims: unclip.shape('e.empty_prompt_embeds') },
    });
    expect(renderer.kind).toBe('unclip');
    const codes = openFixture(seedTokDir).ints('codes').slice(0, 32);
    const [img] = await decodeCodesToImages(tok, renderer, [codes], { seed: e.facts!.generator_seed });
    expect([img!.width, img!.height]).toEqual([128, 128]);
    const tol = { abs: 1, rel: 0 };
    report('unclip-tiny', 'decodeCodesToImages', 'e.image_u8', compare(img!.data, unclip.f32('e.image_u8'), tol), tol);
    await renderer.dispose();
    await tok.dispose();
  });
});

