// Safetensors reader: validates the header against the file, then reads single tensors by byte
// range (never a whole multi-GB file into one buffer). Format: u64 LE header length N, N bytes of
// JSON {name: {dtype, shape, data_offsets: [begin, end]}, __metadata__?}, then the data block.
import { openSync, closeSync, readSync, realpathSync, statSync, writeSync } from 'node:fs';
import { FileKindError, openRegularFile } from './files.js';
import { basename } from 'node:path';

export type DType = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U64' | 'U32' | 'U16' | 'U8' | 'BOOL';

export const DTYPE_BYTES: Record<DType, number> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U64: 8, U32: 4, U16: 2, U8: 1, BOOL: 1,
};

export interface TensorInfo {
  name: string;
  dtype: DType;
  shape: number[];
  /** Real path of the file that holds the bytes (symlinks resolved, as ORT requires). */
  file: string;
  /** Absolute byte offset of the tensor's data inside `file`. */
  offset: number;
  /** Byte length (= elements × dtype size, validated). */
  length: number;
}

export class SafetensorsError extends Error {
  constructor(file: string, problem: string) {
    super(`${basename(file)}: ${problem}`);
    this.name = 'SafetensorsError';
  }
}

const MAX_HEADER = 100 * 1024 * 1024;

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export class SafetensorsFile {
  readonly tensors = new Map<string, TensorInfo>();
  metadata: Record<string, string> = {};

  private constructor(
    readonly path: string,
    readonly realPath: string,
    /** Size and modification time when the header was read (see checkUnchanged). */
    readonly size: number,
    readonly mtimeMs: number,
  ) {}

  /** Opens and validates the header; no tensor data is read. */
  static open(path: string): SafetensorsFile {
    let real: string;
    try {
      real = realpathSync(path);
    } catch {
      throw new SafetensorsError(path, `file not found (${path})`);
    }
    let fd: number, size: number, mtimeMs: number;
    try {
      ({ fd, size, mtimeMs } = openRegularFile(real, basename(path)));
    } catch (e) {
      if (e instanceof FileKindError) throw new SafetensorsError(path, e.message.replace(/^[^:]*: /, ''));
      throw new SafetensorsError(path, `cannot open (${(e as Error).message})`);
    }
    try {
      const file = new SafetensorsFile(path, real, size, mtimeMs);
      if (size < 8) throw new SafetensorsError(path, `file is ${size} bytes, too short for a safetensors header`);
      const lenBuf = Buffer.alloc(8);
      readSync(fd, lenBuf, 0, 8, 0);
      const headerLen = Number(lenBuf.readBigUInt64LE(0));
      if (headerLen > MAX_HEADER || headerLen > size - 8) {
        throw new SafetensorsError(path, `header length ${headerLen} is larger than the file (${size} bytes): not a safetensors file or truncated`);
      }
      const headerBuf = Buffer.alloc(headerLen);
      readSync(fd, headerBuf, 0, headerLen, 8);
      let header: Record<string, unknown>;
      try {
        header = JSON.parse(headerBuf.toString('utf8'));
      } catch (e) {
        throw new SafetensorsError(path, `header is not valid JSON (${(e as Error).message})`);
      }
      if (typeof header !== 'object' || header === null || Array.isArray(header)) {
        throw new SafetensorsError(path, 'header is not a JSON object');
      }
      if (headerBuf[0] !== 0x7b) throw new SafetensorsError(path, 'header does not start with "{": not a safetensors file, or a wrong header length');
      const dataStart = 8 + headerLen;
      const dataLen = size - dataStart;
      // [begin, end, name] of every tensor: checked below to tile the data block exactly.
      const ranges: Array<[number, number, string]> = [];
      for (const [name, raw] of Object.entries(header)) {
        if (name === '__metadata__') {
          file.metadata = (raw ?? {}) as Record<string, string>;
          continue;
        }
        const e = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
        if (typeof e?.dtype !== 'string' || !(e.dtype in DTYPE_BYTES)) {
          throw new SafetensorsError(path, `tensor ${name}: unknown dtype ${JSON.stringify(e?.dtype)}`);
        }
        const dtype = e.dtype as DType;
        if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isInteger(d) && d >= 0)) {
          throw new SafetensorsError(path, `tensor ${name}: invalid shape ${JSON.stringify(e.shape)}`);
        }
        const off = e.data_offsets;
        if (!Array.isArray(off) || off.length !== 2 || !off.every((d) => Number.isInteger(d) && d >= 0) || off[0] > off[1]) {
          throw new SafetensorsError(path, `tensor ${name}: invalid data_offsets ${JSON.stringify(off)}`);
        }
        const [begin, end] = off as [number, number];
        if (end > dataLen) {
          throw new SafetensorsError(path, `tensor ${name}: data_offsets [${begin}, ${end}] run past the end of the data (${dataLen} bytes): file truncated?`);
        }
        const shape = e.shape as number[];
        const want = numel(shape) * DTYPE_BYTES[dtype];
        if (end - begin !== want) {
          throw new SafetensorsError(path, `tensor ${name}: ${end - begin} bytes but shape [${shape}] × ${dtype} needs ${want}`);
        }
        ranges.push([begin, end, name]);
        file.tensors.set(name, { name, dtype, shape, file: real, offset: dataStart + begin, length: want });
      }
      checkTiling(path, ranges, dataLen);
      return file;
    } finally {
      closeSync(fd);
    }
  }

  /**
   * Throws when the file's size or modification time differs from when its header was read: the
   * weights are memory-mapped, and a file truncated under a running process kills it with SIGBUS
   * on the next access. Replace checkpoints by renaming a new file into place instead.
   */
  checkUnchanged(): void {
    let st;
    try {
      st = statSync(this.realPath);
    } catch {
      throw new SafetensorsError(this.path, 'the file was removed after loading; restart with the new checkpoint');
    }
    if (st.size !== this.size || st.mtimeMs !== this.mtimeMs) {
      throw new SafetensorsError(
        this.path,
        `the file changed after loading (size ${this.size} → ${st.size} bytes); replace checkpoints by renaming a new file into place, then restart`,
      );
    }
  }

  /** Reads one tensor's raw bytes (a fresh Buffer of exactly its length). */
  readBytes(name: string): Buffer {
    const t = this.tensors.get(name);
    if (!t) throw new SafetensorsError(this.path, `no tensor named ${name}`);
    return readRange(t);
  }
}

/**
 * The data block must be covered exactly once: sorted by start, the first tensor starts at 0, each
 * starts where the previous ended, the last ends at the end of the file (as the safetensors format
 * requires). Overlapping, shifted or gapped offsets, and a header length that is off by a few
 * bytes, all fail here instead of loading as garbage.
 */
function checkTiling(path: string, ranges: Array<[number, number, string]>, dataLen: number): void {
  ranges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let at = 0;
  for (const [begin, end, name] of ranges) {
    if (begin !== at) {
      const why = begin < at ? `overlaps the tensor before it (which ends at ${at})` : `leaves a gap of ${begin - at} bytes after offset ${at}`;
      throw new SafetensorsError(path, `tensor ${name}: data_offsets [${begin}, ${end}] ${why}; the offsets must tile the data block exactly`);
    }
    at = end;
  }
  if (at !== dataLen) {
    throw new SafetensorsError(
      path,
      `the tensors cover ${at} bytes but the data block after the header is ${dataLen} bytes: wrong header length, truncated or padded file`,
    );
  }
}

export function readRange(t: TensorInfo): Buffer {
  const buf = Buffer.allocUnsafe(t.length);
  const fd = openSync(t.file, 'r');
  try {
    let done = 0;
    while (done < t.length) {
      const n = readSync(fd, buf, done, Math.min(t.length - done, 1 << 30), t.offset + done);
      if (n <= 0) throw new SafetensorsError(t.file, `short read in tensor ${t.name}`);
      done += n;
    }
  } finally {
    closeSync(fd);
  }
  return buf;
}

export type TypedArray =
  | Float32Array | Float64Array | Int32Array | Int16Array | Int8Array | Uint8Array | Uint16Array | Uint32Array
  | BigInt64Array | BigUint64Array;

/** Decodes raw little-endian bytes into a typed array of the stored dtype (F16/BF16 → Uint16Array). */
export function bytesToTyped(buf: Buffer, dtype: DType): TypedArray {
  // Copy into an aligned buffer: typed-array views need alignment, file offsets have none.
  const ab = new ArrayBuffer(buf.length);
  new Uint8Array(ab).set(buf);
  switch (dtype) {
    case 'F64': return new Float64Array(ab);
    case 'F32': return new Float32Array(ab);
    case 'F16': case 'BF16': case 'U16': return new Uint16Array(ab);
    case 'I64': return new BigInt64Array(ab);
    case 'U64': return new BigUint64Array(ab);
    case 'I32': return new Int32Array(ab);
    case 'U32': return new Uint32Array(ab);
    case 'I16': return new Int16Array(ab);
    case 'I8': return new Int8Array(ab);
    case 'U8': case 'BOOL': return new Uint8Array(ab);
  }
}

const f32buf = new Float32Array(1);
const u32buf = new Uint32Array(f32buf.buffer);

export function bf16ToF32(h: number): number {
  u32buf[0] = h << 16;
  return f32buf[0]!;
}

export function f16ToF32(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/** Any numeric tensor as Float32Array (for small tensors: norms, biases, tables, fixtures). */
export function toFloat32(buf: Buffer, dtype: DType): Float32Array {
  const t = bytesToTyped(buf, dtype);
  if (t instanceof Float32Array) return t;
  const out = new Float32Array(t.length);
  if (dtype === 'BF16') for (let i = 0; i < t.length; i++) out[i] = bf16ToF32(t[i] as number);
  else if (dtype === 'F16') for (let i = 0; i < t.length; i++) out[i] = f16ToF32(t[i] as number);
  else if (t instanceof BigInt64Array || t instanceof BigUint64Array) for (let i = 0; i < t.length; i++) out[i] = Number(t[i]);
  else for (let i = 0; i < t.length; i++) out[i] = t[i] as number;
  return out;
}

export interface TensorToWrite {
  dtype: DType;
  shape: number[];
  data: ArrayBufferView;
}

/** Writes a safetensors file (header padded to 8 bytes, tensors in the given order). */
export function writeSafetensors(path: string, tensors: Record<string, TensorToWrite>, metadata?: Record<string, string>): void {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let off = 0;
  for (const [name, t] of Object.entries(tensors)) {
    const want = numel(t.shape) * DTYPE_BYTES[t.dtype];
    if (t.data.byteLength !== want) throw new Error(`${name}: ${t.data.byteLength} bytes for shape [${t.shape}] × ${t.dtype} (${want} expected)`);
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [off, off + want] };
    off += want;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  const fd = openSync(path, 'w');
  try {
    writeSync(fd, len);
    writeSync(fd, Buffer.from(json));
    for (const t of Object.values(tensors)) writeSync(fd, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  } finally {
    closeSync(fd);
  }
}
