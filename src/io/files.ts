// Reading checkpoint files that may be hostile or broken: only regular files are read (a FIFO
// would block forever, /dev/zero never ends), and a size bound is checked before any byte is read.
// The file is opened once with O_NONBLOCK (opening a FIFO then returns at once instead of waiting
// for a writer) and checked with fstat on that descriptor, so a swap between check and read is
// not possible.
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';

export class FileKindError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FileKindError';
  }
}

/** Opens `path` for reading and returns the descriptor and size, refusing anything but a regular file. */
export function openRegularFile(path: string, what = path): { fd: number; size: number; mtimeMs: number } {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) {
      const kind = st.isFIFO() ? 'a FIFO' : st.isCharacterDevice() ? 'a character device' : st.isDirectory() ? 'a folder' : st.isSocket() ? 'a socket' : 'not a regular file';
      throw new FileKindError(`${what}: is ${kind}, not a regular file`);
    }
    return { fd, size: st.size, mtimeMs: st.mtimeMs };
  } catch (e) {
    closeSync(fd);
    throw e;
  }
}

/** Reads a whole regular file of at most maxBytes. */
export function readRegularFile(path: string, maxBytes: number, what = path): Buffer {
  const { fd, size } = openRegularFile(path, what);
  try {
    if (size > maxBytes) throw new FileKindError(`${what}: is ${size} bytes, more than the ${maxBytes} bytes allowed for this file`);
    const buf = Buffer.allocUnsafe(size);
    let done = 0;
    while (done < size) {
      const n = readSync(fd, buf, done, size - done, done);
      if (n <= 0) break;
      done += n;
    }
    return buf.subarray(0, done);
  } finally {
    closeSync(fd);
  }
}

/** Reads a whole regular file of at most maxBytes as UTF-8. */
export function readRegularTextFile(path: string, maxBytes: number, what = path): string {
  return readRegularFile(path, maxBytes, what).toString('utf8');
}

/** Largest JSON config file read (config.json, tokenizer_config.json, the shard index ...). */
export const MAX_CONFIG_BYTES = 64 * 1024 * 1024;
/** Largest tokenizer file (tokenizer.json of a 256k vocabulary is ~35 MB). */
export const MAX_TOKENIZER_BYTES = 512 * 1024 * 1024;
