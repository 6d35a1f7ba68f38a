// The on-disk cache of converted weights: one safetensors file per (checkpoint, graph, dtype).
// Written to a temp file, fsynced and renamed into place; its header carries the cache key and a
// CRC-32 of the data section (a placeholder until the last byte is written), verified on every
// open, so a writer killed midway (or a damaged file) is never used: it is deleted and rebuilt.
// CRC-32 rather than SHA-256: it guards against truncation and corruption, not tampering, and
// runs ~4× faster (start-up reads the whole file: 0.55 GB for a 1B model at q4).
import { closeSync, existsSync, fstatSync, fsyncSync, mkdirSync, openSync, readdirSync, readSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { DTYPE_BYTES, numel, SafetensorsFile, type DType, type TensorInfo } from '../io/safetensors.js';

/** Bumped whenever the bytes a cache holds for the same inputs would change. */
export const QUANT_VERSION = 2;

/** TSVLM_CACHE, else the platform's user cache folder + /tsvlm. */
export function cacheRoot(): string {
  if (process.env.TSVLM_CACHE) return process.env.TSVLM_CACHE;
  if (process.platform === 'win32') return join(process.env.LOCALAPPDATA ?? join(homedir(), 'AppData', 'Local'), 'tsvlm', 'Cache');
  if (process.platform === 'darwin') return join(homedir(), 'Library', 'Caches', 'tsvlm');
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'tsvlm');
}

/** Identity of checkpoint files without reading their data: real path, size, mtime, header hash. */
export function fileIdentity(realPath: string): string {
  const fd = openSync(realPath, 'r');
  try {
    const st = fstatSync(fd);
    const len = Buffer.alloc(8);
    readSync(fd, len, 0, 8, 0);
    const n = Math.min(Number(len.readBigUInt64LE(0)), st.size - 8, 100 * 2 ** 20);
    const head = Buffer.alloc(Math.max(0, n));
    readSync(fd, head, 0, head.length, 8);
    const h = createHash('sha256').update(head).digest('hex');
    return `${realPath}|${st.size}|${Math.round(st.mtimeMs)}|${h}`;
  } finally {
    closeSync(fd);
  }
}

/** One tensor of a cache file: its size is known before its bytes are computed. */
export interface CacheTensor {
  name: string;
  dtype: DType;
  shape: number[];
}

const CRC_PLACEHOLDER = '--------';

function headerBytes(tensors: CacheTensor[], key: string, crc: string): Buffer {
  const header: Record<string, unknown> = { __metadata__: { tsvlm_cache_key: key, crc32: crc } };
  let off = 0;
  for (const t of tensors) {
    const n = numel(t.shape) * DTYPE_BYTES[t.dtype];
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [off, off + n] };
    off += n;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  return Buffer.concat([len, Buffer.from(json)]);
}

const hex8 = (c: number) => c.toString(16).padStart(8, '0');

/** CRC-32 of the data section (everything after the header) of a safetensors file. */
function dataCrc(path: string, dataStart: number): string {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    let c = 0;
    const buf = Buffer.allocUnsafe(16 * 2 ** 20);
    for (let pos = dataStart; pos < size;) {
      const n = readSync(fd, buf, 0, Math.min(buf.length, size - pos), pos);
      if (n <= 0) break;
      c = crc32(n === buf.length ? buf : buf.subarray(0, n), c);
      pos += n;
    }
    return hex8(c);
  } finally {
    closeSync(fd);
  }
}

/**
 * Opens a cache file if it is complete and belongs to `key` (header key + data checksum);
 * otherwise deletes it (when present) and returns undefined.
 */
export function openCacheFile(path: string, key: string): SafetensorsFile | undefined {
  if (!existsSync(path)) return undefined;
  try {
    const f = SafetensorsFile.open(path);
    const meta = f.metadata;
    const dataStart = 8 + Number(readHeaderLength(path));
    if (meta.tsvlm_cache_key === key && typeof meta.crc32 === 'string' && meta.crc32 !== CRC_PLACEHOLDER && dataCrc(f.realPath, dataStart) === meta.crc32) {
      return f;
    }
  } catch {
    // unreadable: rebuilt below
  }
  rmSync(path, { force: true });
  return undefined;
}

function readHeaderLength(path: string): bigint {
  const fd = openSync(path, 'r');
  try {
    const b = Buffer.alloc(8);
    readSync(fd, b, 0, 8, 0);
    return b.readBigUInt64LE(0);
  } finally {
    closeSync(fd);
  }
}

/** Removes temp files of writers that no longer run (a killed quantization leaves one behind). */
export function removeStaleTemps(dir: string): void {
  if (!existsSync(dir)) return;
  for (const name of readdirSync(dir)) {
    const m = /\.tmp-(\d+)-[0-9a-f]+$/.exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    let alive = true;
    try {
      process.kill(pid, 0);
    } catch (e) {
      alive = (e as NodeJS.ErrnoException).code === 'EPERM';
    }
    // Same-pid leftovers come from an earlier run of a recycled pid only if they are old.
    if (!alive || (pid === process.pid && Date.now() - statSync(join(dir, name)).mtimeMs > 3600e3)) rmSync(join(dir, name), { force: true });
  }
}

/**
 * Writes a cache file: `produce(i)` returns the bytes of tensors[i] (called in order, one at a
 * time, so memory holds one tensor's output). Temp file → checksum in header → fsync → rename.
 */
export async function writeCacheFile(path: string, key: string, tensors: CacheTensor[], produce: (i: number) => Promise<Uint8Array[]> | Uint8Array[]): Promise<void> {
  const dir = join(path, '..');
  mkdirSync(dir, { recursive: true });
  removeStaleTemps(dir);
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  const fd = openSync(tmp, 'w');
  let ok = false;
  try {
    const head = headerBytes(tensors, key, CRC_PLACEHOLDER);
    writeSync(fd, head, 0, head.length, 0);
    let pos = head.length;
    let crc = 0;
    for (let i = 0; i < tensors.length; i++) {
      const t = tensors[i]!;
      const want = numel(t.shape) * DTYPE_BYTES[t.dtype];
      let got = 0;
      for (const part of await produce(i)) {
        crc = crc32(part, crc);
        for (let o = 0; o < part.length;) o += writeSync(fd, part, o, part.length - o, pos + got + o);
        got += part.length;
      }
      if (got !== want) throw new Error(`cache writer: tensor ${t.name} produced ${got} bytes, ${want} expected`);
      pos += got;
    }
    const final = headerBytes(tensors, key, hex8(crc));
    if (final.length !== head.length) throw new Error('cache writer: header length changed');
    writeSync(fd, final, 0, final.length, 0);
    fsyncSync(fd);
    ok = true;
  } finally {
    closeSync(fd);
    if (!ok) rmSync(tmp, { force: true });
  }
  renameSync(tmp, path);
  try {
    const dfd = openSync(dir, 'r');
    try { fsyncSync(dfd); } finally { closeSync(dfd); }
  } catch {
    // directories cannot be fsynced on some platforms (Windows): the rename is still atomic
  }
}

/** Reads rows [r0, r1) of a 2-D (or 1-D) checkpoint tensor as float32, in chunks of ≤ `maxBytes`. */
export function* readRowChunks(t: TensorInfo, r0: number, r1: number, maxBytes = 16 * 2 ** 20): Generator<{ row: number; rows: number; data: Float32Array }> {
  const rowElems = t.shape.length ? numel(t.shape) / (t.shape[0] || 1) : 1;
  const esize = DTYPE_BYTES[t.dtype];
  const rowBytes = rowElems * esize;
  const per = Math.max(1, Math.floor(maxBytes / Math.max(1, rowBytes)));
  const fd = openSync(t.file, 'r');
  try {
    for (let r = r0; r < r1; r += per) {
      const rows = Math.min(per, r1 - r);
      const buf = new Uint8Array(rows * rowBytes); // own, aligned ArrayBuffer: typed views below
      for (let done = 0; done < buf.length;) {
        const n = readSync(fd, buf, done, buf.length - done, t.offset + r * rowBytes + done);
        if (n <= 0) throw new Error(`${t.file}: short read in tensor ${t.name}`);
        done += n;
      }
      yield { row: r, rows, data: toF32Fast(buf, t.dtype, t.name) };
    }
  } finally {
    closeSync(fd);
  }
}

/** Little-endian bytes (an aligned, whole ArrayBuffer) → float32; little-endian hosts only. */
function toF32Fast(buf: Uint8Array, dtype: DType, name: string): Float32Array {
  const n = buf.length / DTYPE_BYTES[dtype];
  if (dtype === 'F32') return new Float32Array(buf.buffer, 0, n);
  const out = new Float32Array(n);
  if (dtype === 'BF16') {
    const o = new Uint32Array(out.buffer), h = new Uint16Array(buf.buffer, 0, n);
    for (let i = 0; i < n; i++) o[i] = h[i]! << 16;
  } else if (dtype === 'F16') {
    const h = new Uint16Array(buf.buffer, 0, n);
    for (let i = 0; i < n; i++) out[i] = F16_TABLE[h[i]!]!;
  } else if (dtype === 'F64') {
    const d = new Float64Array(buf.buffer, 0, n);
    for (let i = 0; i < n; i++) out[i] = d[i]!;
  } else {
    throw new Error(`tensor ${name} has dtype ${dtype}; a floating-point weight was expected`);
  }
  return out;
}

const F16_TABLE = (() => {
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, m = h & 0x3ff;
    t[h] = e === 0 ? s * m * 2 ** -24 : e === 31 ? (m ? NaN : s * Infinity) : s * (1 + m / 1024) * 2 ** (e - 15);
  }
  return t;
})();
