// A tar index reader for webdataset shards: walks the 512-byte headers (ustar, GNU long names,
// pax path records) and returns each regular file's byte range; member data is read on demand.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { basename } from 'node:path';

export class TarError extends Error {
  constructor(file: string, problem: string) {
    super(`${basename(file)}: ${problem}`);
    this.name = 'TarError';
  }
}

export interface TarMember {
  name: string;
  /** Absolute offset of the member's data in the tar file. */
  offset: number;
  size: number;
}

function cstr(b: Buffer, start: number, len: number): string {
  const end = b.indexOf(0, start);
  return b.toString('utf8', start, end < 0 || end > start + len ? start + len : end);
}

/** Octal numeric field, or GNU base-256 (high bit set) for sizes over 8 GiB. */
function num(b: Buffer, start: number, len: number, file: string, what: string): number {
  if (b[start]! & 0x80) {
    let v = 0;
    for (let i = start + 1; i < start + len; i++) v = v * 256 + b[i]!;
    return v;
  }
  const s = cstr(b, start, len).trim();
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s)) throw new TarError(file, `corrupt ${what} field ${JSON.stringify(s)} (not a tar file?)`);
  return parseInt(s, 8);
}

/** pax extended header records: "LEN key=value\n"; only `path` matters here. */
function paxPath(data: Buffer): string | undefined {
  let p = 0;
  let path: string | undefined;
  while (p < data.length) {
    const sp = data.indexOf(0x20, p);
    if (sp < 0) break;
    const len = parseInt(data.toString('latin1', p, sp), 10);
    if (!(len > 0)) break;
    const rec = data.toString('utf8', sp + 1, p + len - 1);
    const eq = rec.indexOf('=');
    if (rec.slice(0, eq) === 'path') path = rec.slice(eq + 1);
    p += len;
  }
  return path;
}

/** The regular files of a tar archive, in archive order. */
export function readTarIndex(path: string): TarMember[] {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const out: TarMember[] = [];
    const h = Buffer.alloc(512);
    let pos = 0;
    let longName: string | undefined;
    const readData = (at: number, n: number) => {
      const b = Buffer.alloc(n);
      if (readSync(fd, b, 0, n, at) !== n) throw new TarError(path, `truncated at byte ${at}`);
      return b;
    };
    while (pos + 512 <= size) {
      if (readSync(fd, h, 0, 512, pos) !== 512) throw new TarError(path, `truncated at byte ${pos}`);
      if (h.every((x) => x === 0)) break; // end-of-archive block
      let sum = 0;
      for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : h[i]!;
      if (sum !== num(h, 148, 8, path, 'checksum')) throw new TarError(path, `header checksum mismatch at byte ${pos} (not a tar file, or corrupt)`);
      const type = String.fromCharCode(h[156]!);
      const len = num(h, 124, 12, path, 'size');
      const data = pos + 512;
      if (data + len > size) throw new TarError(path, `member at byte ${pos} runs past the end of the file (truncated?)`);
      let name = cstr(h, 0, 100);
      if (h.toString('latin1', 257, 262) === 'ustar') {
        const prefix = cstr(h, 345, 155);
        if (prefix) name = `${prefix}/${name}`;
      }
      if (type === 'L') longName = cstr(readData(data, len), 0, len);
      else if (type === 'x') longName = paxPath(readData(data, len)) ?? longName;
      else if (type === '0' || type === '\0' || type === '7') {
        out.push({ name: longName ?? name, offset: data, size: len });
        longName = undefined;
      } else longName = undefined; // directories, links, global pax headers: not samples
      pos = data + Math.ceil(len / 512) * 512;
    }
    return out;
  } finally {
    closeSync(fd);
  }
}

/** Reads one member's bytes. */
export function readTarMember(path: string, m: TarMember): Uint8Array {
  const fd = openSync(path, 'r');
  try {
    const b = Buffer.allocUnsafe(m.size);
    let done = 0;
    while (done < m.size) {
      const n = readSync(fd, b, done, m.size - done, m.offset + done);
      if (n <= 0) throw new TarError(path, `member ${m.name} is truncated`);
      done += n;
    }
    return b;
  } finally {
    closeSync(fd);
  }
}
