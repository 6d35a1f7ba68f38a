// Image decoding to RGB exactly as the Python references see images: Pillow's
// `Image.open(f).convert('RGB')` (first frame; no EXIF rotation, no ICC/gamma conversion; alpha
// dropped, not composited; L replicated; palettes expanded). sharp (libvips) decodes PNG, JPEG
// and WebP to raw pixels; GIF has its own decoder (image-gif.ts) to keep Pillow's transparency rules.
import { readFile } from 'node:fs/promises';
import sharp, { type SharpOptions } from 'sharp';
import { InputError, type DecodedImage, type ImageInput } from '../api.js';
import { readImageHeader, looksTruncated, type ImageFormat, type ImageHeader } from './image-header.js';
import { decodeGifFirstFrame } from './image-gif.js';

export { readImageHeader, sniffFormat, type ImageFormat, type ImageHeader } from './image-header.js';

/** Pillow's warning threshold for decompression bombs (Image.MAX_IMAGE_PIXELS): 1024·1024·1024 / 4 / 3. */
export const DEFAULT_MAX_PIXELS = 89_478_485;

export interface DecodeOptions {
  /** Refuse images with more pixels than this, from their header, before decoding (default 89,478,485). */
  maxPixels?: number;
}

/** Pixels in the file's own colour model, 8 bits per sample, palettes already expanded. */
export interface RawPixels {
  width: number;
  height: number;
  mode: 'L' | 'LA' | 'RGB' | 'RGBA' | 'CMYK';
  /** HWC uint8, channels = mode.length. */
  data: Uint8Array;
  format: ImageFormat;
}

interface Bytes { bytes: Uint8Array; name: string }

function isDecoded(x: ImageInput): x is DecodedImage {
  return typeof x === 'object' && x !== null && !(x instanceof Uint8Array);
}

/** Validates already-decoded pixels (shape and size), returning them unchanged. */
export function checkDecodedImage(img: DecodedImage, name = 'image'): DecodedImage {
  const { width, height, channels, data } = img as Partial<DecodedImage>;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width! <= 0 || height! <= 0) {
    throw new InputError(`${name}: decoded image needs positive integer width and height (got ${width}x${height})`);
  }
  if (channels !== 3) throw new InputError(`${name}: decoded image must be RGB (channels 3), got channels ${channels}`);
  if (!(data instanceof Uint8Array)) throw new InputError(`${name}: decoded image data must be a Uint8Array (HWC RGB)`);
  if (data.length !== width! * height! * 3) {
    throw new InputError(`${name}: decoded image data has ${data.length} bytes, expected ${width}x${height}x3 = ${width! * height! * 3}`);
  }
  return img;
}

const DATA_URL = /^data:([^;,]*)((?:;[^,]*)?),/;

/** File path, `data:` URL or bytes → encoded bytes and a name for error messages. */
async function toBytes(input: string | Uint8Array): Promise<Bytes> {
  if (input instanceof Uint8Array) return { bytes: input, name: 'image' };
  if (typeof input !== 'string') throw new InputError('image: expected a file path, encoded bytes or decoded RGB pixels');
  const m = DATA_URL.exec(input);
  if (m) {
    // Lets callers (e.g. an OpenAI-style server) pass image URLs that carry their bytes inline.
    const payload = input.slice(m[0].length);
    const bytes = m[2]!.split(';').includes('base64') ? Buffer.from(payload, 'base64') : Buffer.from(decodeURIComponent(payload), 'latin1');
    return { bytes, name: `data URL (${m[1] || 'no type'})` };
  }
  try {
    return { bytes: await readFile(input), name: input };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new InputError(`${input}: image file not found`);
    if (code === 'EISDIR') throw new InputError(`${input}: is a directory, not an image file`);
    if (code === 'EACCES' || code === 'EPERM') throw new InputError(`${input}: permission denied reading the image file`);
    throw new InputError(`${input}: cannot read the image file (${(e as Error).message})`);
  }
}

function checkSize(h: { width: number; height: number }, name: string, maxPixels: number): void {
  const n = h.width * h.height;
  if (n > maxPixels) {
    throw new InputError(`${name}: image is ${h.width}x${h.height} (${n} pixels), above the limit of ${maxPixels} pixels (maxPixels); downscale it first or raise the limit`);
  }
}

function sharpError(e: unknown, bytes: Uint8Array, name: string, format: ImageFormat): InputError {
  const msg = String((e as Error).message ?? e).trim().split('\n')[0];
  const kind = looksTruncated(bytes, format) || /premature end|truncated/i.test(msg) ? 'truncated' : 'corrupt';
  return new InputError(`${name}: ${kind} ${format.toUpperCase()} image, cannot decode it (${msg})`);
}

/** Pillow's cmyk2rgb (Convert.c): r = clip(255 − k − c·(255 − k)/255) with its integer rounding. */
function cmykToRgb(src: Uint8Array, n: number): Uint8Array {
  const out = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    const nk = 255 - src[4 * i + 3]!;
    for (let c = 0; c < 3; c++) {
      const t = src[4 * i + c]! * nk + 128;
      const v = nk - (((t >> 8) + t) >> 8); // MULDIV255
      out[3 * i + c] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
  }
  return out;
}

async function decodeWithSharp(bytes: Uint8Array, name: string, header: ImageHeader, maxPixels: number): Promise<RawPixels> {
  // 16-bit grayscale PNG: Pillow opens it as I;16 and convert('RGB') clips every value above 255 to
  // white, so the references see a nearly white picture. Refuse rather than silently match that.
  if (header.format === 'png' && header.bitDepth === 16 && header.colorType === 0) {
    throw new InputError(`${name}: 16-bit grayscale PNG is not supported (Pillow, which the reference models use, clips it to white); convert it to 8-bit first`);
  }
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // ignoreIcc: no colour management (Pillow applies none); autoOrient off: no EXIF rotation;
  // failOn 'error': fail on truncated/corrupt pixel data but not on harmless warnings, like Pillow.
  const opts: SharpOptions = {
    ignoreIcc: true,
    autoOrient: false,
    failOn: 'error',
    pages: 1,
    limitInputPixels: Number.isFinite(maxPixels) ? Math.max(1, Math.floor(maxPixels)) : false,
  };
  try {
    const meta = await sharp(buf, opts).metadata();
    if (meta.space === 'cmyk') {
      // Pillow reads CMYK JPEGs as CMYK (Adobe-inverted data un-inverted, as libvips does) and
      // converts with its own naive formula; keep libvips' ICC-based conversion out of it.
      const { data, info } = await sharp(buf, opts).pipelineColourspace('cmyk').toColourspace('cmyk').raw().toBuffer({ resolveWithObject: true });
      if (info.channels !== 4) throw new Error(`expected 4 CMYK channels, got ${info.channels}`);
      return { width: info.width, height: info.height, mode: 'CMYK', data: new Uint8Array(data.buffer, data.byteOffset, data.length), format: header.format };
    }
    const { data, info } = await sharp(buf, opts).raw().toBuffer({ resolveWithObject: true });
    const px = new Uint8Array(data.buffer, data.byteOffset, data.length);
    const gray = meta.space === 'b-w' || meta.space === 'grey16';
    if ((info.channels !== 3 && info.channels !== 4) || px.length !== info.width * info.height * info.channels) {
      throw new Error(`unexpected raw output: ${info.channels} channels, ${px.length} bytes for ${info.width}x${info.height}`);
    }
    const alpha = info.channels === 4;
    if (!gray) return { width: info.width, height: info.height, mode: alpha ? 'RGBA' : 'RGB', data: px, format: header.format };
    // libvips hands gray images out as replicated sRGB; keep one channel (+ alpha).
    const n = info.width * info.height, c = info.channels, k = alpha ? 2 : 1;
    const out = new Uint8Array(n * k);
    for (let i = 0; i < n; i++) {
      out[i * k] = px[i * c]!;
      if (alpha) out[i * k + 1] = px[i * c + 3]!;
    }
    return { width: info.width, height: info.height, mode: alpha ? 'LA' : 'L', data: out, format: header.format };
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw sharpError(e, bytes, name, header.format);
  }
}

/**
 * Decodes an encoded image (bytes, file path or `data:` URL) to 8-bit pixels in its own colour
 * model (L, LA, RGB, RGBA or CMYK; palettes expanded). The size is checked against `maxPixels`
 * from the header before any pixel is decoded.
 */
export async function decodeImagePixels(input: string | Uint8Array, opts: DecodeOptions = {}): Promise<RawPixels> {
  const maxPixels = opts.maxPixels ?? DEFAULT_MAX_PIXELS;
  const { bytes, name } = await toBytes(input);
  const header = readImageHeader(bytes, name);
  checkSize(header, name, maxPixels);
  if (header.format === 'gif') {
    const f = decodeGifFirstFrame(bytes, name, maxPixels);
    return { ...f, mode: 'RGB', format: 'gif' };
  }
  const raw = await decodeWithSharp(bytes, name, header, maxPixels);
  if (raw.width !== header.width || raw.height !== header.height) {
    throw new InputError(`${name}: decoder returned ${raw.width}x${raw.height} but the header says ${header.width}x${header.height}`);
  }
  return raw;
}

/** Pillow's `convert('RGB')`: alpha dropped (not composited), L replicated, CMYK by Pillow's formula. */
export function toRGB(raw: RawPixels): DecodedImage {
  const { width, height, mode, data } = raw;
  const n = width * height;
  if (mode === 'RGB') return { width, height, channels: 3, data };
  if (mode === 'CMYK') return { width, height, channels: 3, data: cmykToRgb(data, n) };
  const c = mode.length;
  const out = new Uint8Array(n * 3);
  if (mode === 'RGBA') {
    for (let i = 0; i < n; i++) {
      out[3 * i] = data[4 * i]!;
      out[3 * i + 1] = data[4 * i + 1]!;
      out[3 * i + 2] = data[4 * i + 2]!;
    }
  } else {
    for (let i = 0; i < n; i++) out[3 * i] = out[3 * i + 1] = out[3 * i + 2] = data[c * i]!;
  }
  return { width, height, channels: 3, data: out };
}

/**
 * Any ImageInput → RGB pixels as Pillow's `Image.open(f).convert('RGB')` gives them.
 * Decoded input is validated and returned as is (not copied). Bad input → InputError.
 */
export async function decodeImage(input: ImageInput, opts: DecodeOptions = {}): Promise<DecodedImage> {
  if (isDecoded(input)) {
    const img = checkDecodedImage(input);
    checkSize(img, 'image', opts.maxPixels ?? DEFAULT_MAX_PIXELS);
    return img;
  }
  return toRGB(await decodeImagePixels(input, opts));
}
