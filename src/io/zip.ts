// Zip archive reader for PyTorch checkpoints: reads the central directory (zip64 included) and
// turns each entry into a byte range of the file. torch.save writes every record "stored"
// (uncompressed), so tensor bytes can be read, or memory-mapped by ORT, straight from the archive.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { basename } from 'node:path';
import { inflateRawSync } from 'node:zlib';

export class ZipError extends Error {
  constructor(file: string, problem: string) {
    super(`${basename(file)}: ${problem}`);
    this.name = 'ZipError';
  }
}

export interface ZipEntry {
  name: string;
  /** 0 = stored, 8 = deflated (other methods are refused when read). */
  method: number;
  /** Absolute offset of the entry's (possibly compressed) bytes in the file. */
  offset: number;
  compressedSize: number;
  size: number;
  crc32: number;
}

const SIG_EOCD = 0x06054b50;
const SIG_ZIP64_LOCATOR = 0x07064b50;
const SIG_ZIP64_EOCD = 0x06064b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_LOCAL = 0x04034b50;
const U32_MAX = 0xffffffff;
/** Central directories larger than this are not checkpoints (a guard against hostile sizes). */
const MAX_CENTRAL_DIR = 512 * 1024 * 1024;

function readAt(fd: number, file: string, pos: number, len: number): Buffer {
  const buf = Buffer.alloc(len);
  let done = 0;
  while (done < len) {
    const n = readSync(fd, buf, done, len - done, pos + done);
    if (n <= 0) throw new ZipError(file, `unexpected end of file at byte ${pos + done} (truncated?)`);
    done += n;
  }
  return buf;
}

function u64(b: Buffer, at: number, file: string, what: string): number {
  const v = b.readBigUInt64LE(at);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new ZipError(file, `${what} ${v} is not a plausible size`);
  return Number(v);
}

/** The entries of a zip file, by name; no entry data is read. */
export class ZipArchive {
  readonly entries = new Map<string, ZipEntry>();

  private constructor(readonly path: string, readonly size: number) {}

  static open(path: string): ZipArchive {
    const fd = openSync(path, 'r');
    try {
      const size = fstatSync(fd).size;
      const zip = new ZipArchive(path, size);
      zip.readDirectory(fd);
      return zip;
    } finally {
      closeSync(fd);
    }
  }

  private readDirectory(fd: number): void {
    const file = this.path;
    if (this.size < 22) throw new ZipError(file, `file is ${this.size} bytes, too short for a zip archive`);
    // The end-of-central-directory record sits in the last 22 + 65535 (comment) bytes.
    const tailLen = Math.min(this.size, 22 + 65535);
    const tail = readAt(fd, file, this.size - tailLen, tailLen);
    let eocd = -1;
    for (let i = tailLen - 22; i >= 0; i--) {
      if (tail.readUInt32LE(i) === SIG_EOCD && i + 22 + tail.readUInt16LE(i + 20) <= tailLen) { eocd = i; break; }
    }
    if (eocd < 0) throw new ZipError(file, 'no zip end-of-central-directory record (not a zip archive, or truncated)');
    let count = tail.readUInt16LE(eocd + 10);
    let cdSize = tail.readUInt32LE(eocd + 12);
    let cdOffset = tail.readUInt32LE(eocd + 16);
    const eocdAbs = this.size - tailLen + eocd;
    if (count === 0xffff || cdSize === U32_MAX || cdOffset === U32_MAX) {
      // zip64: a locator just before the EOCD points at the zip64 EOCD record.
      if (eocdAbs < 20) throw new ZipError(file, 'zip64 sizes without a zip64 locator');
      const loc = readAt(fd, file, eocdAbs - 20, 20);
      if (loc.readUInt32LE(0) !== SIG_ZIP64_LOCATOR) throw new ZipError(file, 'zip64 sizes without a zip64 locator');
      const z64Offset = u64(loc, 8, file, 'zip64 record offset');
      if (z64Offset + 56 > this.size) throw new ZipError(file, `zip64 record offset ${z64Offset} is past the end of the file (truncated?)`);
      const z = readAt(fd, file, z64Offset, 56);
      if (z.readUInt32LE(0) !== SIG_ZIP64_EOCD) throw new ZipError(file, 'zip64 end-of-central-directory record is missing');
      count = u64(z, 32, file, 'entry count');
      cdSize = u64(z, 40, file, 'central directory size');
      cdOffset = u64(z, 48, file, 'central directory offset');
    }
    if (cdSize > MAX_CENTRAL_DIR || cdOffset + cdSize > this.size) {
      throw new ZipError(file, `central directory (${cdSize} bytes at ${cdOffset}) runs past the end of the file (${this.size} bytes): truncated?`);
    }
    const cd = readAt(fd, file, cdOffset, cdSize);
    let p = 0;
    for (let n = 0; n < count; n++) {
      if (p + 46 > cd.length || cd.readUInt32LE(p) !== SIG_CENTRAL) throw new ZipError(file, `central directory entry ${n} is corrupt`);
      const flags = cd.readUInt16LE(p + 8);
      const method = cd.readUInt16LE(p + 10);
      const crc32 = cd.readUInt32LE(p + 16);
      let compressedSize = cd.readUInt32LE(p + 20);
      let size = cd.readUInt32LE(p + 24);
      const nameLen = cd.readUInt16LE(p + 28);
      const extraLen = cd.readUInt16LE(p + 30);
      const commentLen = cd.readUInt16LE(p + 32);
      let local = cd.readUInt32LE(p + 42);
      if (p + 46 + nameLen + extraLen + commentLen > cd.length) throw new ZipError(file, `central directory entry ${n} is corrupt`);
      const name = cd.toString(flags & 0x800 ? 'utf8' : 'latin1', p + 46, p + 46 + nameLen);
      if (flags & 1) throw new ZipError(file, `entry ${name} is encrypted`);
      // zip64 extended information: the 8-byte fields present are those whose 32-bit field is 0xFFFFFFFF.
      let e = p + 46 + nameLen;
      const extraEnd = e + extraLen;
      while (e + 4 <= extraEnd) {
        const id = cd.readUInt16LE(e), len = cd.readUInt16LE(e + 2);
        if (id === 0x0001) {
          let q = e + 4;
          const take = (what: string) => {
            if (q + 8 > e + 4 + len) throw new ZipError(file, `entry ${name}: zip64 extra field too short`);
            const v = u64(cd, q, file, what);
            q += 8;
            return v;
          };
          if (size === U32_MAX) size = take('size');
          if (compressedSize === U32_MAX) compressedSize = take('compressed size');
          if (local === U32_MAX) local = take('local header offset');
        }
        e += 4 + len;
      }
      if (local + 30 > this.size) throw new ZipError(file, `entry ${name}: local header at ${local} is past the end of the file (truncated?)`);
      const lh = readAt(fd, file, local, 30);
      if (lh.readUInt32LE(0) !== SIG_LOCAL) throw new ZipError(file, `entry ${name}: no local header at ${local}`);
      const offset = local + 30 + lh.readUInt16LE(26) + lh.readUInt16LE(28);
      if (offset + compressedSize > this.size) {
        throw new ZipError(file, `entry ${name}: ${compressedSize} bytes at ${offset} run past the end of the file (${this.size} bytes): truncated?`);
      }
      this.entries.set(name, { name, method, offset, compressedSize, size, crc32 });
      p += 46 + nameLen + extraLen + commentLen;
    }
  }

  /** Reads a whole entry (small records such as data.pkl), inflating it when needed; CRC-checked. */
  read(name: string): Buffer {
    const e = this.entries.get(name);
    if (!e) throw new ZipError(this.path, `no entry ${name}`);
    if (e.method !== 0 && e.method !== 8) throw new ZipError(this.path, `entry ${name} uses compression method ${e.method} (only stored and deflate are read)`);
    const fd = openSync(this.path, 'r');
    let raw: Buffer;
    try {
      raw = readAt(fd, this.path, e.offset, e.compressedSize);
    } finally {
      closeSync(fd);
    }
    const data = e.method === 8 ? inflateRawSync(raw, { maxOutputLength: e.size }) : raw;
    if (data.length !== e.size) throw new ZipError(this.path, `entry ${name}: ${data.length} bytes, directory says ${e.size}`);
    if (crc32(data) !== e.crc32) throw new ZipError(this.path, `entry ${name}: CRC mismatch (corrupt file)`);
    return data;
  }
}

let table: Uint32Array | undefined;

export function crc32(b: Uint8Array): number {
  if (!table) {
    table = new Uint32Array(256);
    for (let i = 0; i < 256; i++) {
      let c = i;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[i] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = 0; i < b.length; i++) c = table[(c ^ b[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
