// Checkpoint tensors as graph values: external data in the stored dtype; 16-bit weights get a
// Cast to float32 (ORT folds it at session creation; see ort-facts.md).
import type { Graph, Value } from '../graph/builder.js';
import type { WeightStore } from '../io/checkpoint.js';

export class GraphWeights {
  constructor(readonly g: Graph, readonly store: WeightStore) {}

  has(name: string): boolean {
    return this.store.has(name);
  }

  /** The tensor as float32 (rows: a contiguous slice of the first axis). */
  get(name: string, opts: { rows?: [number, number]; shape?: number[] } = {}): Value {
    const info = this.store.get(name);
    const v = this.g.external(info, opts);
    if (info.dtype === 'F32') return v;
    if (info.dtype === 'F16' || info.dtype === 'BF16' || info.dtype === 'F64') return this.g.op('Cast', [v], { to: 1 });
    throw new Error(`tensor ${name} has dtype ${info.dtype}; a floating-point weight was expected`);
  }
}
