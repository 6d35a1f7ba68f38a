// Blockwise weight quantization in ONNX Runtime's MatMulNBits layout (com.microsoft): a Linear
// weight W [N, K] is cut along K into blocks of `blockSize`; each block stores codes, one float32
// scale and (4-bit) a zero point; dequantized value = (code − zero_point) · scale.
//   q8: symmetric, zero point implied (128): scale = absmax / 127 (the Q8_0 idea).
//   q4: asymmetric with stored zero points: the block's range [min(x, 0), max(x, 0)] over 16 codes.
// Arithmetic is done in float64 (x · (1 / scale), scales rounded to float32) with Math.round
// (half up), so the NumPy reference test/data/quant/make.py reproduces every code exactly.

export type QuantBits = 4 | 8;

export interface QuantLayout {
  bits: QuantBits;
  blockSize: number;
  /** Rows (MatMulNBits N) and columns (K, the reduction axis). */
  n: number;
  k: number;
  /** ceil(K / blockSize). */
  kBlocks: number;
  /** Bytes of codes per block (blockSize · bits / 8). */
  blobSize: number;
  /** Zero-point bytes per row (4-bit only: two per byte, low nibble first; 0 when implied). */
  zpBytesPerRow: number;
}

export function quantLayout(bits: QuantBits, blockSize: number, n: number, k: number): QuantLayout {
  if (!Number.isInteger(blockSize) || blockSize < 16 || (blockSize & (blockSize - 1)) !== 0) {
    throw new Error(`block size ${blockSize} must be a power of two ≥ 16`);
  }
  const kBlocks = Math.ceil(k / blockSize);
  return { bits, blockSize, n, k, kBlocks, blobSize: (blockSize * bits) / 8, zpBytesPerRow: bits === 4 ? Math.ceil(kBlocks / 2) : 0 };
}

export interface QuantizedRows {
  /** [rows, kBlocks, blobSize] codes. */
  codes: Uint8Array;
  /** [rows, kBlocks] float32 scales. */
  scales: Float32Array;
  /** [rows, zpBytesPerRow] packed zero points (4-bit) or empty. */
  zeroPoints: Uint8Array;
}

/** Quantizes `rows` rows of a row-major float32 matrix [rows, K] (padding K up to whole blocks). */
export function quantizeRows(x: Float32Array, rows: number, L: QuantLayout): QuantizedRows {
  const { k, kBlocks, blockSize, blobSize, bits, zpBytesPerRow } = L;
  if (x.length !== rows * k) throw new Error(`quantizeRows: ${x.length} values for ${rows}×${k}`);
  const codes = new Uint8Array(rows * kBlocks * blobSize);
  const scales = new Float32Array(rows * kBlocks);
  const zeroPoints = new Uint8Array(rows * zpBytesPerRow);
  // Written straight into the outputs (no per-block temporaries): this runs over every weight.
  for (let r = 0; r < rows; r++) {
    const rowOff = r * k;
    for (let b = 0; b < kBlocks; b++) {
      const i0 = rowOff + b * blockSize;
      const i1 = rowOff + Math.min(k, (b + 1) * blockSize);
      const dst = (r * kBlocks + b) * blobSize;
      if (bits === 8) {
        let amax = 0;
        for (let i = i0; i < i1; i++) {
          const a = Math.abs(x[i]!);
          if (a > amax) amax = a;
        }
        const scale = Math.fround(amax / 127);
        scales[r * kBlocks + b] = scale;
        let j = dst;
        if (scale > 0) {
          const inv = 1 / scale;
          for (let i = i0; i < i1; i++, j++) {
            const c = Math.round(x[i]! * inv);
            codes[j] = (c < -128 ? -128 : c > 127 ? 127 : c) + 128;
          }
        }
        for (; j < dst + blockSize; j++) codes[j] = 128;
      } else {
        let mn = 0, mx = 0;
        for (let i = i0; i < i1; i++) {
          const v = x[i]!;
          if (v < mn) mn = v;
          else if (v > mx) mx = v;
        }
        const scale = Math.fround((mx - mn) / 15);
        scales[r * kBlocks + b] = scale;
        let zp = 8;
        const inv = scale > 0 ? 1 / scale : 0;
        if (scale > 0) {
          zp = Math.round(-mn * inv);
          if (zp < 0) zp = 0; else if (zp > 15) zp = 15;
        }
        const zi = r * zpBytesPerRow + (b >> 1);
        zeroPoints[zi] = b & 1 ? zeroPoints[zi]! | (zp << 4) : zp;
        // Codes in pairs, low nibble first; padding past K is the zero point (dequantizes to 0).
        for (let j = 0; j < blobSize; j++) {
          const ia = i0 + 2 * j, ib = ia + 1;
          let lo = zp, hi = zp;
          if (scale > 0) {
            if (ia < i1) {
              lo = Math.round(x[ia]! * inv) + zp;
              lo = lo < 0 ? 0 : lo > 15 ? 15 : lo;
            }
            if (ib < i1) {
              hi = Math.round(x[ib]! * inv) + zp;
              hi = hi < 0 ? 0 : hi > 15 ? 15 : hi;
            }
          }
          codes[dst + j] = lo | (hi << 4);
        }
      }
    }
  }
  return { codes, scales, zeroPoints };
}

/** The float32 matrix [rows, K] that MatMulNBits computes with (tests, error reports). */
export function dequantizeRows(qr: QuantizedRows, rows: number, L: QuantLayout): Float32Array {
  const { k, kBlocks, blockSize, blobSize, bits, zpBytesPerRow } = L;
  const out = new Float32Array(rows * k);
  for (let r = 0; r < rows; r++) {
    for (let b = 0; b < kBlocks; b++) {
      const scale = qr.scales[r * kBlocks + b]!;
      let zp = 128;
      if (bits === 4) {
        const z = qr.zeroPoints[r * zpBytesPerRow + (b >> 1)]!;
        zp = b & 1 ? z >> 4 : z & 15;
      }
      const src = (r * kBlocks + b) * blobSize;
      for (let i = b * blockSize; i < Math.min(k, (b + 1) * blockSize); i++) {
        const j = i - b * blockSize;
        const c = bits === 8 ? qr.codes[src + j]! : (qr.codes[src + (j >> 1)]! >> ((j & 1) * 4)) & 15;
        out[r * k + i] = Math.fround((c - zp) * scale);
      }
    }
  }
  return out;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** float32 → IEEE half bits, round to nearest even (overflow → ±inf). */
export function f32ToF16(v: number): number {
  f32[0] = v;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let h = mant >> shift;
    const rem = mant & ((1 << shift) - 1), half = 1 << (shift - 1);
    if (rem > half || (rem === half && h & 1)) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++; // may carry into the exponent: still correct
  return sign | h;
}

export function toF16(x: Float32Array): Uint16Array {
  const out = new Uint16Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = f32ToF16(x[i]!);
  return out;
}
