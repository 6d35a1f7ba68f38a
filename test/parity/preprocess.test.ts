// Preprocessing parity: Pillow-exact resizes (sha256 of every resized image, full uint8 tensors),
// normalisation arithmetic, SAIL's size rule and patches, InternVL tiling. Cases are recognised by
// what their facts hold (not by name); the test images come from the fixture that lists decoded
// image files. The model fixtures' own pixel inputs (SigLIP pixel_values, SAIL vision_patches,
// HoVLE tiles, SEED pixel_values) are rebuilt from their source images as a cross-check.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InputError, type DecodedImage } from '../../src/api.js';
import { decodeImage } from '../../src/processors/image.js';
import { resizeRGB, normalize, siglipPixels, siglipPreprocessConfig, sailTargetSize, sailPreprocess, internvlGrid, internvlCandidateGrids, internvlTiles, CLIP_MEAN, CLIP_STD } from '../../src/processors/vision.js';
import { resampleFilter } from '../../src/processors/resize.js';
import { compare, discoverFixtures, report, type Fixture, type FixtureCase, type Tolerance } from '../helpers/fixtures.js';

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const casesOf = (dir: string) => {
  const p = join(dir, 'cases.json');
  return existsSync(p) ? JSON.parse(readFileSync(p, 'utf8')) : {};
};

const imageFixture = discoverFixtures((_c, dir) => typeof casesOf(dir).files === 'object')[0];

// Case kinds, told apart by their facts.
const isFixedResize = (c: FixtureCase) => !!(c.facts?.size && c.facts?.resample && c.facts?.resized_u8_sha256);
const isSail = (c: FixtureCase) => !!(c.facts?.size_table && c.facts?.patch_size && c.facts?.per_image);
const isInternvl = (c: FixtureCase) => !!(c.facts?.candidate_grids && c.facts?.per_image);
const preprocessFixtures = discoverFixtures((_c, dir) => (casesOf(dir).cases ?? []).some((c: FixtureCase) => isFixedResize(c) || isSail(c) || isInternvl(c)));

const cache = new Map<string, Promise<DecodedImage>>();
/** A test image by name ("chelsea" → chelsea.png of the images fixture: the PNG with that stem). */
function testImage(name: string): Promise<DecodedImage> {
  if (!imageFixture) throw new Error('no images fixture found');
  const files: Record<string, any> = imageFixture.casesJson.files;
  const file = Object.keys(files).find((f) => f.replace(/\.[^.]+$/, '') === name && files[f].format === 'PNG');
  if (!file) throw new Error(`images fixture has no PNG named ${name}`);
  if (!cache.has(name)) cache.set(name, decodeImage(join(imageFixture.dir, file)));
  return cache.get(name)!;
}

/** Exact uint8 comparison; prints worst error and how many bytes differ. */
function checkU8(fx: Fixture, c: FixtureCase, key: string, got: Uint8Array, tol: Tolerance = { abs: 0, rel: 0 }): void {
  const want = fx.typed(key) as Uint8Array;
  let ndiff = 0;
  for (let i = 0; i < want.length; i++) if (got[i] !== want[i]) ndiff++;
  console.log(`parity ${fx.name} ${c.name} ${key}: ${ndiff} of ${want.length} bytes differ`);
  report(fx.name, c.name, key, compare(got, want, tol), tol);
}
function checkF32(fx: Fixture, c: FixtureCase, key: string, got: Float32Array, tol: Tolerance): void {
  report(fx.name, c.name, key, compare(got, fx.f32(key), tol), tol);
}
const tolOf = (c: FixtureCase, kind: string, dflt: Tolerance): Tolerance => {
  const t = (c.tolerance as Record<string, any>)[kind];
  return t && typeof t.abs === 'number' ? { abs: t.abs, rel: t.rel ?? 0 } : dflt;
};
// Normalised tensors: the fixtures allow 1e-6; an exact float32 emulation should give 0.
const F32_TOL: Tolerance = { abs: 1e-6, rel: 0 };

describe.skipIf(!imageFixture || preprocessFixtures.length === 0)('preprocessing parity', () => {
  for (const fx of preprocessFixtures) {
    for (const c of fx.cases) {
      if (isFixedResize(c)) {
        it(`${fx.name} ${c.name}: Pillow ${c.facts!.resample} resize + normalise`, async () => {
          const f = c.facts!;
          const [w, h] = f.size as [number, number]; // square in every case so far
          expect(w, 'non-square size: check the fixture size order').toBe(h);
          const filter = resampleFilter(String(f.resample));
          for (const [name, want] of Object.entries<string>(f.resized_u8_sha256)) {
            const img = await testImage(name);
            if (f.input_sizes?.[name]) expect([img.width, img.height]).toEqual([f.input_sizes[name].width, f.input_sizes[name].height]);
            const r = resizeRGB(img, w, h, filter);
            const key = `${c.name}.${name}.resized_u8`;
            if (fx.has(key)) checkU8(fx, c, key, r.data, tolOf(c, 'resized_u8', { abs: 0, rel: 0 }));
            expect(sha256(r.data), `${name}: sha256 of the ${w}x${h} ${f.resample} resize`).toBe(want);
            const pk = `${c.name}.${name}.pixel_values`;
            if (fx.has(pk)) checkF32(fx, c, pk, normalize(r, f.mean, f.std, { mode: 'transformers' }), tolOf(c, 'pixel_values', F32_TOL));
          }
        });
      }

      if (isSail(c)) {
        it(`${fx.name} ${c.name}: SAIL size rule (${c.facts!.size_table.length} rows)`, () => {
          let degenerate = 0;
          for (const row of c.facts!.size_table) {
            const [w, h] = row.input_wh;
            const got = sailTargetSize(w, h, row.patch_size, row.max_token_num);
            expect([got.width, got.height], `${w}x${h} p=${row.patch_size} max=${row.max_token_num}`).toEqual(row.target_wh);
            if (got.width === 0 || got.height === 0) {
              degenerate++;
              const img: DecodedImage = { width: w, height: h, channels: 3, data: new Uint8Array(w * h * 3) };
              expect(() => sailPreprocess(img, { patchSize: row.patch_size, maxPatches: row.max_token_num })).toThrow(InputError);
              expect(() => sailPreprocess(img, { patchSize: row.patch_size, maxPatches: row.max_token_num, sizeOnly: true })).toThrow(/too elongated/);
            }
          }
          console.log(`parity ${fx.name} ${c.name} size_table: ${c.facts!.size_table.length} rows ok, ${degenerate} degenerate rows rejected`);
        });
        it(`${fx.name} ${c.name}: resize + patches`, async () => {
          const f = c.facts!;
          for (const [name, pi] of Object.entries<any>(f.per_image)) {
            const img = await testImage(name);
            expect([img.width, img.height]).toEqual(pi.input_size);
            const s = sailPreprocess(img, { patchSize: f.patch_size, maxPatches: f.max_token_num, mean: f.mean, std: f.std });
            expect([s.width, s.height, s.nh, s.nw], name).toEqual([...pi.target_size_wh, pi.nh, pi.nw]);
            const key = `${c.name}.${name}.resized_u8`;
            if (fx.has(key)) checkU8(fx, c, key, s.resized!, tolOf(c, 'resized_u8', { abs: 0, rel: 0 }));
            expect(sha256(s.resized!), `${name}: sha256 of the bilinear resize`).toBe(pi.resized_u8_sha256);
            if (fx.has(`${c.name}.${name}.patches`)) checkF32(fx, c, `${c.name}.${name}.patches`, s.patches, tolOf(c, 'patches', F32_TOL));
            if (fx.has(`${c.name}.${name}.grid`)) expect([s.nh, s.nw]).toEqual(fx.ints(`${c.name}.${name}.grid`));
          }
        });
      }

      if (isInternvl(c)) {
        it(`${fx.name} ${c.name}: grid choice`, () => {
          const f = c.facts!;
          const ref: [number, number][] = f.candidate_grids;
          const mine = internvlCandidateGrids(1, Math.max(...ref.map((g) => g[0] * g[1])));
          // Same set, both sorted by tile count; only the order within equal counts may differ.
          expect(new Set(mine.map(String))).toEqual(new Set(ref.map(String)));
          expect(mine.map((g) => g[0] * g[1])).toEqual(ref.map((g) => g[0] * g[1]));
          for (const row of f.size_table) {
            const [w, h] = row.input_wh;
            expect(internvlGrid(w, h, 448, ref), `${w}x${h} (reference order)`).toEqual(row.grid_cols_rows);
            expect(internvlGrid(w, h, 448, mine), `${w}x${h}`).toEqual(row.grid_cols_rows);
          }
        });
        it(`${fx.name} ${c.name}: tiles`, async () => {
          const f = c.facts!;
          let n = 0;
          for (const [name, pi] of Object.entries<any>(f.per_image)) {
            const img = await testImage(name);
            expect([img.width, img.height]).toEqual(pi.input_size);
            const t = internvlTiles(img, { imageSize: 448, maxNum: 12, mean: f.mean, std: f.std });
            expect(t.grid, name).toEqual(pi.grid_cols_rows);
            expect(t.tiles.length, name).toBe(pi.num_tiles);
            expect(t.tiles.length > t.grid[0] * t.grid[1], name).toBe(pi.has_thumbnail);
            t.tiles.forEach((tile, k) => expect(sha256(tile), `${name} tile ${k}`).toBe(pi.tile_u8_sha256[k]));
            n += t.tiles.length;
            const pre = `${c.name}.${name}`;
            if (fx.has(`${pre}.tile0_u8`)) checkU8(fx, c, `${pre}.tile0_u8`, t.tiles[0]!, tolOf(c, 'u8', { abs: 0, rel: 0 }));
            if (fx.has(`${pre}.thumbnail_u8`)) checkU8(fx, c, `${pre}.thumbnail_u8`, t.tiles[t.tiles.length - 1]!, tolOf(c, 'u8', { abs: 0, rel: 0 }));
            if (fx.has(`${pre}.grid`)) expect(t.grid).toEqual(fx.ints(`${pre}.grid`));
            // Normalised tiles equal normalising each uint8 tile on its own.
            const S = 448 * 448 * 3;
            expect(t.pixelValues.length).toBe(t.tiles.length * S);
            const last = normalize({ width: 448, height: 448, data: t.tiles.at(-1)! }, f.mean, f.std, { mode: 'torchvision' });
            expect(compare(t.pixelValues.subarray(S * (t.tiles.length - 1)), last, { abs: 0, rel: 0 }).ok).toBe(true);
          }
          console.log(`parity ${fx.name} ${c.name}: ${n} tiles identical (sha256)`);
        });
      }
    }
  }
});

// ------------------------------------------------------------------ model fixtures' pixel inputs

const modelFixtures = discoverFixtures((cfg) => !!cfg);
const u8Image = (fx: Fixture, key: string, index: number): DecodedImage => {
  const [, h, w] = fx.shape(key).length === 4 ? fx.shape(key) : [1, ...fx.shape(key)];
  const all = fx.typed(key) as Uint8Array;
  const n = h! * w! * 3;
  return { width: w!, height: h!, channels: 3, data: Uint8Array.from(all.subarray(index * n, (index + 1) * n)) };
};
const readJson = (p: string) => (existsSync(p) ? JSON.parse(readFileSync(p, 'utf8')) : undefined);

describe.skipIf(!imageFixture)('model fixtures: pixel inputs rebuilt from their images', () => {
  for (const fx of modelFixtures) {
    const cfg = fx.config!;
    for (const c of fx.cases) {
      if (cfg.model_type === 'siglip' && c.inputs.includes('pixel_values') && Array.isArray(c.facts?.images)) {
        it(`${fx.name} ${c.name}: SigLIP pixel_values`, async () => {
          const size = cfg.vision_config.image_size;
          const pc = siglipPreprocessConfig(readJson(join(fx.dir, 'preprocessor_config.json')), size);
          const per = 3 * size * size;
          const got = new Float32Array(c.facts!.images.length * per);
          for (const [k, name] of (c.facts!.images as string[]).entries()) got.set(siglipPixels(await testImage(name), pc), k * per);
          checkF32(fx, c, 'pixel_values', got, F32_TOL);
        });
      }
      const patchesKey = c.inputs.find((k) => k.endsWith('vision_patches'));
      if (cfg.vision_patch_size && patchesKey && typeof c.facts?.image === 'string') {
        it(`${fx.name} ${c.name}: SAIL vision_patches`, async () => {
          const s = sailPreprocess(await testImage(c.facts!.image), { patchSize: cfg.vision_patch_size, maxPatches: c.facts!.max_token_num });
          expect([s.width, s.height, s.nh, s.nw]).toEqual([...c.facts!.resized_wh, c.facts!.nh, c.facts!.nw]);
          checkF32(fx, c, patchesKey, s.patches, F32_TOL);
        });
      }
      const srcKey = c.inputs.find((k) => k.endsWith('image_u8'));
      const pvKey = c.inputs.find((k) => k.endsWith('pixel_values'));
      if (srcKey && pvKey && cfg.force_image_size) {
        it(`${fx.name} ${c.name}: InternVL tiles`, () => {
          const t = internvlTiles(u8Image(fx, srcKey, 0), { imageSize: cfg.force_image_size, maxNum: cfg.max_dynamic_patch ?? 12, useThumbnail: cfg.use_thumbnail ?? true });
          expect(t.tiles.length).toBe(fx.shape(pvKey)[0]);
          // The fixture allows 2e-2 for a non-Pillow thumbnail; ours is Pillow-exact, so hold it to 1e-6.
          checkF32(fx, c, pvKey, t.pixelValues, F32_TOL);
        });
      }
      if (srcKey && pvKey && /seed/.test(String(cfg.model_type))) {
        it(`${fx.name} ${c.name}: SEED pixel_values (resize is the identity here; CLIP mean/std)`, () => {
          const [B, H, W] = fx.shape(srcKey);
          const [, , PH, PW] = fx.shape(pvKey);
          expect([H, W]).toEqual([PH, PW]);
          const got = new Float32Array(B! * 3 * H! * W!);
          for (let b = 0; b < B!; b++) normalize(u8Image(fx, srcKey, b), CLIP_MEAN, CLIP_STD, { mode: 'torchvision', out: got, offset: b * 3 * H! * W! });
          checkF32(fx, c, pvKey, got, F32_TOL);
        });
      }
    }
  }
});
