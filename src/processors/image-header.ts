// Image format sniffing and header parsing (PNG, JPEG, WebP, GIF) without decoding any pixels,
// so that oversized images (decompression bombs) are refused before a decoder allocates memory.
import { InputError } from '../api.js';

export type ImageFormat = 'png' | 'jpeg' | 'webp' | 'gif';

export interface ImageHeader {
  format: ImageFormat;
  /** Size of the image the decoder will produce (for GIF: the screen grown to hold the first frame, as Pillow does). */
  width: number;
  height: number;
  /** PNG only: bit depth and colour type from IHDR (16-bit grayscale needs special handling). */
  bitDepth?: number;
  colorType?: number;
}

const PNG_SIG = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

function startsWith(b: Uint8Array, sig: ArrayLike<number>, at = 0): boolean {
  if (b.length < at + sig.length) return false;
  for (let i = 0; i < sig.length; i++) if (b[at + i] !== sig[i]) return false;
  return true;
}
const ascii = (s: string) => Array.from(s, (c) => c.charCodeAt(0));

/** The supported format of these bytes, judged from the magic number, or undefined. */
export function sniffFormat(b: Uint8Array): ImageFormat | undefined {
  if (startsWith(b, PNG_SIG)) return 'png';
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'jpeg';
  if (startsWith(b, ascii('GIF87a')) || startsWith(b, ascii('GIF89a'))) return 'gif';
  if (startsWith(b, ascii('RIFF')) && startsWith(b, ascii('WEBP'), 8)) return 'webp';
  return undefined;
}

/** Names formats we recognise but do not decode, for a more useful error message. */
function otherFormat(b: Uint8Array): string | undefined {
  if (startsWith(b, ascii('BM'))) return 'BMP';
  if (startsWith(b, [0x49, 0x49, 0x2a, 0x00]) || startsWith(b, [0x4d, 0x4d, 0x00, 0x2a])) return 'TIFF';
  if (startsWith(b, ascii('ftyp'), 4)) {
    const brand = String.fromCharCode(...b.subarray(8, 12));
    if (/^avi[fs]$/.test(brand)) return 'AVIF';
    if (/^(hei[cxs]|mif1|msf1|hevc)$/.test(brand)) return 'HEIF/HEIC';
    return `ISO media (${brand})`;
  }
  if (startsWith(b, [0xff, 0x0a]) || startsWith(b, [0, 0, 0, 0x0c, 0x4a, 0x58, 0x4c, 0x20])) return 'JPEG XL';
  if (startsWith(b, [0, 0, 1, 0])) return 'ICO';
  if (startsWith(b, ascii('8BPS'))) return 'PSD';
  if (startsWith(b, ascii('%PDF'))) return 'PDF';
  const head = new TextDecoder('latin1').decode(b.subarray(0, 256)).trimStart().toLowerCase();
  if (head.startsWith('<svg') || (head.startsWith('<?xml') && head.includes('<svg'))) return 'SVG';
  return undefined;
}

/** Error for bytes that are not a supported image: names the format when we know it. */
export function notAnImage(name: string, b: Uint8Array): InputError {
  if (b.length === 0) return new InputError(`${name}: empty file/bytes (PNG/JPEG/WebP/GIF expected)`);
  const other = otherFormat(b);
  if (other) return new InputError(`${name}: ${other} images are not supported (PNG/JPEG/WebP/GIF expected); convert it first`);
  return new InputError(`${name}: not an image (PNG/JPEG/WebP/GIF expected)`);
}

const u16be = (b: Uint8Array, i: number) => (b[i]! << 8) | b[i + 1]!;
const u16le = (b: Uint8Array, i: number) => b[i]! | (b[i + 1]! << 8);
const u24le = (b: Uint8Array, i: number) => b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16);
const u32be = (b: Uint8Array, i: number) => ((b[i]! << 24) | (b[i + 1]! << 16) | (b[i + 2]! << 8) | b[i + 3]!) >>> 0;
const u32le = (b: Uint8Array, i: number) => (b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24)) >>> 0;

function truncated(name: string, what: string): InputError {
  return new InputError(`${name}: truncated ${what} (the file ends inside its header)`);
}

function pngHeader(b: Uint8Array, name: string): ImageHeader {
  if (b.length < 33) throw truncated(name, 'PNG');
  if (u32be(b, 8) !== 13 || !startsWith(b, ascii('IHDR'), 12)) throw new InputError(`${name}: corrupt PNG (first chunk is not a valid IHDR)`);
  const width = u32be(b, 16), height = u32be(b, 20);
  if (width === 0 || height === 0 || width > 0x7fffffff || height > 0x7fffffff) {
    throw new InputError(`${name}: corrupt PNG (IHDR gives an invalid size ${width}x${height})`);
  }
  return { format: 'png', width, height, bitDepth: b[24]!, colorType: b[25]! };
}

// JPEG frame headers: SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC).
const isSOF = (m: number) => m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc;

function jpegHeader(b: Uint8Array, name: string): ImageHeader {
  let p = 2;
  for (;;) {
    // Markers may be preceded by any number of 0xFF fill bytes.
    while (p < b.length && b[p] !== 0xff) p++; // tolerate stray bytes between segments, as libjpeg does
    while (p < b.length && b[p] === 0xff) p++;
    if (p >= b.length) throw truncated(name, 'JPEG');
    const m = b[p++]!;
    if (m === 0x01 || (m >= 0xd0 && m <= 0xd8)) continue; // standalone markers carry no length
    if (m === 0xd9) throw new InputError(`${name}: corrupt JPEG (end of image before any frame header)`);
    if (p + 2 > b.length) throw truncated(name, 'JPEG');
    const len = u16be(b, p);
    if (len < 2) throw new InputError(`${name}: corrupt JPEG (segment length ${len})`);
    if (isSOF(m)) {
      if (p + 7 > b.length) throw truncated(name, 'JPEG');
      const height = u16be(b, p + 3), width = u16be(b, p + 5);
      if (width === 0 || height === 0) {
        throw new InputError(`${name}: unsupported JPEG (frame header gives size ${width}x${height})`);
      }
      return { format: 'jpeg', width, height };
    }
    if (m === 0xda) throw new InputError(`${name}: corrupt JPEG (scan data before any frame header)`);
    p += len;
  }
}

function gifHeader(b: Uint8Array, name: string): ImageHeader {
  if (b.length < 13) throw truncated(name, 'GIF');
  let width = u16le(b, 6), height = u16le(b, 8);
  const flags = b[10]!;
  let p = 13;
  if (flags & 0x80) p += 3 << ((flags & 7) + 1);
  // Pillow grows the canvas to hold the first frame when it sticks out of the logical screen.
  for (;;) {
    if (p >= b.length) throw truncated(name, 'GIF');
    const t = b[p++]!;
    if (t === 0x2c) {
      if (p + 9 > b.length) throw truncated(name, 'GIF');
      const x1 = u16le(b, p) + u16le(b, p + 4), y1 = u16le(b, p + 2) + u16le(b, p + 6);
      width = Math.max(width, x1);
      height = Math.max(height, y1);
      break;
    }
    if (t === 0x21) {
      p++; // extension label
      for (;;) {
        if (p >= b.length) throw truncated(name, 'GIF');
        const n = b[p++]!;
        if (n === 0) break;
        p += n;
      }
      continue;
    }
    if (t === 0x3b) throw new InputError(`${name}: corrupt GIF (no image in the file)`);
    // Pillow skips unknown bytes between blocks.
  }
  if (width === 0 || height === 0) throw new InputError(`${name}: corrupt GIF (size ${width}x${height})`);
  return { format: 'gif', width, height };
}

function webpHeader(b: Uint8Array, name: string): ImageHeader {
  if (b.length < 30) throw truncated(name, 'WebP');
  const chunk = String.fromCharCode(b[12]!, b[13]!, b[14]!, b[15]!);
  const d = 20;
  let width: number, height: number;
  if (chunk === 'VP8 ') {
    if (b[d + 3] !== 0x9d || b[d + 4] !== 0x01 || b[d + 5] !== 0x2a) throw new InputError(`${name}: corrupt WebP (bad VP8 start code)`);
    width = u16le(b, d + 6) & 0x3fff;
    height = u16le(b, d + 8) & 0x3fff;
  } else if (chunk === 'VP8L') {
    if (b[d] !== 0x2f) throw new InputError(`${name}: corrupt WebP (bad VP8L signature)`);
    const bits = u32le(b, d + 1);
    width = (bits & 0x3fff) + 1;
    height = ((bits >>> 14) & 0x3fff) + 1;
  } else if (chunk === 'VP8X') {
    width = u24le(b, d + 4) + 1;
    height = u24le(b, d + 7) + 1;
  } else {
    throw new InputError(`${name}: corrupt or unsupported WebP (first chunk is '${chunk.replace(/[^\x20-\x7e]/g, '?')}')`);
  }
  if (width === 0 || height === 0) throw new InputError(`${name}: corrupt WebP (size ${width}x${height})`);
  return { format: 'webp', width, height };
}

/**
 * Format and size of an encoded image, read from its header only (no pixel is decoded).
 * Throws an InputError naming `name` for non-images, unsupported formats and truncated headers.
 */
export function readImageHeader(bytes: Uint8Array, name = 'image'): ImageHeader {
  const format = sniffFormat(bytes);
  switch (format) {
    case 'png': return pngHeader(bytes, name);
    case 'jpeg': return jpegHeader(bytes, name);
    case 'gif': return gifHeader(bytes, name);
    case 'webp': return webpHeader(bytes, name);
    default: throw notAnImage(name, bytes);
  }
}

/**
 * Whether the container structure ends early (PNG chunks past the end or no IEND, JPEG without
 * EOI, WebP shorter than its RIFF size): used to word decoder errors as "truncated".
 */
export function looksTruncated(b: Uint8Array, format: ImageFormat): boolean {
  switch (format) {
    case 'png': {
      let p = 8;
      while (p + 8 <= b.length) {
        const len = u32be(b, p);
        if (startsWith(b, ascii('IEND'), p + 4)) return false;
        p += 12 + len;
      }
      return true;
    }
    case 'jpeg': {
      let end = b.length;
      while (end > 0 && b[end - 1] === 0) end--; // some writers pad after EOI
      return !(end >= 2 && b[end - 2] === 0xff && b[end - 1] === 0xd9);
    }
    case 'webp':
      return b.length < 8 + u32le(b, 4);
    case 'gif':
      return b[b.length - 1] !== 0x3b;
  }
}
