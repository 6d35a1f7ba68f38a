// GIF first-frame decoder with the semantics of Pillow's GifImagePlugin + GifDecode.c followed by
// convert('RGB'): transparency is ignored on the first frame (the transparent index keeps its
// palette colour), the canvas outside the frame is filled with the transparent index (or 0).
// Own decoder because libvips composites transparent pixels to black, which Pillow does not.
import { InputError } from '../api.js';

export interface GifFrame {
  width: number;
  height: number;
  /** HWC uint8 RGB. */
  data: Uint8Array;
}

const GIFTABLE = 4096; // LZW codes are at most 12 bits

class Reader {
  p: number;
  constructor(readonly b: Uint8Array, readonly name: string, start: number) { this.p = start; }
  need(n: number): void {
    if (this.p + n > this.b.length) throw new InputError(`${this.name}: truncated GIF (the file ends inside a block)`);
  }
  u8(): number { this.need(1); return this.b[this.p++]!; }
  u16(): number { this.need(2); const v = this.b[this.p]! | (this.b[this.p + 1]! << 8); this.p += 2; return v; }
  bytes(n: number): Uint8Array { this.need(n); const v = this.b.subarray(this.p, this.p + n); this.p += n; return v; }
  /** Reads data sub-blocks up to the 0-length terminator; returns the first one (or undefined). */
  subBlocks(): Uint8Array | undefined {
    let first: Uint8Array | undefined;
    for (;;) {
      const n = this.u8();
      if (n === 0) return first;
      const blk = this.bytes(n);
      first ??= blk;
    }
  }
}

/** Pillow keeps a palette only when it is not the identity gray ramp (GifImagePlugin._is_palette_needed). */
function paletteNeeded(p: Uint8Array): boolean {
  for (let i = 0; i < p.length; i += 3) {
    const k = i / 3;
    if (!(k === p[i] && p[i] === p[i + 1] && p[i] === p[i + 2])) return true;
  }
  return false;
}

/** Decodes the first frame of a GIF to RGB, bit-exact with Pillow's `Image.open(f).convert('RGB')`. */
export function decodeGifFirstFrame(b: Uint8Array, name: string, maxPixels: number): GifFrame {
  const r = new Reader(b, name, 6);
  let width = r.u16(), height = r.u16();
  const flags = r.u8();
  r.u8(); // background index: unused for the first frame
  r.u8(); // pixel aspect ratio
  let globalPalette: Uint8Array | undefined;
  if (flags & 0x80) {
    const p = r.bytes(3 << ((flags & 7) + 1));
    if (paletteNeeded(p)) globalPalette = p;
  }

  let transparency: number | undefined;
  let frame: { x0: number; y0: number; w: number; h: number; interlace: boolean; palette: Uint8Array | undefined } | undefined;
  while (!frame) {
    if (r.p >= b.length) throw new InputError(`${name}: truncated GIF (no image data)`);
    const t = r.u8();
    if (t === 0x3b) throw new InputError(`${name}: corrupt GIF (no image in the file)`);
    if (t === 0x21) {
      const label = r.u8();
      const blk = r.subBlocks();
      // Graphic control extension: only its transparency matters for the first frame.
      if (label === 0xf9 && blk && blk.length >= 4 && (blk[0]! & 1)) transparency = blk[3]!;
    } else if (t === 0x2c) {
      const x0 = r.u16(), y0 = r.u16(), w = r.u16(), h = r.u16();
      const f = r.u8();
      let palette = globalPalette;
      if (f & 0x80) {
        const p = r.bytes(3 << ((f & 7) + 1));
        palette = paletteNeeded(p) ? p : undefined;
      }
      frame = { x0, y0, w, h, interlace: (f & 0x40) !== 0, palette };
    }
    // Anything else between blocks is skipped, as Pillow does.
  }
  width = Math.max(width, frame.x0 + frame.w);
  height = Math.max(height, frame.y0 + frame.h);
  if (width === 0 || height === 0) throw new InputError(`${name}: corrupt GIF (size ${width}x${height})`);
  if (width * height > maxPixels) {
    throw new InputError(`${name}: image is ${width}x${height} (${width * height} pixels), above the limit of ${maxPixels} pixels`);
  }

  // Palette indices on the canvas; outside the frame: the transparent index, else 0.
  const idx = new Uint8Array(width * height);
  if (transparency !== undefined) idx.fill(transparency);
  if (frame.w > 0 && frame.h > 0) decodeLzw(r, idx, width, frame, name);

  // convert('RGB'): palette lookup (entries past the palette are black in Pillow's palette), or
  // gray = index when there is no palette (mode L).
  const lut = new Uint8Array(768);
  if (frame.palette) lut.set(frame.palette.subarray(0, 768));
  else for (let i = 0; i < 256; i++) lut[3 * i] = lut[3 * i + 1] = lut[3 * i + 2] = i;
  const data = new Uint8Array(width * height * 3);
  for (let i = 0, o = 0; i < idx.length; i++, o += 3) {
    const k = idx[i]! * 3;
    data[o] = lut[k]!;
    data[o + 1] = lut[k + 1]!;
    data[o + 2] = lut[k + 2]!;
  }
  return { width, height, data };
}

/** LZW decoding as in Pillow's GifDecode.c (same code-size growth, clear and KwKwK handling). */
function decodeLzw(
  r: Reader,
  out: Uint8Array,
  stride: number,
  f: { x0: number; y0: number; w: number; h: number; interlace: boolean },
  name: string,
): void {
  const bits = r.u8();
  if (bits > 12) throw new InputError(`${name}: corrupt GIF (LZW code size ${bits})`);
  const broken = () => new InputError(`${name}: corrupt GIF (invalid LZW data)`);
  const truncated = () => new InputError(`${name}: truncated GIF (image data ends before the frame is complete)`);
  const clear = 1 << bits, end = clear + 1;
  const data = new Uint8Array(GIFTABLE), link = new Uint16Array(GIFTABLE);
  const stack = new Uint8Array(GIFTABLE);
  let next = 0, codesize = 0, codemask = 0;
  let state = 1, lastdata = 0, lastcode = 0;
  let bitbuf = 0, bitcount = 0, blockLeft = 0;
  const b = r.b;

  // Interlaced frames write rows 0,8,16.. then 4,12.. then 2,6.. then 1,3..
  let x = 0, y = 0, pass = f.interlace ? 1 : 0, step = f.interlace ? 8 : 1;
  let row = (f.y0 + y) * stride + f.x0;
  let done = false;
  const put = (v: number) => {
    out[row + x] = v;
    if (++x < f.w) return;
    x = 0;
    y += step;
    while (y >= f.h) {
      if (pass === 1) { y = 4; pass = 2; }
      else if (pass === 2) { step = 4; y = 2; pass = 3; }
      else if (pass === 3) { step = 2; y = 1; pass = 0; }
      else { done = true; return; }
    }
    row = (f.y0 + y) * stride + f.x0;
  };

  while (!done) {
    if (state === 1) {
      next = clear + 2;
      codesize = bits + 1;
      codemask = (1 << codesize) - 1;
      state = 2;
    }
    while (bitcount < codesize) {
      if (blockLeft === 0) {
        if (r.p >= b.length) throw truncated();
        blockLeft = b[r.p++]!;
        if (blockLeft === 0) throw truncated(); // block terminator: no more image data
        continue;
      }
      if (r.p >= b.length) throw truncated();
      bitbuf |= b[r.p++]! << bitcount;
      bitcount += 8;
      blockLeft--;
    }
    let c = bitbuf & codemask;
    bitbuf >>>= codesize;
    bitcount -= codesize;

    if (c === clear) {
      if (state !== 2) state = 1;
      continue;
    }
    if (c === end) throw truncated();
    if (state === 2) {
      if (c > clear) throw broken();
      lastdata = lastcode = c;
      state = 3;
      put(c);
      continue;
    }
    const thiscode = c;
    if (c > next) throw broken();
    let sp = 0;
    if (c === next) {
      stack[sp++] = lastdata;
      c = lastcode;
    }
    while (c >= clear) {
      if (sp >= GIFTABLE || c >= GIFTABLE) throw broken();
      stack[sp++] = data[c]!;
      c = link[c]!;
    }
    lastdata = c;
    if (next < GIFTABLE) {
      data[next] = c;
      link[next] = lastcode;
      if (next === codemask && codesize < 12) {
        codesize++;
        codemask = (1 << codesize) - 1;
      }
      next++;
    }
    lastcode = thiscode;
    put(c);
    while (sp > 0 && !done) put(stack[--sp]!);
  }
}
