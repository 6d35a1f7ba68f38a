// Batch inputs: image folders (recursive, sorted), text lists of image paths, webdataset .tar
// shards (also as `shard-{000..099}.tar` brace ranges). Everything is put in one deterministic
// order, then split into `--shard i/N` parts by whole units (a loose image or a whole tar), so
// machines never share a tar and never overlap.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, extname, isAbsolute, join, relative, sep } from 'node:path';
import { readTarIndex, readTarMember, type TarMember } from './tar.js';
import { UsageError } from './errors.js';

export const IMAGE_EXTENSIONS = ['jpg', 'jpeg', 'png', 'webp', 'gif'];

/** One image to process: a dataset key, where it came from, and how to read its bytes. */
export interface BatchItem {
  /** Sample key: the path without its extension (webdataset's `__key__`). */
  key: string;
  /** A file path, or `shard.tar:member` inside a tar. */
  source: string;
  read(): Promise<Uint8Array>;
}

/** A unit of partitioning: one loose image or one tar shard (indexed only when selected). */
export interface InputUnit {
  id: string;
  items(): BatchItem[];
}

function isImage(name: string): boolean {
  return IMAGE_EXTENSIONS.includes(extname(name).slice(1).toLowerCase());
}

function stripExt(p: string): string {
  const e = extname(p);
  return e ? p.slice(0, -e.length) : p;
}

function fileUnit(path: string, key: string): InputUnit {
  return {
    id: path,
    items: () => [{ key, source: path, read: async () => new Uint8Array(readFileSync(path)) }],
  };
}

/** webdataset: members sharing the text before the first '.' of their basename form one sample. */
function tarUnit(path: string): InputUnit {
  return {
    id: path,
    items: () => {
      const samples = new Map<string, TarMember>();
      for (const m of readTarIndex(path)) {
        const slash = m.name.lastIndexOf('/');
        const dot = m.name.indexOf('.', slash + 1);
        if (dot < 0 || !isImage(m.name)) continue;
        const key = m.name.slice(0, dot);
        if (!samples.has(key)) samples.set(key, m);
      }
      return [...samples].map(([key, m]) => ({ key, source: `${path}:${m.name}`, read: async () => readTarMember(path, m) }));
    },
  };
}

/** Expands webdataset brace ranges: `a-{000..012}.tar` → a-000.tar … a-012.tar (zero-padded as written). */
export function expandBraces(s: string): string[] {
  const m = /\{(\d+)\.\.(\d+)\}/.exec(s);
  if (!m) return [s];
  const [lo, hi] = [parseInt(m[1]!, 10), parseInt(m[2]!, 10)];
  if (hi < lo || hi - lo > 1_000_000) throw new UsageError(`input ${s}: bad range {${m[1]}..${m[2]}}`);
  const width = m[1]!.length;
  const out: string[] = [];
  for (let i = lo; i <= hi; i++) out.push(...expandBraces(s.slice(0, m.index) + String(i).padStart(width, '0') + s.slice(m.index + m[0].length)));
  return out;
}

function walk(root: string, dir: string, out: InputUnit[]): void {
  const names = readdirSync(dir).sort();
  for (const name of names) {
    const p = join(dir, name);
    const st = statSync(p);
    if (st.isDirectory()) walk(root, p, out);
    else if (name.toLowerCase().endsWith('.tar')) out.push(tarUnit(p));
    else if (isImage(name)) out.push(fileUnit(p, stripExt(relative(root, p).split(sep).join('/'))));
  }
}

/** The units of one --input: a folder, a .tar shard (or brace range of them), or a text list. */
function unitsOf(input: string): InputUnit[] {
  const out: InputUnit[] = [];
  for (const p of expandBraces(input)) {
    if (!existsSync(p)) throw new UsageError(`input ${p} does not exist`);
    if (statSync(p).isDirectory()) walk(p, p, out);
    else if (p.toLowerCase().endsWith('.tar')) out.push(tarUnit(p));
    else {
      // A list: one image path (or .tar shard) per line, relative to the list's folder; '#' comments.
      const base = dirname(p);
      for (const raw of readFileSync(p, 'utf8').split(/\r?\n/)) {
        const line = raw.trim();
        if (!line || line.startsWith('#')) continue;
        const path = isAbsolute(line) ? line : join(base, line);
        out.push(line.toLowerCase().endsWith('.tar') ? tarUnit(path) : fileUnit(path, stripExt(line)));
      }
    }
  }
  return out;
}

/** All units of all inputs, in input order (each input sorted as described above). */
export function collectUnits(inputs: string[]): InputUnit[] {
  if (!inputs.length) throw new UsageError('batch needs at least one --input (a folder, a list file or .tar shards)');
  return inputs.flatMap(unitsOf);
}

export interface ShardSpec {
  index: number;
  count: number;
}

/** Parses `i/N` (0-based i, as Slurm array and Kubernetes indexed Job indices are). */
export function parseShard(s: string | undefined): ShardSpec {
  if (s === undefined) return { index: 0, count: 1 };
  const m = /^(\d+)\/(\d+)$/.exec(s.trim());
  const index = m ? Number(m[1]) : NaN, count = m ? Number(m[2]) : NaN;
  if (!m || !(count >= 1) || !(index < count)) throw new UsageError(`--shard must be i/N with 0 <= i < N (got ${JSON.stringify(s)})`);
  return { index, count };
}

/** Contiguous, balanced ranges of units: shard i gets units [⌊i·U/N⌋, ⌊(i+1)·U/N⌋). */
export function selectShard<T>(units: T[], shard: ShardSpec): T[] {
  const U = units.length;
  return units.slice(Math.floor((shard.index * U) / shard.count), Math.floor(((shard.index + 1) * U) / shard.count));
}
