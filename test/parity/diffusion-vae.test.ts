// AutoencoderKL parity against diffusers 0.20.2 (fixtures with a vae/ component): c_vae_decode
// stage by stage with the post-processing, the end-to-end case's final decode, and encode
// against test/data/diffusion (made by test/data/diffusion/make_vae_encode.py).
import { describe, it, expect } from 'vitest';
import { existsSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FIXTURES_ROOT, discoverFixtures, checkTensor, compare, report, DEVICE, deviceTolerance, type Fixture } from '../helpers/fixtures.js';
import { AutoencoderKL } from '../../src/models/diffusion/autoencoder_kl.js';
import { vaeOutputToImage, imageToUint8 } from '../../src/models/diffusion/image_processor.js';
import { SafetensorsFile, toFloat32 } from '../../src/io/safetensors.js';

const fixtures = discoverFixtures((_cfg, dir) => existsSync(join(dir, 'vae', 'config.json')));
if (!fixtures.length) it.skip(`no diffusers VAE fixtures under ${FIXTURES_ROOT}`, () => {});

const STAGES: Record<string, string> = {
  'c.post_quant_conv': 'post_quant_conv', 'c.decoder_conv_in': 'decoder_conv_in', 'c.decoder_mid': 'decoder_mid',
  'c.decoder_up0': 'decoder_up0', 'c.decoder_up1': 'decoder_up1', 'c.decoder_up2': 'decoder_up2', 'c.decoder_up3': 'decoder_up3',
  'c.decoder_out': 'sample',
};

describe.each(fixtures.map((f) => [f.name, f] as [string, Fixture]))('AutoencoderKL parity %s', (_name, fx) => {
  const tol = deviceTolerance();
  const vae = AutoencoderKL.load(join(fx.dir, 'vae'), { intermediates: true, device: DEVICE });

  const c = fx.cases.find((x) => x.name === 'c_vae_decode');
  if (c) it('c_vae_decode', async () => {
    const out = await vae.decodeAll(fx.f32('c.latents'), fx.shape('c.latents'));
    const img = vaeOutputToImage(out.sample!.data as Float32Array, out.sample!.dims);
    const got: Record<string, ArrayLike<number>> = { 'c.image_float': img };
    for (const key of c.outputs) {
      if (STAGES[key]) got[key] = out[STAGES[key]]!.data as Float32Array;
      // u8: diffusers rounds (numpy_to_pil); SEED v1 truncates.
      else if (key.startsWith('c.image_u8')) got[key] = imageToUint8(img, key.endsWith('seed_v1') ? 'truncate' : 'round');
    }
    for (const key of c.outputs) {
      expect(got[key], `no value computed for ${key}`).toBeDefined();
      checkTensor(fx, c, key, got[key]!, undefined, key.startsWith('c.image_u8') ? undefined : tol);
    }
  });

  const e = fx.cases.find((x) => x.name.startsWith('e_') && x.outputs.includes('e.decoded'));
  if (e) it(`${e.name} (final decode)`, async () => {
    const steps = fx.shape('e.latents_after_step');
    const per = steps.slice(1).reduce((a, x) => a * x, 1);
    const all = fx.f32('e.latents_after_step');
    const { image } = await vae.decode(all.subarray(all.length - per), steps.slice(1));
    checkTensor(fx, e, 'e.decoded', image, undefined, tol);
  });
});

const here = dirname(fileURLToPath(import.meta.url));
const encPath = join(here, '../data/diffusion/vae-encode.safetensors');
const unclipVae = join(FIXTURES_ROOT, 'unclip-tiny', 'vae');
describe.runIf(existsSync(encPath) && existsSync(unclipVae))('AutoencoderKL encode (unclip-tiny vae)', () => {
  it('latent_dist mean / logvar and scaled latents', async () => {
    const st = SafetensorsFile.open(encPath);
    const get = (k: string) => toFloat32(st.readBytes(k), st.tensors.get(k)!.dtype);
    const vae = AutoencoderKL.load(unclipVae, { device: DEVICE });
    const dist = await vae.encode(get('image'), st.tensors.get('image')!.shape);
    const tol = deviceTolerance() ?? { abs: 1e-4, rel: 1e-4 };
    report('vae-encode', 'encode', 'mean', compare(dist.mean, get('mean'), tol), tol);
    report('vae-encode', 'encode', 'logvar', compare(dist.logvar, get('logvar'), tol), tol);
    const lat = AutoencoderKL.latentsOf(dist, vae.scalingFactor, get('noise'));
    report('vae-encode', 'encode', 'latents', compare(lat, get('latents'), tol), tol);
    expect(dist.shape).toEqual(st.tensors.get('mean')!.shape);
  });
});
