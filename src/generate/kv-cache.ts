// KV cache in preallocated, geometrically grown float32 buffers, time-major [T, B, KV, hd] so the
// used prefix is a contiguous view: it enters the decoder graph zero-copy, and each step appends
// only the new entries (no per-step reallocation of the whole cache).
import { ort } from '../graph/session.js';

export class KvCache implements KvStore {
  length = 0;
  private keys: Float32Array[];
  private values: Float32Array[];
  private capacity: number;
  readonly stride: number;

  constructor(readonly numLayers: number, readonly batch: number, readonly kvHeads: number, readonly headDim: number, capacity = 64) {
    this.stride = batch * kvHeads * headDim;
    this.capacity = Math.max(1, capacity);
    this.keys = Array.from({ length: numLayers }, () => new Float32Array(this.capacity * this.stride));
    this.values = Array.from({ length: numLayers }, () => new Float32Array(this.capacity * this.stride));
  }

  /** Bytes held by the buffers (for cache budgets). */
  get bytes(): number {
    return 2 * this.numLayers * this.capacity * this.stride * 4;
  }

  private ensure(total: number): void {
    if (total <= this.capacity) return;
    let cap = this.capacity;
    while (cap < total) cap *= 2;
    const grow = (a: Float32Array) => {
      const n = new Float32Array(cap * this.stride);
      n.set(a.subarray(0, this.length * this.stride));
      return n;
    };
    this.keys = this.keys.map(grow);
    this.values = this.values.map(grow);
    this.capacity = cap;
  }

  /** past_key.i / past_value.i feeds: views of the used prefix. */
  feeds(): Record<string, ort.Tensor> {
    const out: Record<string, ort.Tensor> = {};
    const n = this.length * this.stride;
    const dims = [this.length, this.batch, this.kvHeads, this.headDim];
    for (let i = 0; i < this.numLayers; i++) {
      out[`past_key.${i}`] = new ort.Tensor('float32', this.keys[i]!.subarray(0, n), dims);
      out[`past_value.${i}`] = new ort.Tensor('float32', this.values[i]!.subarray(0, n), dims);
    }
    return out;
  }

  /** Appends the graph's new_key.i / new_value.i outputs ([S, B, KV, hd]). */
  append(outputs: Record<string, ort.Tensor>, seq: number): void {
    this.ensure(this.length + seq);
    const off = this.length * this.stride;
    for (let i = 0; i < this.numLayers; i++) {
      this.keys[i]!.set(outputs[`new_key.${i}`]!.data as Float32Array, off);
      this.values[i]!.set(outputs[`new_value.${i}`]!.data as Float32Array, off);
    }
    this.length += seq;
  }

  /** An independent copy (a shared prefix computed once, continued in several ways). */
  fork(extraCapacity = 64): KvCache {
    const c = new KvCache(this.numLayers, this.batch, this.kvHeads, this.headDim, this.length + extraCapacity);
    const n = this.length * this.stride;
    for (let i = 0; i < this.numLayers; i++) {
      c.keys[i]!.set(this.keys[i]!.subarray(0, n));
      c.values[i]!.set(this.values[i]!.subarray(0, n));
    }
    c.length = this.length;
    return c;
  }

  /** Drops entries after `len` (e.g. to roll back to a shared prefix). */
  truncate(len: number): void {
    if (len < 0 || len > this.length) throw new Error(`cannot truncate a cache of ${this.length} to ${len}`);
    this.length = len;
  }
}

/**
 * CPU cache for the GroupQueryAttention decoder graph (attention 'gqa'): head-major buffers
 * [B, KV, capacity, hd] per layer, fed whole (zero-copy; the kernel reads the first `length` slots
 * of each head, as seqlens_k says). Each step writes the graph's new_key.i [B, KV, S, hd] at slot
 * `length`. Rows are contiguous, so one row's cache is a view too (rowFeeds: steps that ORT only
 * runs at batch 1).
 * The kernel clears and fills an internal present buffer as long as the whole capacity on every
 * run (1B q4, 50 cached tokens: attention 6.6 ms per step at capacity 64, 21.8 ms at 4096), so
 * the capacity stays close to the length: a large requested capacity is only a hint, and growth
 * adds 1/8 (re-laying the cache out is one copy, paid every ~length/8 steps).
 */
export class HeadMajorKvCache implements KvStore {
  length = 0;
  private keys: KvBuffer[];
  private values: KvBuffer[];
  private capacity: number;

  /**
   * `capacity`: a hint; at most room(0) slots are allocated before the first append sizes the
   * buffers. `dtype` 'float16' stores IEEE half floats (Uint16Array), as the graph's fp16 cache takes.
   */
  constructor(readonly numLayers: number, readonly batch: number, readonly kvHeads: number, readonly headDim: number, capacity = 64, readonly dtype: 'float32' | 'float16' = 'float32') {
    this.capacity = Math.max(1, Math.min(capacity, HeadMajorKvCache.room(0)));
    this.keys = Array.from({ length: numLayers }, () => this.alloc(this.capacity));
    this.values = Array.from({ length: numLayers }, () => this.alloc(this.capacity));
  }

  private alloc(cap: number): KvBuffer {
    const n = this.batch * this.kvHeads * cap * this.headDim;
    return this.dtype === 'float16' ? new Uint16Array(n) : new Float32Array(n);
  }

  get bytes(): number {
    return 2 * this.numLayers * this.batch * this.kvHeads * this.capacity * this.headDim * (this.dtype === 'float16' ? 2 : 4);
  }

  /** Copies the first `len` slots of every head of `from` (capacity `fromCap`) into `to` (capacity `toCap`). */
  private copyHeads(from: KvBuffer, fromCap: number, to: KvBuffer, toCap: number, len: number): void {
    const hd = this.headDim;
    for (let r = 0; r < this.batch * this.kvHeads; r++) to.set(from.subarray(r * fromCap * hd, (r * fromCap + len) * hd), r * toCap * hd);
  }

  /** Slots to allocate for `len` entries: 1/8 more, at least 32. */
  private static room(len: number): number {
    return len + Math.max(32, Math.ceil(len / 8));
  }

  private ensure(total: number): void {
    if (total > this.capacity) this.resize(HeadMajorKvCache.room(total));
  }

  /** New buffers of `cap` slots per head holding the current entries. */
  private resize(cap: number): void {
    const grow = (a: KvBuffer) => {
      const n = this.alloc(cap);
      this.copyHeads(a, this.capacity, n, cap, this.length);
      return n;
    };
    this.keys = this.keys.map(grow);
    this.values = this.values.map(grow);
    this.capacity = cap;
  }

  /** past_key.i / past_value.i feeds: the whole buffers [B, KV, capacity, hd]. */
  feeds(): Record<string, ort.Tensor> {
    return this.rowFeeds(0, this.batch);
  }

  /** Feeds for rows [b0, b1) only (views: rows are contiguous). */
  rowFeeds(b0: number, b1: number): Record<string, ort.Tensor> {
    const out: Record<string, ort.Tensor> = {};
    const row = this.kvHeads * this.capacity * this.headDim;
    const dims = [b1 - b0, this.kvHeads, this.capacity, this.headDim];
    for (let i = 0; i < this.numLayers; i++) {
      out[`past_key.${i}`] = new ort.Tensor(this.dtype, this.keys[i]!.subarray(b0 * row, b1 * row), dims);
      out[`past_value.${i}`] = new ort.Tensor(this.dtype, this.values[i]!.subarray(b0 * row, b1 * row), dims);
    }
    return out;
  }

  /** Writes the graph's new_key.i / new_value.i ([B, KV, S, hd]) at slot `length`. */
  append(outputs: Record<string, ort.Tensor>, seq: number): void {
    this.ensure(this.length + seq);
    const hd = this.headDim, cap = this.capacity, run = seq * hd;
    for (let i = 0; i < this.numLayers; i++) {
      for (const [kind, buf] of [['key', this.keys[i]!], ['value', this.values[i]!]] as const) {
        const src = outputs[`new_${kind}.${i}`]!.data as KvBuffer;
        for (let r = 0; r < this.batch * this.kvHeads; r++) (buf as Float32Array).set(src.subarray(r * run, (r + 1) * run), (r * cap + this.length) * hd);
      }
    }
    this.length += seq;
  }

  fork(extraCapacity = 64): HeadMajorKvCache {
    const c = new HeadMajorKvCache(this.numLayers, this.batch, this.kvHeads, this.headDim, 1, this.dtype);
    // Extra room beyond the usual slack is only a hint (see above); 0 keeps a stored copy exact.
    c.resize(Math.max(1, this.length + Math.min(extraCapacity, HeadMajorKvCache.room(this.length) - this.length)));
    for (let i = 0; i < this.numLayers; i++) {
      this.copyHeads(this.keys[i]!, this.capacity, c.keys[i]!, c.capacity, this.length);
      this.copyHeads(this.values[i]!, this.capacity, c.values[i]!, c.capacity, this.length);
    }
    c.length = this.length;
    return c;
  }

  truncate(len: number): void {
    if (len < 0 || len > this.length) throw new Error(`cannot truncate a cache of ${this.length} to ${len}`);
    this.length = len;
  }
}

/** Head-major cache storage: float32, or IEEE half floats as raw 16-bit words. */
type KvBuffer = Float32Array | Uint16Array;

/** What the decoder needs from a cache; KvCache (CPU buffers) and GpuKvCache implement it. */
export interface KvStore {
  readonly length: number;
  readonly batch: number;
  readonly bytes: number;
  feeds(): Record<string, ort.Tensor>;
  append(outputs: Record<string, ort.Tensor>, seq: number): void;
  fork(extraCapacity?: number): KvStore | Promise<KvStore>;
}

/**
 * Cache kept on the GPU (WebGPU): the decoder graph returns the whole present key/values
 * (present_key.i, time-major [T, B, KV, hd]) into GPU buffers (preferredOutputLocation), which
 * are fed back as the next step's past without ever coming to the CPU.
 */
export class GpuKvCache implements KvStore {
  length = 0;
  private past: Record<string, ort.Tensor>;

  constructor(
    readonly numLayers: number,
    readonly batch: number,
    readonly kvHeads: number,
    readonly headDim: number,
    private readonly copier?: (t: Record<string, ort.Tensor>) => Promise<Record<string, ort.Tensor>>,
  ) {
    const empty = new Float32Array(0);
    this.past = {};
    for (let i = 0; i < numLayers; i++) {
      this.past[`past_key.${i}`] = new ort.Tensor('float32', empty, [0, batch, kvHeads, headDim]);
      this.past[`past_value.${i}`] = new ort.Tensor('float32', empty, [0, batch, kvHeads, headDim]);
    }
  }

  get bytes(): number {
    return 2 * this.numLayers * this.length * this.batch * this.kvHeads * this.headDim * 4;
  }

  feeds(): Record<string, ort.Tensor> {
    return { ...this.past };
  }

  append(outputs: Record<string, ort.Tensor>, seq: number): void {
    const next: Record<string, ort.Tensor> = {};
    for (let i = 0; i < this.numLayers; i++) {
      next[`past_key.${i}`] = outputs[`present_key.${i}`]!;
      next[`past_value.${i}`] = outputs[`present_value.${i}`]!;
    }
    if (this.length > 0) for (const t of Object.values(this.past)) t.dispose();
    this.past = next;
    this.length += seq;
  }

  /** A copy made on the GPU by a small copy session (shared prefixes). */
  async fork(): Promise<GpuKvCache> {
    if (!this.copier) throw new Error('this GPU cache cannot be forked (no copy session)');
    const c = new GpuKvCache(this.numLayers, this.batch, this.kvHeads, this.headDim, this.copier);
    if (this.length > 0) {
      const out = await this.copier(this.past);
      c.past = {};
      for (let i = 0; i < this.numLayers; i++) {
        c.past[`past_key.${i}`] = out[`copy_key.${i}`]!;
        c.past[`past_value.${i}`] = out[`copy_value.${i}`]!;
      }
    }
    c.length = this.length;
    return c;
  }
}
