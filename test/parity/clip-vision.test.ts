// unCLIP image encoder parity (image variations): CLIPImageProcessor's slow path + transformers'
// CLIPVisionModelWithProjection on a tiny random model (test/data/diffusion/make_clip_vision.py).
import { describe, it, expect } from 'vitest';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { SafetensorsFile, toFloat32 } from '../../src/io/safetensors.js';
import { FIXTURES_ROOT, compare, report } from '../helpers/fixtures.js';
import { ClipImageEncoder, clipImagePixels } from '../../src/models/diffusion/clip_vision_model.js';
import { decodeImage } from '../../src/processors/image.js';

const dir = join(__dirname, '../data/diffusion/clip-vision-tiny');
const images = join(FIXTURES_ROOT, 'images');

describe.skipIf(!existsSync(join(images, 'chelsea.png')))('CLIP image encoder (unCLIP image_encoder/)', () => {
  const ref = SafetensorsFile.open(join(dir, 'cases.safetensors'));
  const t = (k: string) => toFloat32(ref.readBytes(k), ref.tensors.get(k)!.dtype);
  const files = ref.metadata.images!.split(',').map((f) => join(images, f));

  it('preprocessing: shortest edge, bicubic, center crop, CLIP normalisation', async () => {
    const enc = await ClipImageEncoder.load(join(dir, 'image_encoder'), join(dir, 'feature_extractor'));
    const want = t('pixel_values');
    const n = want.length / files.length;
    for (let i = 0; i < files.length; i++) {
      const got = clipImagePixels(await decodeImage(files[i]!), enc.processor);
      const tol = { abs: 1e-6, rel: 0 };
      report('clip-vision-tiny', 'preprocess', files[i]!, compare(got, want.subarray(i * n, (i + 1) * n), tol), tol);
    }
    const emb = await enc.embed(files);
    expect(emb.length).toBe(files.length * 64);
    const tol = { abs: 1e-5, rel: 1e-5 };
    report('clip-vision-tiny', 'encoder', 'image_embeds', compare(emb, t('image_embeds'), tol), tol);
    await enc.release();
  });
});
