// Checkpoint tensors as graph values. fp32 (default): external data in the stored dtype; 16-bit
// weights get a Cast to float32 (ORT folds it at session creation; see ort-facts.md). Other
// dtypes (store.weights.dtype: fp16, q8, q4) read every weight from a converted cache file
// (src/quant/plan.ts): Linear weights become MatMulNBits codes (or float16), embedding tables
// GatherBlockQuantized (or float16), everything else a float32 copy.
import type { Graph, Value } from '../graph/builder.js';
import type { WeightStore } from '../io/checkpoint.js';
import { QuantPlan } from '../quant/plan.js';

export class GraphWeights {
  private readonly plan: QuantPlan | undefined;

  constructor(readonly g: Graph, readonly store: WeightStore) {
    const s = store.weights;
    if (s && s.dtype !== 'fp32') this.plan = QuantPlan.of(g, store, s);
  }

  has(name: string): boolean {
    return this.store.has(name);
  }

  /** The tensor as float32 (rows: a contiguous slice of the first axis). */
  get(name: string, opts: { rows?: [number, number]; shape?: number[] } = {}): Value {
    const info = this.store.get(name);
    if (!['F32', 'F16', 'BF16', 'F64'].includes(info.dtype)) throw new Error(`tensor ${name} has dtype ${info.dtype}; a floating-point weight was expected`);
    if (this.plan) return this.plan.f32(name, opts.rows, opts.shape);
    const v = this.g.external(info, opts);
    if (info.dtype === 'F32') return v;
    return this.g.op('Cast', [v], { to: 1 });
  }

  /** y = x·Wᵀ (+ b) for a PyTorch Linear weight [out, in] (rows: a slice of the out axis). */
  linear(x: Value, weight: string, opts: { bias?: string; rows?: [number, number] } = {}): Value {
    const g = this.g;
    const info = this.store.get(weight);
    const plan = this.plan;
    if (plan && info.shape.length === 2) {
      if (plan.bits) {
        const q = plan.quantized(weight, opts.rows);
        const L = q.layout;
        const y = g.op('MatMulNBits', [x, q.codes, q.scales, q.zeroPoints ?? null], {
          K: L.k, N: L.n, bits: L.bits, block_size: L.blockSize, accuracy_level: plan.settings.accuracyLevel ?? 4,
        }, 'com.microsoft');
        return opts.bias ? g.op('Add', [y, this.get(opts.bias, { rows: opts.rows })]) : y;
      }
      const W = g.op('Cast', [plan.f16(weight, opts.rows)], { to: 1 });
      const inputs = [x, W];
      if (opts.bias) inputs.push(this.get(opts.bias, { rows: opts.rows }));
      return g.op('Gemm', inputs, { transB: 1 });
    }
    const inputs = [x, this.get(weight, { rows: opts.rows })];
    if (opts.bias) inputs.push(this.get(opts.bias, { rows: opts.rows }));
    return g.op('Gemm', inputs, { transB: 1 });
  }

  /** Rows of an embedding table [V, D] picked by `ids` (any int64 shape) → [..., D] float32. */
  gather(table: string, ids: Value): Value {
    const g = this.g;
    const plan = this.plan;
    const info = this.store.get(table);
    if (plan && info.shape.length === 2) {
      // GatherBlockQuantized needs whole blocks per row; other widths keep a float16 table.
      if (plan.bits && info.shape[1]! % plan.blockSize === 0) {
        const q = plan.quantizedTable(table);
        return g.op('GatherBlockQuantized', [q.data, ids, q.scales, q.zeroPoints ?? null], {
          bits: q.layout.bits, block_size: q.layout.blockSize, gather_axis: 0, quantize_axis: 1,
        }, 'com.microsoft');
      }
      // Gather from the float16 table, then Cast: only the picked rows become float32.
      return g.op('Cast', [g.op('Gather', [plan.f16(table), ids])], { to: 1 });
    }
    return g.op('Gather', [this.get(table), ids]);
  }
}
