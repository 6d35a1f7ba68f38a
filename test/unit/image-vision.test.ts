// Vision helpers: normalisation layout and arithmetic modes, SigLIP config parsing, SAIL size rule
// (examples from docs/specs/sail.md) and patch layout, InternVL grid choice and tiling.
import { describe, expect, it } from 'vitest';
import { InputError, type DecodedImage } from '../../src/api.js';
import {
  normalize, siglipPreprocessConfig, siglipPixels, sailTargetSize, sailPreprocess, sailMaxPatches, internvlCandidateGrids, internvlGrid, internvlTiles,
  resizeRGB, IMAGENET_MEAN, IMAGENET_STD,
} from '../../src/processors/vision.js';

/** Deterministic RGB image. */
function image(width: number, height: number, seed = 1): DecodedImage {
  const data = new Uint8Array(width * height * 3);
  let s = seed;
  for (let i = 0; i < data.length; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    data[i] = s >>> 24;
  }
  return { width, height, channels: 3, data };
}

describe('normalize', () => {
  it('HWC uint8 → CHW float32, written at an offset when asked', () => {
    const img = image(5, 4);
    const out = normalize(img, [0, 0, 0], [1, 1, 1], { mode: 'torchvision' });
    for (let y = 0; y < 4; y++) for (let x = 0; x < 5; x++) for (let c = 0; c < 3; c++) {
      expect(out[c * 20 + y * 5 + x]).toBe(Math.fround(img.data[(y * 5 + x) * 3 + c]! / 255));
    }
    const buf = new Float32Array(7 + 60);
    normalize(img, [0, 0, 0], [1, 1, 1], { mode: 'torchvision', out: buf, offset: 7 });
    expect(buf.subarray(7)).toEqual(out);
  });

  it('float32 step by step: transformers rescales in float64 first, torchvision divides in float32', () => {
    // Every level 0..255 in each channel.
    const data = new Uint8Array(256 * 3).map((_, i) => Math.floor(i / 3));
    const img = { width: 256, height: 1, data };
    const tf = normalize(img, IMAGENET_MEAN, IMAGENET_STD, { mode: 'transformers' });
    const tv = normalize(img, IMAGENET_MEAN, IMAGENET_STD, { mode: 'torchvision' });
    const f32 = (x: number) => new Float32Array([x])[0]!; // independent float32 rounding
    let differ = 0;
    for (let c = 0; c < 3; c++) {
      const m = f32(IMAGENET_MEAN[c]!), s = f32(IMAGENET_STD[c]!);
      for (let u = 0; u < 256; u++) {
        expect(tf[c * 256 + u]).toBe(f32(f32(f32(u * (1 / 255)) - m) / s));
        expect(tv[c * 256 + u]).toBe(f32(f32(f32(u / 255) - m) / s));
        if (tf[c * 256 + u] !== tv[c * 256 + u]) differ++;
      }
    }
    console.log(`normalize: transformers and torchvision arithmetic differ on ${differ} of 768 levels`);
  });

  it('rescale null (do_rescale false) normalises raw levels; zero std is refused', () => {
    const img = { width: 1, height: 1, data: new Uint8Array([10, 20, 30]) };
    expect(Array.from(normalize(img, [0, 0, 0], [2, 2, 2], { rescale: null }))).toEqual([5, 10, 15]);
    expect(() => normalize(img, [0, 0, 0], [1, 0, 1])).toThrow(/std\[1\] is 0/);
  });
});

describe('SigLIP preprocessing config', () => {
  it('defaults (384, bicubic, 1/255, 0.5/0.5) and preprocessor_config.json values', () => {
    expect(siglipPreprocessConfig(undefined)).toEqual({
      width: 384, height: 384, doResize: true, resample: 'bicubic', doRescale: true, rescaleFactor: 1 / 255,
      doNormalize: true, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5],
    });
    const c = siglipPreprocessConfig({ size: { height: 224, width: 224 }, resample: 2, image_mean: [0.1, 0.2, 0.3], image_std: 0.25 }, 224);
    expect([c.width, c.height, c.resample, c.mean, c.std]).toEqual([224, 224, 'bilinear', [0.1, 0.2, 0.3], [0.25, 0.25, 0.25]]);
  });

  it('refuses settings it cannot honour', () => {
    expect(() => siglipPreprocessConfig({ resample: 1 })).toThrow(/lanczos.*not supported/);
    expect(() => siglipPreprocessConfig({ size: { height: 224, width: 224 } }, 384)).toThrow(/224x224 differs from .* 384/);
    expect(() => siglipPreprocessConfig({ image_mean: [0.5, 0.5] })).toThrow(/image_mean must be 3 numbers/);
  });

  it('siglipPixels = resize + normalise; without do_resize the size must already match', () => {
    const img = image(50, 30);
    const cfg = siglipPreprocessConfig({ size: { height: 16, width: 16 } }, 16);
    const px = siglipPixels(img, cfg);
    expect(px).toEqual(normalize(resizeRGB(img, 16, 16, 'bicubic'), [0.5, 0.5, 0.5], [0.5, 0.5, 0.5]));
    expect(() => siglipPixels(img, { ...cfg, doResize: false })).toThrow(InputError);
  });
});

describe('SAIL', () => {
  it('size rule: the examples of the spec', () => {
    const ex: [number, number, number, number][] = [[640, 480, 640, 480], [1920, 1080, 1920, 1088], [4000, 3000, 2336, 1760], [100, 50, 128, 64], [10, 10, 32, 32]];
    for (const [w, h, tw, th] of ex) expect(sailTargetSize(w, h), `${w}x${h}`).toEqual({ width: tw, height: th });
  });

  it('patch layout: row-major patches, inside a patch c·p·p + dy·p + dx', () => {
    const p = 4, img = image(3 * p, 2 * p, 7); // already at its target size: resize is a copy
    expect(sailTargetSize(img.width, img.height, p, 100)).toEqual({ width: 12, height: 8 });
    const s = sailPreprocess(img, { patchSize: p, maxPatches: 100 });
    expect([s.nh, s.nw]).toEqual([2, 3]);
    const chw = normalize(img, IMAGENET_MEAN, IMAGENET_STD, { mode: 'torchvision' });
    for (let i = 0; i < 2; i++) for (let j = 0; j < 3; j++) for (let c = 0; c < 3; c++) for (let dy = 0; dy < p; dy++) for (let dx = 0; dx < p; dx++) {
      const got = s.patches[(i * 3 + j) * 3 * p * p + c * p * p + dy * p + dx];
      expect(got).toBe(chw[c * 96 + (i * p + dy) * 12 + j * p + dx]);
    }
    const sizeOnly = sailPreprocess(img, { patchSize: p, maxPatches: 100, sizeOnly: true });
    expect([sizeOnly.nh, sizeOnly.nw, sizeOnly.patches.length]).toEqual([2, 3, 0]);
  });

  it('a size rule giving a 0 side is rejected with a clear error', () => {
    const img: DecodedImage = { width: 5000, height: 200, channels: 3, data: new Uint8Array(5000 * 200 * 3) };
    expect(sailTargetSize(5000, 200, 8, 18)).toEqual({ width: 168, height: 0 });
    expect(() => sailPreprocess(img, { patchSize: 8, maxPatches: 18 })).toThrow(/5000x200 is too elongated.*168x0/);
  });
});

describe('SAIL preprocessor config', () => {
  it('max_patches, or max_pixels over the patch area; SAIL\'s 4096 without a config', () => {
    expect(sailMaxPatches(undefined, 32)).toBe(4096);
    expect(sailMaxPatches({ patch_size: 8, max_patches: 64 }, 8)).toBe(64);
    expect(sailMaxPatches({ max_pixels: 64 * 64 + 5 }, 8)).toBe(64);
    expect(() => sailMaxPatches({ patch_size: 16, max_patches: 64 }, 8)).toThrow(/patch_size 16 differs from config.json's vision_patch_size 8/);
    expect(() => sailMaxPatches({ max_patches: 0 }, 8)).toThrow(/max_patches must be a positive integer/);
  });
});

describe('InternVL tiling', () => {
  it('candidate order within equal tile counts never changes the chosen grid (min_num 1)', () => {
    for (const maxNum of [6, 12, 24]) {
      const mine = internvlCandidateGrids(1, maxNum);
      // Adversarial order: reverse the grids inside every group of equal tile count.
      const flipped = [...mine].sort((a, b) => a[0] * a[1] - b[0] * b[1] || b[0] - a[0]);
      for (let w = 1; w <= 400; w += 3) {
        for (let h = 1; h <= 400; h += 7) expect(internvlGrid(w, h, 448, flipped), `${w}x${h}`).toEqual(internvlGrid(w, h, 448, mine));
      }
    }
  });

  it('one tile and no thumbnail for a small square; tiles are crops of the big resize, thumbnail last', () => {
    // Small: on the (1,1)/(2,2)/(3,3) tie a bigger grid wins only if area > 0.5·S²·cols·rows.
    const sq = internvlTiles(image(10, 10), { imageSize: 16 });
    expect(internvlTiles(image(60, 60), { imageSize: 16 }).grid).toEqual([3, 3]);
    expect([sq.grid, sq.tiles.length, sq.pixelValues.length]).toEqual([[1, 1], 1, 3 * 16 * 16]);

    const img = image(70, 30);
    const t = internvlTiles(img, { imageSize: 16, maxNum: 6 });
    const [cols, rows] = t.grid;
    expect(t.tiles.length).toBe(cols * rows + 1);
    const big = resizeRGB(img, 16 * cols, 16 * rows, 'bicubic');
    for (let k = 0; k < cols * rows; k++) {
      const x0 = (k % cols) * 16, y0 = Math.floor(k / cols) * 16;
      for (let y = 0; y < 16; y++) {
        const row = big.data.subarray(((y0 + y) * 16 * cols + x0) * 3, ((y0 + y) * 16 * cols + x0 + 16) * 3);
        expect(t.tiles[k]!.subarray(y * 48, y * 48 + 48)).toEqual(row);
      }
    }
    expect(t.tiles.at(-1)).toEqual(resizeRGB(img, 16, 16, 'bicubic').data);
    expect(internvlTiles(img, { imageSize: 16, maxNum: 6, useThumbnail: false }).tiles.length).toBe(cols * rows);
  });
});
