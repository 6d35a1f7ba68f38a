// SEED's reference image transform on real photos (torchvision Resize((224,224)) bicubic or
// bilinear → ToTensor → Normalize(CLIP)): tsvlm's seedPixels gives the same float32 bytes.
// Reference hashes from test/data/seed-preprocess/make.py.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FIXTURES_ROOT } from '../helpers/fixtures.js';
import { decodeImage } from '../../src/processors/image.js';
import { seedPixels } from '../../src/models/seed/seed-tokenizer.js';

const data = JSON.parse(readFileSync(resolve(__dirname, '../data/seed-preprocess/cases.json'), 'utf8'));
const images = join(FIXTURES_ROOT, 'images');

describe.skipIf(!existsSync(images))('SEED preprocessing = the reference torchvision transform', () => {
  for (const c of data.cases) {
    it(`${c.image} ${c.resample} ${c.size}`, async () => {
      const px = seedPixels(await decodeImage(join(images, c.image)), c.size, c.resample);
      let sum = 0;
      for (const v of px) sum += v;
      // Diagnostics first (they say how far off a mismatch is), then the bytes.
      expect(Array.from(px.subarray(0, 4))).toEqual(c.head);
      expect(sum).toBeCloseTo(c.sum, 2);
      expect(createHash('sha256').update(new Uint8Array(px.buffer, px.byteOffset, px.byteLength)).digest('hex')).toBe(c.sha256);
    });
  }
});
