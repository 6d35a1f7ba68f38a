// Decoding parity against the `images` fixture (Pillow 12): every file listed in cases.json is
// decoded and its bytes hashed; the full tensors of cases.safetensors are compared element-wise.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeImagePixels, readImageHeader, toRGB, type RawPixels } from '../../src/processors/image.js';
import { compare, discoverFixtures, report, type FixtureCase } from '../helpers/fixtures.js';

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

// Fixtures describing decoded test images: their cases.json has a `files` map with decoded hashes.
const fixtures = discoverFixtures((_cfg, dir) => {
  const p = join(dir, 'cases.json');
  return existsSync(p) && typeof JSON.parse(readFileSync(p, 'utf8')).files === 'object';
});

const stem = (f: string) => f.replace(/\.[^.]+$/, '');

/** Pixels of `file` for a tensor suffix: 'rgb' after convert('RGB'), else the file's own mode. */
function pixelsFor(raw: RawPixels, suffix: string): Uint8Array {
  if (suffix === 'rgb') return toRGB(raw).data;
  if (suffix.toUpperCase() !== raw.mode) throw new Error(`tensor suffix ${suffix} but the file decodes as ${raw.mode}`);
  return raw.data;
}

function filesOf(c: FixtureCase): string[] {
  const f = c.facts ?? {};
  return Array.isArray(f.files) ? f.files : typeof f.file === 'string' ? [f.file] : [];
}

describe.skipIf(fixtures.length === 0)('image decoding parity', () => {
  for (const fx of fixtures) {
    const files: Record<string, any> = fx.casesJson.files;

    it(`${fx.name}: headers give format and size without decoding`, () => {
      for (const [file, info] of Object.entries(files)) {
        const h = readImageHeader(readFileSync(join(fx.dir, file)), file);
        expect(h.format, file).toBe(String(info.format).toLowerCase());
        expect([h.width, h.height], file).toEqual([info.width, info.height]);
      }
    });

    for (const c of fx.cases) {
      it(`${fx.name} ${c.name}`, async () => {
        const names = filesOf(c);
        expect(names.length, 'case names no files').toBeGreaterThan(0);
        const exact = c.tolerance.abs === 0 && c.tolerance.rel === 0;
        for (const file of names) {
          const info = files[file];
          const raw = await decodeImagePixels(join(fx.dir, file));
          expect([raw.width, raw.height], file).toEqual([info.width, info.height]);
          // The hash is over the image in its own mode (RGB/RGBA/L), as numpy.asarray(PIL image) gives it.
          const own = sha256(info.mode === 'RGB' ? toRGB(raw).data : pixelsFor(raw, info.mode.toLowerCase()));
          const same = own === info.decoded_sha256;
          console.log(`parity ${fx.name} ${c.name} ${file}: decoded sha256 ${same ? 'identical' : 'differs'}`);
          if (exact) expect(own, `${file}: sha256 of decoded bytes`).toBe(info.decoded_sha256);
          const rgb = toRGB(raw).data;
          if (info.channel_sums) {
            const sums = [0, 0, 0];
            for (let i = 0; i < rgb.length; i++) sums[i % 3]! += rgb[i]!;
            if (exact) expect(sums, `${file}: channel sums`).toEqual(info.channel_sums);
          }
          for (const p of info.probes ?? []) {
            const o = (p.y * raw.width + p.x) * 3;
            const got = [rgb[o]!, rgb[o + 1]!, rgb[o + 2]!];
            const d = Math.max(...got.map((v, k) => Math.abs(v - p.value[k])));
            expect(d, `${file} probe (${p.x},${p.y}): got ${got} want ${p.value}`).toBeLessThanOrEqual(c.tolerance.abs);
          }
        }
        // Full tensors: "<image>.<mode>" keys; the image is the single file of the case or the one with that stem.
        for (const key of c.outputs) {
          const [img, suffix] = [key.slice(0, key.lastIndexOf('.')), key.slice(key.lastIndexOf('.') + 1)];
          const file = names.length === 1 ? names[0]! : names.find((f) => stem(f) === img);
          expect(file, `no file of case ${c.name} for tensor ${key}`).toBeDefined();
          const got = pixelsFor(await decodeImagePixels(join(fx.dir, file!)), suffix);
          const tol = c.tolerance_per_tensor?.[key] ?? { abs: c.tolerance.abs, rel: c.tolerance.rel };
          const want = fx.typed(key) as Uint8Array;
          const cmp = compare(got, want, tol);
          report(fx.name, c.name, key, cmp, tol);
          let ndiff = 0;
          for (let i = 0; i < want.length; i++) if (got[i] !== want[i]) ndiff++;
          console.log(`parity ${fx.name} ${c.name} ${key}: ${ndiff} of ${want.length} bytes differ`);
        }
      });
    }
  }
});
