// KV cache in preallocated, geometrically grown float32 buffers, time-major [T, B, KV, hd] so the
// used prefix is a contiguous view: it enters the decoder graph zero-copy, and each step appends
// only the new entries (no per-step reallocation of the whole cache).
import { ort } from '../graph/session.js';

export class KvCache {
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
