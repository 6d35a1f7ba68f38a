// Model-specific pixel preprocessing on top of the Pillow-exact resize: normalisation with the
// float32 arithmetic of each reference (transformers slow processors / torchvision), SigLIP's
// fixed-size pipeline, SAIL's size rule + raw patches, InternVL/HoVLE dynamic tiling.
import { InputError, type DecodedImage } from '../api.js';
import { resize, resampleFilter, type ResampleFilter } from './resize.js';

export const IMAGENET_MEAN = [0.485, 0.456, 0.406] as const;
export const IMAGENET_STD = [0.229, 0.224, 0.225] as const;
export const CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073] as const;
export const CLIP_STD = [0.26862954, 0.26130258, 0.27577711] as const;

/**
 * 'transformers': slow image processors: x = float32(float64(u) · rescale), then (x − mean) / std
 * in float32. 'torchvision': ToTensor + Normalize: x = float32(u) / 255, then the same in float32.
 */
export type NormalizeMode = 'transformers' | 'torchvision';

/** HWC uint8 pixels (RGB). */
export interface RGBPixels {
  width: number;
  height: number;
  data: Uint8Array;
}

export interface NormalizeOptions {
  mode?: NormalizeMode;
  /** transformers mode only: the processor's rescale_factor (default 1/255); null = no rescale. */
  rescale?: number | null;
  /** Write into this buffer at `offset` instead of allocating. */
  out?: Float32Array;
  offset?: number;
}

/** Per-channel lookup tables: value of each uint8 level after rescale + normalise, in float32. */
function normalizeTables(mean: ArrayLike<number>, std: ArrayLike<number>, mode: NormalizeMode, rescale: number | null): Float32Array[] {
  const f = Math.fround;
  const tables: Float32Array[] = [];
  for (let c = 0; c < 3; c++) {
    const m = f(mean[c]!), s = f(std[c]!);
    if (s === 0) throw new RangeError(`normalize: std[${c}] is 0`);
    const t = new Float32Array(256);
    for (let u = 0; u < 256; u++) {
      // Every step is one IEEE float32 operation: double arithmetic then fround is exact for these.
      const x = mode === 'torchvision' ? f(u / 255) : rescale === null ? u : f(u * rescale);
      t[u] = f(f(x - m) / s);
    }
    tables.push(t);
  }
  return tables;
}

/** HWC uint8 RGB → CHW float32 normalised with the arithmetic of `mode` (default 'transformers'). */
export function normalize(img: RGBPixels, mean: ArrayLike<number>, std: ArrayLike<number>, opts: NormalizeOptions = {}): Float32Array {
  const { width, height, data } = img;
  const n = width * height;
  if (data.length !== n * 3) throw new RangeError(`normalize: ${data.length} bytes do not hold ${width}x${height} RGB pixels`);
  const mode = opts.mode ?? 'transformers';
  const [t0, t1, t2] = normalizeTables(mean, std, mode, opts.rescale === undefined ? 1 / 255 : opts.rescale);
  const out = opts.out ?? new Float32Array(3 * n);
  const o = opts.offset ?? 0;
  if (out.length < o + 3 * n) throw new RangeError(`normalize: output buffer too small (${out.length} < ${o + 3 * n})`);
  for (let i = 0, p = 0; i < n; i++, p += 3) {
    out[o + i] = t0![data[p]!]!;
    out[o + n + i] = t1![data[p + 1]!]!;
    out[o + 2 * n + i] = t2![data[p + 2]!]!;
  }
  return out;
}

/** Pillow resize of RGB pixels (a copy when the size is unchanged). */
export function resizeRGB(img: RGBPixels, width: number, height: number, filter: ResampleFilter): DecodedImage {
  const r = resize({ width: img.width, height: img.height, channels: 3, data: img.data }, width, height, filter);
  return { width, height, channels: 3, data: r.data };
}

// ---------------------------------------------------------------- SigLIP (and CLIP-like fixed size)

/** The slow SiglipImageProcessor's settings (from preprocessor_config.json). */
export interface SiglipPreprocessConfig {
  width: number;
  height: number;
  doResize: boolean;
  resample: ResampleFilter;
  doRescale: boolean;
  rescaleFactor: number;
  doNormalize: boolean;
  mean: number[];
  std: number[];
}

function num(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`preprocessor_config.json: ${what} must be a number (got ${JSON.stringify(v)})`);
  return v;
}
function triple(v: unknown, what: string, dflt: readonly number[]): number[] {
  if (v === undefined || v === null) return [...dflt];
  const a = typeof v === 'number' ? [v, v, v] : v;
  if (!Array.isArray(a) || a.length !== 3) throw new Error(`preprocessor_config.json: ${what} must be 3 numbers (got ${JSON.stringify(v)})`);
  return a.map((x, i) => num(x, `${what}[${i}]`));
}

/**
 * SigLIP settings from a `preprocessor_config.json` object (undefined → defaults): size (default
 * `imageSize`, 384), resample (3 = bicubic), rescale_factor (1/255), image_mean/std (0.5).
 * `imageSize` is the vision tower's input size; a config asking for another size is an error.
 */
export function siglipPreprocessConfig(pc: Record<string, any> | undefined, imageSize = 384): SiglipPreprocessConfig {
  const c = pc ?? {};
  let width = imageSize, height = imageSize;
  const size = c.size;
  if (typeof size === 'number') width = height = num(size, 'size');
  else if (size && typeof size === 'object') {
    if (size.height !== undefined || size.width !== undefined) {
      height = num(size.height, 'size.height');
      width = num(size.width, 'size.width');
    } else if (size.shortest_edge !== undefined) {
      throw new Error('preprocessor_config.json: size.shortest_edge (resize + crop) is not a SigLIP setting; expected size {height, width}');
    }
  }
  if (width !== imageSize || height !== imageSize) {
    throw new Error(`preprocessor_config.json: size ${width}x${height} differs from the vision tower's image_size ${imageSize}`);
  }
  return {
    width,
    height,
    doResize: c.do_resize ?? true,
    resample: resampleFilter(c.resample ?? 3, 'preprocessor_config.json: resample'),
    doRescale: c.do_rescale ?? true,
    rescaleFactor: c.rescale_factor === undefined ? 1 / 255 : num(c.rescale_factor, 'rescale_factor'),
    doNormalize: c.do_normalize ?? true,
    mean: triple(c.image_mean, 'image_mean', [0.5, 0.5, 0.5]),
    std: triple(c.image_std, 'image_std', [0.5, 0.5, 0.5]),
  };
}

/** SigLIP pixel_values for one image: Pillow resize to the configured size, rescale, normalise → [3, H, W]. */
export function siglipPixels(img: RGBPixels, cfg: SiglipPreprocessConfig): Float32Array {
  let px: RGBPixels = img;
  if (cfg.doResize) px = resizeRGB(img, cfg.width, cfg.height, cfg.resample);
  else if (img.width !== cfg.width || img.height !== cfg.height) {
    throw new InputError(`image is ${img.width}x${img.height} but the model needs ${cfg.width}x${cfg.height} and its processor has do_resize false`);
  }
  const rescale = cfg.doRescale ? cfg.rescaleFactor : null;
  if (cfg.doNormalize) return normalize(px, cfg.mean, cfg.std, { mode: 'transformers', rescale });
  // Rescale only: normalising with mean 0 / std 1 is the identity in float32.
  return normalize(px, [0, 0, 0], [1, 1, 1], { mode: 'transformers', rescale });
}

// ---------------------------------------------------------------- SAIL

/**
 * SAIL's target size (example.py get_resize_output_image_size), with the same float arithmetic:
 * long side rounded up to the patch size, short side scaled then rounded up, and both scaled down
 * when the patch count exceeds `maxPatches`. May return a 0 side for very elongated images.
 */
export function sailTargetSize(width: number, height: number, patchSize = 32, maxPatches = 4096): { width: number; height: number } {
  const landscape = height <= width; // a square counts as landscape
  const short = landscape ? height : width, long = landscape ? width : height;
  let newLong = Math.ceil(long / patchSize) * patchSize;
  let newShort = Math.trunc((newLong * short) / long);
  newShort = Math.ceil(newShort / patchSize) * patchSize;
  const tokens = (newLong * newShort) / (patchSize * patchSize);
  if (tokens > maxPatches) {
    const s = Math.sqrt(tokens / maxPatches);
    newLong = Math.trunc(newLong / s / patchSize) * patchSize;
    newShort = Math.trunc(newShort / s / patchSize) * patchSize;
  }
  return landscape ? { width: newLong, height: newShort } : { width: newShort, height: newLong };
}

/**
 * Most patches per image from a SAIL `preprocessor_config.json` (undefined → `dflt`, SAIL's 4096):
 * `max_patches`, or `max_pixels` (Qwen2-VL's name) divided by the patch area. A `patch_size`
 * there must match the checkpoint's `vision_patch_size`.
 */
export function sailMaxPatches(pc: Record<string, any> | undefined, patchSize: number, dflt = 4096): number {
  if (!pc) return dflt;
  if (pc.patch_size !== undefined && num(pc.patch_size, 'patch_size') !== patchSize) {
    throw new Error(`preprocessor_config.json: patch_size ${pc.patch_size} differs from config.json's vision_patch_size ${patchSize}`);
  }
  const n = pc.max_patches !== undefined ? num(pc.max_patches, 'max_patches')
    : pc.max_pixels !== undefined ? Math.floor(num(pc.max_pixels, 'max_pixels') / patchSize ** 2) : dflt;
  if (!Number.isInteger(n) || n < 1) throw new Error(`preprocessor_config.json: max_patches must be a positive integer (got ${n})`);
  return n;
}

export interface SailPreprocessOptions {
  patchSize?: number;
  maxPatches?: number;
  mean?: ArrayLike<number>;
  std?: ArrayLike<number>;
  /** Only compute the grid (nh, nw, width, height); `patches` is empty. */
  sizeOnly?: boolean;
}

export interface SailPatches {
  /** [nh·nw, 3·p·p]: patches row-major over the grid; inside a patch index c·p·p + dy·p + dx. */
  patches: Float32Array;
  nh: number;
  nw: number;
  /** Size the image was resized to (nw·p × nh·p). */
  width: number;
  height: number;
  /** The resized HWC uint8 pixels (absent with sizeOnly). */
  resized?: Uint8Array;
}

/** SAIL preprocessing (example.py): size rule, Pillow bilinear resize, ToTensor + ImageNet Normalize, patchify. */
export function sailPreprocess(img: RGBPixels, opts: SailPreprocessOptions = {}): SailPatches {
  const p = opts.patchSize ?? 32, maxPatches = opts.maxPatches ?? 4096;
  const { width, height } = sailTargetSize(img.width, img.height, p, maxPatches);
  if (width < p || height < p) {
    throw new InputError(
      `image ${img.width}x${img.height} is too elongated for SAIL (patch ${p}, at most ${maxPatches} patches): its size rule gives ${width}x${height}; crop or pad it closer to a square`,
    );
  }
  const nh = height / p, nw = width / p;
  if (opts.sizeOnly) return { patches: new Float32Array(0), nh, nw, width, height };
  const resized = resizeRGB(img, width, height, 'bilinear');
  const chw = normalize(resized, opts.mean ?? IMAGENET_MEAN, opts.std ?? IMAGENET_STD, { mode: 'torchvision' });
  const pp = p * p, plane = width * height;
  const patches = new Float32Array(nh * nw * 3 * pp);
  for (let i = 0; i < nh; i++) {
    for (let j = 0; j < nw; j++) {
      let o = (i * nw + j) * 3 * pp;
      for (let c = 0; c < 3; c++) {
        for (let dy = 0; dy < p; dy++) {
          const src = c * plane + (i * p + dy) * width + j * p;
          patches.set(chw.subarray(src, src + p), o);
          o += p;
        }
      }
    }
  }
  return { patches, nh, nw, width, height, resized: resized.data };
}

// ---------------------------------------------------------------- InternVL / HoVLE dynamic tiling

/**
 * Tile grids [cols, rows] with minNum ≤ cols·rows ≤ maxNum, sorted by cols·rows (stable). The
 * reference sorts a Python set, so grids with equal products come in hash order there; that order
 * never changes the choice when minNum is 1 (between two grids of equal product r1 < r2 lies
 * the grid (cols1, rows2) with a smaller product, strictly closer to any tie point).
 */
export function internvlCandidateGrids(minNum = 1, maxNum = 12): [number, number][] {
  const seen = new Set<string>();
  const out: [number, number][] = [];
  for (let n = minNum; n <= maxNum; n++) {
    for (let i = 1; i <= n; i++) {
      for (let j = 1; j <= n; j++) {
        if (i * j > maxNum || i * j < minNum || seen.has(`${i},${j}`)) continue;
        seen.add(`${i},${j}`);
        out.push([i, j]);
      }
    }
  }
  return out.sort((a, b) => a[0] * a[1] - b[0] * b[1]);
}

/** find_closest_aspect_ratio: closest cols/rows to width/height; on a tie the later grid wins if the image is big enough. */
export function internvlGrid(
  width: number,
  height: number,
  imageSize = 448,
  candidates: [number, number][] = internvlCandidateGrids(),
): [number, number] {
  const aspect = width / height;
  const area = width * height;
  let bestDiff = Infinity;
  let best: [number, number] = [1, 1];
  for (const r of candidates) {
    const diff = Math.abs(aspect - r[0] / r[1]);
    if (diff < bestDiff) {
      bestDiff = diff;
      best = r;
    } else if (diff === bestDiff && area > 0.5 * imageSize * imageSize * r[0] * r[1]) {
      best = r;
    }
  }
  return [best[0], best[1]];
}

export interface InternvlOptions {
  imageSize?: number;
  minNum?: number;
  maxNum?: number;
  useThumbnail?: boolean;
  mean?: ArrayLike<number>;
  std?: ArrayLike<number>;
}

export interface InternvlTiles {
  /** [cols, rows] of the chosen grid. */
  grid: [number, number];
  /** Each tile as HWC uint8 (imageSize²·3), row-major, thumbnail last when present. */
  tiles: Uint8Array[];
  /** [tiles, 3, imageSize, imageSize], ToTensor + Normalize (torchvision arithmetic). */
  pixelValues: Float32Array;
  imageSize: number;
}

/**
 * InternVL's dynamic_preprocess + build_transform (as HoVLE uses them): pick a grid, Pillow bicubic
 * resize to (S·cols, S·rows), crop S×S tiles row-major, add an S×S bicubic thumbnail of the whole
 * image when there is more than one tile, normalise each tile.
 */
export function internvlTiles(img: RGBPixels, opts: InternvlOptions = {}): InternvlTiles {
  const S = opts.imageSize ?? 448, minNum = opts.minNum ?? 1, maxNum = opts.maxNum ?? 12;
  const [cols, rows] = internvlGrid(img.width, img.height, S, internvlCandidateGrids(minNum, maxNum));
  const W = S * cols;
  const big = resizeRGB(img, W, S * rows, 'bicubic');
  const tiles: Uint8Array[] = [];
  for (let t = 0; t < cols * rows; t++) {
    const x0 = (t % cols) * S, y0 = Math.floor(t / cols) * S;
    const tile = new Uint8Array(S * S * 3);
    for (let y = 0; y < S; y++) {
      const src = ((y0 + y) * W + x0) * 3;
      tile.set(big.data.subarray(src, src + S * 3), y * S * 3);
    }
    tiles.push(tile);
  }
  if ((opts.useThumbnail ?? true) && tiles.length !== 1) tiles.push(resizeRGB(img, S, S, 'bicubic').data);
  const mean = opts.mean ?? IMAGENET_MEAN, std = opts.std ?? IMAGENET_STD;
  const pixelValues = new Float32Array(tiles.length * 3 * S * S);
  tiles.forEach((data, k) => normalize({ width: S, height: S, data }, mean, std, { mode: 'torchvision', out: pixelValues, offset: k * 3 * S * S }));
  return { grid: [cols, rows], tiles, pixelValues, imageSize: S };
}
