// Pillow's `Image.resize` for 8-bit images (src/libImaging/Resample.c, 8bpc path) rewritten in
// TypeScript, bit-exact: the same filters, support widened by the scale factor when downscaling
// (antialiasing), per-output-pixel coefficients normalised to sum 1, converted to 22-bit fixed
// point, a horizontal then a vertical pass each rounding and clamping to uint8, and a pass skipped
// when its size does not change.

export type ResampleFilter = 'bilinear' | 'bicubic';

/** Pillow's Image.Resampling codes, as `preprocessor_config.json` stores them ("resample": 3). */
export const PIL_RESAMPLE: Record<number, string> = { 0: 'nearest', 1: 'lanczos', 2: 'bilinear', 3: 'bicubic', 4: 'box', 5: 'hamming' };

/** A Pillow resample code or name → a filter this module implements; anything else is an error. */
export function resampleFilter(r: number | string, where = 'resample'): ResampleFilter {
  const name = typeof r === 'number' ? PIL_RESAMPLE[r] : String(r).toLowerCase();
  if (name === 'bilinear' || name === 'bicubic') return name;
  throw new Error(`${where}: resampling filter ${JSON.stringify(r)}${name && typeof r === 'number' ? ` (${name})` : ''} is not supported (bilinear = 2 or bicubic = 3 expected)`);
}

interface Filter { support: number; fn: (x: number) => number }

const FILTERS: Record<ResampleFilter, Filter> = {
  bilinear: {
    support: 1,
    fn: (x) => {
      if (x < 0) x = -x;
      return x < 1 ? 1 - x : 0;
    },
  },
  // Keys cubic with a = -0.5, written exactly as Resample.c evaluates it.
  bicubic: {
    support: 2,
    fn: (x) => {
      const a = -0.5;
      if (x < 0) x = -x;
      if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
      if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
      return 0;
    },
  },
};

// 8 bits for the result, 2 bits of headroom for negative lobes and sums above 1.
const PRECISION_BITS = 32 - 8 - 2;
const ONE = 1 << PRECISION_BITS;
const HALF = 1 << (PRECISION_BITS - 1);

export interface Coefficients {
  /** Maximum taps per output pixel. */
  ksize: number;
  /** Per output pixel: first input index and number of taps. */
  bounds: Int32Array;
  /** [outSize, ksize] fixed-point weights (PRECISION_BITS fraction bits). */
  kk: Int32Array;
}

/**
 * Resample.c `precompute_coeffs` + `normalize_coeffs_8bpc`: filter weights for mapping input range
 * [in0, in1) (float32 box coordinates) onto outSize pixels.
 */
export function precomputeCoeffs(inSize: number, in0: number, in1: number, outSize: number, filter: ResampleFilter): Coefficients {
  const f = FILTERS[filter];
  in0 = Math.fround(in0);
  in1 = Math.fround(in1);
  const scale = (in1 - in0) / outSize;
  const filterscale = scale < 1 ? 1 : scale;
  const support = f.support * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(outSize * 2);
  const kk = new Int32Array(outSize * ksize);
  const w = new Float64Array(ksize);
  const inv = 1 / filterscale;
  for (let xx = 0; xx < outSize; xx++) {
    const center = in0 + (xx + 0.5) * scale;
    // (int) casts in C truncate toward zero.
    let xmin = Math.trunc(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      const v = f.fn((x + xmin - center + 0.5) * inv);
      w[x] = v;
      ww += v;
    }
    for (let x = 0; x < xmax; x++) {
      const k = ww !== 0 ? w[x]! / ww : w[x]!;
      kk[xx * ksize + x] = k < 0 ? Math.trunc(-0.5 + k * ONE) : Math.trunc(0.5 + k * ONE);
    }
    bounds[xx * 2] = xmin;
    bounds[xx * 2 + 1] = xmax;
  }
  return { ksize, bounds, kk };
}

/** Pixels in HWC uint8 with 1 (L) or 3 (RGB) channels. */
export interface Pixels {
  width: number;
  height: number;
  channels: number;
  data: Uint8Array;
}

// Sums are int32 arithmetic (Math.imul, | 0) like Pillow's int accumulators: products and partial
// sums stay below 2^31 (|weights| sum to < 1.3 in 22-bit fixed point, pixels ≤ 255).

// Pillow's clip8: arithmetic shift, then clamp to 0..255.
const clip8 = (ss: number) => {
  const v = ss >> PRECISION_BITS;
  return v < 0 ? 0 : v > 255 ? 255 : v;
};

/** Horizontal pass over input rows [y0, y0 + rows). */
function horizontal(src: Uint8Array, srcW: number, c: number, y0: number, rows: number, outW: number, co: Coefficients): Uint8Array {
  const { ksize, bounds, kk } = co;
  const out = new Uint8Array(outW * rows * c);
  const srcStride = srcW * c, outStride = outW * c;
  for (let y = 0; y < rows; y++) {
    const rowIn = (y + y0) * srcStride, rowOut = y * outStride;
    for (let xx = 0; xx < outW; xx++) {
      const xmin = bounds[xx * 2]!, n = bounds[xx * 2 + 1]!, k0 = xx * ksize;
      let p = rowIn + xmin * c;
      if (c === 3) {
        let s0 = HALF, s1 = HALF, s2 = HALF;
        for (let x = 0; x < n; x++, p += 3) {
          const k = kk[k0 + x]!;
          s0 = (s0 + Math.imul(src[p]!, k)) | 0;
          s1 = (s1 + Math.imul(src[p + 1]!, k)) | 0;
          s2 = (s2 + Math.imul(src[p + 2]!, k)) | 0;
        }
        const o = rowOut + xx * 3;
        out[o] = clip8(s0);
        out[o + 1] = clip8(s1);
        out[o + 2] = clip8(s2);
      } else {
        for (let ch = 0; ch < c; ch++) {
          let s = HALF;
          for (let x = 0; x < n; x++) s = (s + Math.imul(src[p + x * c + ch]!, kk[k0 + x]!)) | 0;
          out[rowOut + xx * c + ch] = clip8(s);
        }
      }
    }
  }
  return out;
}

/** Vertical pass: each output row is a weighted sum of whole input rows (cache-friendly order). */
function vertical(src: Uint8Array, rowLen: number, outH: number, co: Coefficients, yShift: number): Uint8Array {
  const { ksize, bounds, kk } = co;
  const out = new Uint8Array(outH * rowLen);
  const acc = new Int32Array(rowLen);
  for (let yy = 0; yy < outH; yy++) {
    const ymin = bounds[yy * 2]! - yShift, n = bounds[yy * 2 + 1]!, k0 = yy * ksize;
    acc.fill(HALF);
    for (let y = 0; y < n; y++) {
      const k = kk[k0 + y]!;
      if (k === 0) continue;
      const base = (ymin + y) * rowLen;
      for (let i = 0; i < rowLen; i++) acc[i] = (acc[i]! + Math.imul(src[base + i]!, k)) | 0;
    }
    const o = yy * rowLen;
    for (let i = 0; i < rowLen; i++) out[o + i] = clip8(acc[i]!);
  }
  return out;
}

/**
 * Pillow `Image.resize((width, height), filter, box)` for 8-bit L/RGB pixels. `box` = source
 * region [x0, y0, x1, y1] in (float32) pixel coordinates, the whole image by default.
 */
export function resize(img: Pixels, width: number, height: number, filter: ResampleFilter, box?: [number, number, number, number]): Pixels {
  const { width: inW, height: inH, channels: c, data } = img;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`resize: target size ${width}x${height} is invalid (width and height must be positive integers)`);
  }
  if (data.length !== inW * inH * c) throw new RangeError(`resize: ${data.length} bytes do not hold ${inW}x${inH}x${c} pixels`);
  const [bx0, by0, bx1, by1] = (box ?? [0, 0, inW, inH]).map(Math.fround) as [number, number, number, number];
  if (bx0 < 0 || by0 < 0 || bx1 > inW || by1 > inH || bx1 - bx0 < 0 || by1 - by0 < 0) {
    throw new RangeError(`resize: box [${box}] is not inside the ${inW}x${inH} image`);
  }
  // Image.resize returns a copy when nothing changes.
  const needH = width !== inW || bx0 !== 0 || bx1 !== width;
  const needV = height !== inH || by0 !== 0 || by1 !== height;
  if (!needH && !needV) return { width, height, channels: c, data: data.slice() };

  const vco = precomputeCoeffs(inH, by0, by1, height, filter);
  let cur = data, curRows = inH, yShift = 0;
  if (needH) {
    // Only the input rows the vertical pass reads are resampled horizontally.
    const first = vco.bounds[0]!;
    const last = vco.bounds[(height - 1) * 2]! + vco.bounds[(height - 1) * 2 + 1]!;
    const hco = precomputeCoeffs(inW, bx0, bx1, width, filter);
    cur = horizontal(data, inW, c, first, last - first, width, hco);
    curRows = last - first;
    yShift = first;
  }
  if (needV) cur = vertical(cur, width * c, height, vco, yShift);
  else if (curRows !== height) throw new Error('resize: internal row bookkeeping error');
  return { width, height, channels: c, data: cur };
}
