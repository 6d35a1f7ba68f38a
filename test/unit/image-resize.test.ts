// Resize: Pillow Image.resize results (sha256 in test/data/images/expected.json, made by
// generate.py) for up/down/odd scales, 1-pixel sides, one unchanged axis and source boxes, on an
// RGB noise image and an L image; plus argument checks and a speed sanity check.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { decodeImagePixels } from '../../src/processors/image.js';
import { resize, resampleFilter, precomputeCoeffs, type Pixels } from '../../src/processors/resize.js';

const dataDir = join(dirname(fileURLToPath(import.meta.url)), '../data/images');
const expected = JSON.parse(readFileSync(join(dataDir, 'expected.json'), 'utf8'));
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

async function load(file: string): Promise<Pixels> {
  const raw = await decodeImagePixels(join(dataDir, file));
  return { width: raw.width, height: raw.height, channels: raw.mode.length, data: raw.data };
}

describe('resize matches Pillow Image.resize (8-bit)', () => {
  const cases: any[] = expected.resize;
  for (const src of [...new Set(cases.map((c) => c.src as string))]) {
    it(`${src}: ${cases.filter((c) => c.src === src).length} bilinear/bicubic cases`, async () => {
      const img = await load(src);
      const bad: string[] = [];
      for (const c of cases.filter((x) => x.src === src)) {
        const r = resize(img, c.width, c.height, c.filter, c.box ?? undefined);
        expect(r.data.length).toBe(c.width * c.height * img.channels);
        if (sha256(r.data) !== c.sha256) bad.push(`${c.filter} ${c.width}x${c.height} box ${JSON.stringify(c.box)}`);
      }
      expect(bad, `results differing from Pillow`).toEqual([]);
    });
  }
});

describe('resize details', () => {
  it('same size and full box: a copy, as Image.resize returns', async () => {
    const img = await load('rgb-noise.png');
    const r = resize(img, img.width, img.height, 'bicubic');
    expect(r.data).toEqual(img.data);
    expect(r.data).not.toBe(img.data);
  });

  it('coefficients of each output pixel sum to ~1 in fixed point and stay inside the image', () => {
    for (const [inSize, outSize] of [[4000, 384], [131, 448], [7, 3], [1, 5]] as const) {
      for (const f of ['bilinear', 'bicubic'] as const) {
        const { ksize, bounds, kk } = precomputeCoeffs(inSize, 0, inSize, outSize, f);
        for (let x = 0; x < outSize; x++) {
          const [xmin, n] = [bounds[2 * x]!, bounds[2 * x + 1]!];
          expect(xmin).toBeGreaterThanOrEqual(0);
          expect(xmin + n).toBeLessThanOrEqual(inSize);
          expect(n).toBeLessThanOrEqual(ksize);
          let s = 0;
          for (let k = 0; k < n; k++) s += kk[x * ksize + k]!;
          expect(Math.abs(s - 2 ** 22)).toBeLessThanOrEqual(n); // one rounding per tap at most
        }
      }
    }
  });

  it('filters by Pillow code or name; others are refused by name', () => {
    expect(resampleFilter(2)).toBe('bilinear');
    expect(resampleFilter(3)).toBe('bicubic');
    expect(resampleFilter('BICUBIC')).toBe('bicubic');
    expect(() => resampleFilter(1)).toThrow(/lanczos.*not supported/);
    expect(() => resampleFilter(0)).toThrow(/nearest/);
  });

  it('invalid sizes, buffers and boxes', () => {
    const img: Pixels = { width: 4, height: 3, channels: 3, data: new Uint8Array(36) };
    expect(() => resize(img, 0, 3, 'bilinear')).toThrow(/positive integers/);
    expect(() => resize(img, 2.5, 3, 'bilinear')).toThrow(/positive integers/);
    expect(() => resize({ ...img, data: new Uint8Array(35) }, 2, 2, 'bilinear')).toThrow(/35 bytes/);
    expect(() => resize(img, 2, 2, 'bilinear', [0, 0, 5, 3])).toThrow(/not inside/);
  });

  it('a 4000x3000 photo resizes in well under a few seconds', () => {
    const w = 4000, h = 3000;
    const data = new Uint8Array(w * h * 3);
    for (let i = 0; i < data.length; i++) data[i] = (i * 2654435761) >>> 24;
    const img: Pixels = { width: w, height: h, channels: 3, data };
    for (const [tw, th, f] of [[384, 384, 'bicubic'], [2336, 1760, 'bilinear']] as const) {
      const t = performance.now();
      resize(img, tw, th, f);
      const ms = performance.now() - t;
      console.log(`resize 4000x3000 -> ${tw}x${th} ${f}: ${ms.toFixed(0)} ms`);
      // Typically 0.2–0.5 s on 2 shared cores; the bound only catches pathological slowdowns.
      expect(ms).toBeLessThan(5000);
    }
  });
});
