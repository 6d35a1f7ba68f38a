// diffusers image_processor.py VaeImageProcessor post-processing: VAE output [B, 3, H, W] in
// [−1, 1] → NHWC float in [0, 1] → uint8, and the inverse pre-processing for the encoder.

/** (x/2 + 0.5).clamp(0, 1), NCHW → NHWC, in float32 as diffusers computes it. */
export function vaeOutputToImage(x: Float32Array, shape: readonly number[]): Float32Array {
  const [B, C, H, W] = shape as [number, number, number, number];
  const out = new Float32Array(B * H * W * C);
  for (let b = 0; b < B; b++) {
    for (let c = 0; c < C; c++) {
      const src = (b * C + c) * H * W;
      for (let p = 0; p < H * W; p++) {
        const v = Math.fround(Math.fround(x[src + p]! / 2) + 0.5);
        out[(b * H * W + p) * C + c] = v < 0 ? 0 : v > 1 ? 1 : v;
      }
    }
  }
  return out;
}

/**
 * Float [0, 1] → uint8 through a float32 product by 255: 'round' = numpy round (half to even,
 * diffusers numpy_to_pil), 'truncate' = astype(uint8) (SEED v1's sample saving).
 */
export function imageToUint8(img: Float32Array, mode: 'round' | 'truncate' = 'round'): Uint8Array {
  const out = new Uint8Array(img.length);
  for (let i = 0; i < img.length; i++) {
    const v = Math.fround(img[i]! * 255);
    out[i] = mode === 'truncate' ? Math.trunc(v) : roundHalfEven(v);
  }
  return out;
}

function roundHalfEven(v: number): number {
  const f = Math.floor(v);
  const d = v - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/** uint8 HWC RGB → [1, 3, H, W] float in [−1, 1] (VaeImageProcessor.preprocess: x/255·2 − 1). */
export function imageToVaeInput(rgb: Uint8Array, height: number, width: number): Float32Array {
  const out = new Float32Array(3 * height * width);
  for (let p = 0; p < height * width; p++) {
    for (let c = 0; c < 3; c++) out[c * height * width + p] = Math.fround(Math.fround(rgb[p * 3 + c]! / 255) * 2 - 1);
  }
  return out;
}
