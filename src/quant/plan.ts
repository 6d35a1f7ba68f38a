// Converted weights of one graph: while a model builds its graph, GraphWeights asks this plan for
// each checkpoint tensor in the form the graph needs (float32 copy, float16, blockwise codes);
// before the session is created, `resolve` finds them in the on-disk cache or writes the cache
// (streaming tensor by tensor, with progress), then binds every initializer to the cache file.
// The whole graph then reads its weights from that one file (ORT takes one external-data folder).
import { basename, join } from 'node:path';
import { createHash } from 'node:crypto';
import type { Graph, Value, ElemType } from '../graph/builder.js';
import type { WeightStore } from '../io/checkpoint.js';
import { DTYPE_BYTES, numel, type TensorInfo, type SafetensorsFile } from '../io/safetensors.js';
import type { Progress } from '../api.js';
import { quantizeRows, quantLayout, toF16, type QuantBits, type QuantLayout } from './blockwise.js';
import { cacheRoot, fileIdentity, openCacheFile, QUANT_VERSION, readRowChunks, writeCacheFile, type CacheTensor } from './cache.js';

import type { WeightDType } from '../api.js';
export type { WeightDType };
export const WEIGHT_DTYPES: readonly WeightDType[] = ['fp32', 'fp16', 'q8', 'q4'];

/** How a model's weights are stored at run time (LoadOptions.dtype and friends). */
export interface WeightSettings {
  dtype: WeightDType;
  /** MatMulNBits accuracy_level: 4 = int8 activations (fast CPU path), 0 = float32 compute. */
  accuracyLevel?: number;
  /** Quantization block along K (default 32). */
  blockSize?: number;
  /** Cache folder (default: TSVLM_CACHE or the platform cache dir). */
  cacheDir?: string;
  onProgress?: (p: Progress) => void;
}

type Form = 'f32' | 'f16' | 'q4' | 'q8';

interface Entry {
  /** Cache tensor name prefix (source name, row range, form). */
  id: string;
  src: TensorInfo;
  rows: [number, number];
  form: Form;
  layout?: QuantLayout;
  tensors: CacheTensor[];
}

interface Pending {
  tensor: string;
  bind(file: string, offset: number, length: number): void;
}

const PLANS = new WeakMap<Graph, QuantPlan>();

export class QuantPlan {
  private entries = new Map<string, Entry>();
  private pending: Pending[] = [];
  readonly blockSize: number;

  private constructor(readonly g: Graph, readonly store: WeightStore, readonly settings: WeightSettings) {
    this.blockSize = settings.blockSize ?? 32;
    g.onPrepare(() => this.resolve());
  }

  /** The plan of a graph (one per graph, shared by every GraphWeights on it). */
  static of(g: Graph, store: WeightStore, settings: WeightSettings): QuantPlan {
    let p = PLANS.get(g);
    if (!p) PLANS.set(g, (p = new QuantPlan(g, store, settings)));
    return p;
  }

  get bits(): QuantBits | undefined {
    return this.settings.dtype === 'q4' ? 4 : this.settings.dtype === 'q8' ? 8 : undefined;
  }

  private entry(name: string, form: Form, rows?: [number, number]): Entry {
    const src = this.store.get(name);
    const r: [number, number] = rows ?? [0, src.shape[0] ?? 1];
    const id = `${name}${rows ? `[${r[0]}:${r[1]}]` : ''}:${form}`;
    let e = this.entries.get(id);
    if (e) return e;
    const shape = src.shape.length ? [r[1] - r[0], ...src.shape.slice(1)] : [];
    e = { id, src, rows: r, form, tensors: [] };
    if (form === 'f32') e.tensors.push({ name: id, dtype: 'F32', shape });
    else if (form === 'f16') e.tensors.push({ name: id, dtype: 'F16', shape });
    else {
      const L = quantLayout(form === 'q4' ? 4 : 8, this.blockSize, shape[0]!, shape[1]!);
      e.layout = L;
      e.tensors.push({ name: `${id}.codes`, dtype: 'U8', shape: [L.n, L.kBlocks, L.blobSize] });
      e.tensors.push({ name: `${id}.scales`, dtype: 'F32', shape: [L.n * L.kBlocks] });
      if (L.zpBytesPerRow) e.tensors.push({ name: `${id}.zero_points`, dtype: 'U8', shape: [L.n * L.zpBytesPerRow] });
    }
    this.entries.set(id, e);
    return e;
  }

  private value(tensor: string, type: ElemType, dims: number[], hint: string): Value {
    const d = this.g.deferredExternal(hint, type, dims);
    this.pending.push({ tensor, bind: d.bind });
    return d.value;
  }

  /** The tensor (or a row slice) as a float32 copy. */
  f32(name: string, rows?: [number, number], shape?: number[]): Value {
    const e = this.entry(name, 'f32', rows);
    return this.value(e.id, 'float32', shape ?? e.tensors[0]!.shape, name);
  }

  /** The tensor as float16 (dims as stored). */
  f16(name: string, rows?: [number, number]): Value {
    const e = this.entry(name, 'f16', rows);
    return this.value(e.id, 'float16', e.tensors[0]!.shape, name);
  }

  /** A 2-D tensor [N, K] in MatMulNBits form: codes [N, kBlocks, blob], scales, zero points. */
  quantized(name: string, rows?: [number, number]): { layout: QuantLayout; codes: Value; scales: Value; zeroPoints?: Value } {
    const bits = this.bits;
    if (!bits) throw new Error(`dtype ${this.settings.dtype} does not quantize`);
    const e = this.entry(name, bits === 4 ? 'q4' : 'q8', rows);
    const L = e.layout!;
    return {
      layout: L,
      codes: this.value(`${e.id}.codes`, 'uint8', [L.n, L.kBlocks, L.blobSize], name),
      scales: this.value(`${e.id}.scales`, 'float32', [L.n * L.kBlocks], `${name}.scales`),
      zeroPoints: L.zpBytesPerRow ? this.value(`${e.id}.zero_points`, 'uint8', [L.n * L.zpBytesPerRow], `${name}.zero_points`) : undefined,
    };
  }

  /** Same bytes as `quantized`, shaped for GatherBlockQuantized: data [N, K·bits/8], scales [N, kBlocks]. */
  quantizedTable(name: string): { layout: QuantLayout; data: Value; scales: Value; zeroPoints?: Value } {
    const bits = this.bits!;
    const e = this.entry(name, bits === 4 ? 'q4' : 'q8');
    const L = e.layout!;
    return {
      layout: L,
      data: this.value(`${e.id}.codes`, 'uint8', [L.n, L.kBlocks * L.blobSize], name),
      scales: this.value(`${e.id}.scales`, 'float32', [L.n, L.kBlocks], `${name}.scales`),
      zeroPoints: L.zpBytesPerRow ? this.value(`${e.id}.zero_points`, 'uint8', [L.n, L.zpBytesPerRow], `${name}.zero_points`) : undefined,
    };
  }

  /** Cache key: quantizer version, scheme, the checkpoint files' identity and what this graph needs. */
  key(): string {
    const files = [...new Set([...this.entries.values()].map((e) => e.src.file))].sort();
    const h = createHash('sha256');
    h.update(JSON.stringify({ v: QUANT_VERSION, dtype: this.settings.dtype, block: this.blockSize, files: files.map(fileIdentity), entries: [...this.entries.keys()].sort() }));
    return h.digest('hex');
  }

  cachePath(key: string): string {
    const dir = this.settings.cacheDir ?? join(cacheRoot(), 'weights');
    const first = [...this.entries.values()][0];
    const model = first ? basename(join(first.src.file, '..')) : 'model';
    return join(dir, `${model.replace(/[^\w.-]+/g, '_')}-${this.g.name}-${this.settings.dtype}-${key.slice(0, 16)}.safetensors`);
  }

  /** Opens (or writes, then opens) the cache file and binds every deferred initializer to it. */
  async resolve(): Promise<void> {
    if (!this.entries.size) return;
    const key = this.key();
    const path = this.cachePath(key);
    const report = this.settings.onProgress;
    let file = openCacheFile(path, key);
    if (!file) {
      await this.write(path, key);
      file = openCacheFile(path, key);
      if (!file) throw new Error(`weight cache ${path} failed verification right after it was written (disk full or a concurrent writer?)`);
    } else {
      report?.({ stage: 'quantize', done: 1, total: 1, message: `${this.settings.dtype} weights from cache ${path}` });
    }
    this.bind(file);
  }

  private bind(file: SafetensorsFile): void {
    for (const p of this.pending) {
      const t = file.tensors.get(p.tensor);
      if (!t) throw new Error(`weight cache ${file.path} has no tensor ${p.tensor}`);
      p.bind(t.file, t.offset, t.length);
    }
    this.pending = [];
  }

  private async write(path: string, key: string): Promise<void> {
    const entries = [...this.entries.values()];
    const tensors = entries.flatMap((e) => e.tensors);
    const rowBytes = (e: Entry) => (e.src.shape.length ? (numel(e.src.shape) / (e.src.shape[0] || 1)) * DTYPE_BYTES[e.src.dtype] : e.src.length);
    const total = entries.reduce((a, e) => a + (e.rows[1] - e.rows[0]) * rowBytes(e), 0);
    const report = this.settings.onProgress;
    let done = 0, lastPct = -1;
    const tick = (bytes: number, what: string) => {
      done += bytes;
      const pct = Math.floor((100 * done) / Math.max(1, total));
      if (report && pct !== lastPct) {
        lastPct = pct;
        report({ stage: 'quantize', done, total, message: `${this.settings.dtype} ${what}` });
      }
    };
    report?.({ stage: 'quantize', done: 0, total, message: `converting weights to ${this.settings.dtype} into ${path}` });
    // Tensors are produced in `tensors` order; a quantized entry yields codes, scales, zero points.
    let pendingParts: Uint8Array[][] = [];
    let entryIndex = 0;
    await writeCacheFile(path, key, tensors, () => {
      if (!pendingParts.length) {
        const e = entries[entryIndex++]!;
        pendingParts = this.convert(e, (b) => tick(b, e.src.name));
      }
      return pendingParts.shift()!;
    });
  }

  /** One entry's output tensors (each a list of byte chunks), reading the source in row chunks. */
  private convert(e: Entry, tick: (bytes: number) => void): Uint8Array[][] {
    const srcRowBytes = (e.src.shape.length ? numel(e.src.shape) / (e.src.shape[0] || 1) : 1) * DTYPE_BYTES[e.src.dtype];
    if (e.form === 'f32' || e.form === 'f16') {
      const parts: Uint8Array[] = [];
      if (!e.src.shape.length) {
        const [c] = readRowChunks({ ...e.src, shape: [1] }, 0, 1);
        parts.push(bytes(e.form === 'f16' ? toF16(c!.data) : c!.data));
      } else {
        for (const c of readRowChunks(e.src, e.rows[0], e.rows[1])) {
          parts.push(bytes(e.form === 'f16' ? toF16(c.data) : c.data));
          tick(c.rows * srcRowBytes);
        }
      }
      return [parts];
    }
    const L = e.layout!;
    const codes = new Uint8Array(L.n * L.kBlocks * L.blobSize);
    const scales = new Float32Array(L.n * L.kBlocks);
    const zps = new Uint8Array(L.n * L.zpBytesPerRow);
    for (const c of readRowChunks(e.src, e.rows[0], e.rows[1])) {
      const q = quantizeRows(c.data, c.rows, L);
      const r = c.row - e.rows[0];
      codes.set(q.codes, r * L.kBlocks * L.blobSize);
      scales.set(q.scales, r * L.kBlocks);
      zps.set(q.zeroPoints, r * L.zpBytesPerRow);
      tick(c.rows * srcRowBytes);
    }
    const out = [[codes], [bytes(scales)]];
    if (L.zpBytesPerRow) out.push([zps]);
    return out;
  }
}

function bytes(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/**
 * The dtype a model loads with when none is asked for: exact fp32 while the widened weights stay
 * small (≤ 1.5 G parameters, ≤ 6 GB), q8 up to 3 G parameters, q4 above — a 7B/8B checkpoint then
 * needs ~4.5 GB instead of 29 GB, the size a 16 GB laptop can hold next to everything else.
 */
export function defaultDType(parameters: number): WeightDType {
  return parameters <= 1.5e9 ? 'fp32' : parameters <= 3e9 ? 'q8' : 'q4';
}

/**
 * The quantization block a model gets when none is asked for: 32 up to 3 G parameters; 64 above.
 * ONNX Runtime's int8-compute MatMulNBits kernel keeps an fp32 scale and an fp32 block sum per
 * block beside the int4 codes, so block 32 costs ~6 bits per weight in memory: a 7B q4 model peaks
 * at 6.2 GiB with blocks of 32 and 4.9 GiB with 64 (bench/decode --shape 7b) — 4.56 bits per
 * weight on disk, as llama.cpp's Q4_0 (4.5).
 */
export function defaultBlockSize(parameters: number): 32 | 64 {
  return parameters <= 3e9 ? 32 : 64;
}

/** WeightSettings from load options (validated: a clear error names a bad dtype). */
export function weightSettings(opts: { dtype?: string; accuracyLevel?: number; quantBlockSize?: number; cacheDir?: string; onProgress?: (p: Progress) => void }, parameters = 0): WeightSettings {
  const dtype = opts.dtype ?? defaultDType(parameters);
  if (!(WEIGHT_DTYPES as readonly string[]).includes(dtype)) throw new Error(`dtype must be one of ${WEIGHT_DTYPES.join(', ')} (got ${JSON.stringify(dtype)})`);
  const acc = opts.accuracyLevel ?? 4;
  if (![0, 1, 2, 3, 4].includes(acc)) throw new Error(`accuracyLevel must be 0..4 (got ${acc})`);
  const block = opts.quantBlockSize ?? defaultBlockSize(parameters);
  if (![32, 64, 128].includes(block)) throw new Error(`quantBlockSize must be 32, 64 or 128 (got ${block})`);
  return { dtype: dtype as WeightDType, accuracyLevel: acc, blockSize: block, cacheDir: opts.cacheDir, onProgress: opts.onProgress };
}
