// Decoding: small test images made by Pillow (test/data/images/generate.py) must decode to what
// Pillow's convert('RGB') gives (expected.json), and bad input must fail with a clear InputError.
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { InputError, type DecodedImage } from '../../src/api.js';
import { decodeImage, decodeImagePixels, readImageHeader, DEFAULT_MAX_PIXELS } from '../../src/processors/image.js';

const dataDir = join(dirname(fileURLToPath(import.meta.url)), '../data/images');
const expected = JSON.parse(readFileSync(join(dataDir, 'expected.json'), 'utf8'));
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const bytesOf = (f: string) => new Uint8Array(readFileSync(join(dataDir, f)));

/** Expects `p` to reject with an InputError whose message matches every pattern. */
async function rejects(p: Promise<unknown>, ...patterns: RegExp[]): Promise<string> {
  const e = await p.then(() => undefined, (err: unknown) => err);
  expect(e, 'expected a rejection').toBeInstanceOf(InputError);
  const msg = (e as Error).message;
  for (const re of patterns) expect(msg).toMatch(re);
  return msg;
}

// A PNG with a valid IHDR claiming `w`x`h` RGB and a tiny IDAT (never decoded if the limit works).
function pngClaiming(w: number, h: number): Uint8Array {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (b: Uint8Array) => {
    let c = 0xffffffff;
    for (const x of b) c = crcTable[(c ^ x) & 0xff]! ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type: string, data: Uint8Array) => {
    const out = new Uint8Array(12 + data.length);
    const dv = new DataView(out.buffer);
    dv.setUint32(0, data.length);
    out.set(Buffer.from(type, 'latin1'), 4);
    out.set(data, 8);
    dv.setUint32(8 + data.length, crc(out.subarray(4, 8 + data.length)));
    return out;
  };
  const ihdr = new Uint8Array(13);
  new DataView(ihdr.buffer).setUint32(0, w);
  new DataView(ihdr.buffer).setUint32(4, h);
  ihdr.set([8, 2, 0, 0, 0], 8);
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(Buffer.alloc(64))), chunk('IEND', new Uint8Array(0))]);
}

describe('decodeImage matches Pillow open + convert("RGB")', () => {
  for (const [file, want] of Object.entries<any>(expected.files)) {
    it(`${file} (${want.format} ${want.mode})`, async () => {
      const h = readImageHeader(bytesOf(file), file);
      expect([h.format, h.width, h.height]).toEqual([want.format.toLowerCase(), want.width, want.height]);
      if (want.mode === 'I;16') {
        // Deliberate difference: Pillow clips 16-bit gray to 255 (white); we refuse with a clear message.
        await rejects(decodeImage(join(dataDir, file)), /16-bit grayscale PNG is not supported/, new RegExp(file));
        return;
      }
      const img = await decodeImage(join(dataDir, file));
      expect([img.width, img.height, img.channels]).toEqual([want.width, want.height, 3]);
      expect(sha256(img.data), `${file}: RGB bytes differ from Pillow's`).toBe(want.rgb_sha256);
    });
  }

  it('accepts a path, bytes, a Buffer, a data: URL and decoded pixels alike', async () => {
    const file = 'rgb-noise.png';
    const a = await decodeImage(join(dataDir, file));
    const b = await decodeImage(bytesOf(file));
    const c = await decodeImage(readFileSync(join(dataDir, file)));
    const d = await decodeImage(`data:image/png;base64,${readFileSync(join(dataDir, file)).toString('base64')}`);
    for (const x of [b, c, d]) expect(sha256(x.data)).toBe(sha256(a.data));
    expect(await decodeImage(a)).toBe(a); // decoded input is passed through, not copied
    // A byte view into a larger buffer (offset ≠ 0) decodes too.
    const big = new Uint8Array(bytesOf(file).length + 10);
    big.set(bytesOf(file), 7);
    expect(sha256((await decodeImage(big.subarray(7, 7 + bytesOf(file).length))).data)).toBe(sha256(a.data));
  });

  it('keeps the file mode in decodeImagePixels (L, LA, RGBA, CMYK)', async () => {
    expect((await decodeImagePixels(join(dataDir, 'gray-checker.png'))).mode).toBe('L');
    expect((await decodeImagePixels(join(dataDir, 'la.png'))).mode).toBe('LA');
    expect((await decodeImagePixels(join(dataDir, 'rgba.png'))).mode).toBe('RGBA');
    expect((await decodeImagePixels(join(dataDir, 'cmyk.jpg'))).mode).toBe('CMYK');
  });
});

describe('bad input gives a clear InputError', () => {
  it('missing file, directory', async () => {
    await rejects(decodeImage('/no/such/dir/cat.png'), /\/no\/such\/dir\/cat\.png/, /not found/);
    await rejects(decodeImage(dataDir), /is a directory/);
  });

  it('a text file and random bytes are "not an image"', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsvlm-img-'));
    const txt = join(dir, 'notes.png');
    writeFileSync(txt, 'just some text, not pixels\n');
    await rejects(decodeImage(txt), /notes\.png/, /not an image \(PNG\/JPEG\/WebP\/GIF expected\)/);
    const noise = Uint8Array.from({ length: 500 }, (_, i) => (i * 7919 + 13) % 251);
    await rejects(decodeImage(noise), /not an image/);
    await rejects(decodeImage(new Uint8Array(0)), /empty/);
  });

  it('names unsupported formats it recognises', async () => {
    await rejects(decodeImage(Buffer.concat([Buffer.from('BM'), Buffer.alloc(60)])), /BMP images are not supported/);
    await rejects(decodeImage(Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"></svg>')), /SVG images are not supported/);
    await rejects(decodeImage(Buffer.from([0x49, 0x49, 0x2a, 0, 8, 0, 0, 0])), /TIFF/);
  });

  it('truncated PNG, JPEG, GIF, WebP', async () => {
    for (const file of ['rgb-noise.png', 'exif-rotate6.jpg', 'interlaced.gif', 'lossless-alpha.webp']) {
      const b = bytesOf(file);
      await rejects(decodeImage(b.subarray(0, Math.floor(b.length * 0.6))), /truncated/);
      await rejects(decodeImage(b.subarray(0, 20)), /truncated/);
    }
  });

  it('an animated GIF cut after its first frame still decodes (only frame 0 is read, as in Pillow)', async () => {
    const b = bytesOf('anim-trns.gif');
    const full = await decodeImage(b);
    const cut = await decodeImage(b.subarray(0, Math.floor(b.length * 0.6)));
    expect(sha256(cut.data)).toBe(sha256(full.data));
  });

  it('corrupt PNG data (damaged IDAT)', async () => {
    const b = bytesOf('rgb-noise.png').slice();
    for (let i = 60; i < 200; i++) b[i] ^= 0x5a;
    await rejects(decodeImage(b), /corrupt|truncated/, /PNG/);
  });

  it('decompression bomb: a 100000x100000 PNG is refused from its header, fast', async () => {
    const bomb = pngClaiming(100000, 100000);
    expect(readImageHeader(bomb)).toMatchObject({ format: 'png', width: 100000, height: 100000 });
    const t = performance.now();
    await rejects(decodeImage(bomb), /100000x100000/, new RegExp(String(DEFAULT_MAX_PIXELS)), /limit/);
    expect(performance.now() - t).toBeLessThan(200);
  });

  it('maxPixels applies to every format and to decoded input', async () => {
    for (const file of ['rgb-noise.png', 'exif-rotate6.jpg', 'anim-trns.gif', 'lossy.webp']) {
      await rejects(decodeImage(join(dataDir, file), { maxPixels: 100 }), /above the limit of 100 pixels/);
    }
    const img: DecodedImage = { width: 20, height: 10, channels: 3, data: new Uint8Array(600) };
    await rejects(decodeImage(img, { maxPixels: 199 }), /20x10/);
    expect(await decodeImage(img, { maxPixels: 200 })).toBe(img);
  });

  it('oversized GIF screens and JPEG / WebP frame headers are refused before decoding', async () => {
    const gif = bytesOf('anim-trns.gif').slice();
    gif.set([0xff, 0xff, 0xff, 0xff], 6); // logical screen 65535x65535
    await rejects(decodeImage(gif), /65535x65535/);
    const jpg = bytesOf('exif-rotate6.jpg').slice();
    const sof = jpg.findIndex((v, i) => v === 0xff && jpg[i + 1] === 0xc0);
    jpg.set([0xfd, 0xe8, 0xfd, 0xe8], sof + 5); // 65000x65000
    await rejects(decodeImage(jpg), /65000x65000/);
    const webp = Buffer.concat([Buffer.from('RIFF'), Buffer.from([22, 0, 0, 0]), Buffer.from('WEBPVP8X'), Buffer.from([10, 0, 0, 0, 0, 0, 0, 0]), Buffer.from([0xff, 0x3f, 0, 0xff, 0x3f, 0])]);
    await rejects(decodeImage(webp), /16384x16384/);
  });

  it('malformed decoded pixels', async () => {
    await rejects(decodeImage({ width: 2, height: 2, channels: 3, data: new Uint8Array(11) }), /11 bytes, expected 2x2x3 = 12/);
    await rejects(decodeImage({ width: 2, height: 2, channels: 4 as 3, data: new Uint8Array(16) }), /channels 3/);
    await rejects(decodeImage({ width: 0, height: 2, channels: 3, data: new Uint8Array(0) }), /positive integer/);
  });
});
