// A small typed ONNX graph builder. Models describe their forward pass with it; checkpoint
// tensors enter as external data (offset/length into the safetensors file, memory-mapped by ORT),
// so the graph protobuf stays small and no second copy of the weights is made.
import onnxProto from 'onnx-proto';
import { basename, dirname } from 'node:path';
import type { TensorInfo, DType } from '../io/safetensors.js';

const { onnx } = onnxProto;
type INode = onnxProto.onnx.INodeProto;
type ITensor = onnxProto.onnx.ITensorProto;
type IValueInfo = onnxProto.onnx.IValueInfoProto;
type IAttr = onnxProto.onnx.IAttributeProto;

export type ElemType = 'float32' | 'float16' | 'bfloat16' | 'int64' | 'int32' | 'bool' | 'uint8' | 'int8';

const ELEM: Record<ElemType, number> = {
  float32: onnx.TensorProto.DataType.FLOAT,
  float16: onnx.TensorProto.DataType.FLOAT16,
  bfloat16: onnx.TensorProto.DataType.BFLOAT16,
  int64: onnx.TensorProto.DataType.INT64,
  int32: onnx.TensorProto.DataType.INT32,
  bool: onnx.TensorProto.DataType.BOOL,
  uint8: onnx.TensorProto.DataType.UINT8,
  int8: onnx.TensorProto.DataType.INT8,
};

export function elemOfDType(d: DType): ElemType {
  switch (d) {
    case 'F32': return 'float32';
    case 'F16': return 'float16';
    case 'BF16': return 'bfloat16';
    case 'I64': return 'int64';
    case 'I32': return 'int32';
    case 'U8': return 'uint8';
    case 'I8': return 'int8';
    case 'BOOL': return 'bool';
    default: throw new Error(`dtype ${d} cannot be used as an ONNX weight`);
  }
}

/** A tensor value inside a graph (a name; shapes are ORT's business). */
export class Value {
  constructor(readonly graph: Graph, readonly name: string) {}
}

/** Float attribute marker: plain numbers are ints, wrap floats as `f(1e-6)`. */
export class FloatAttr {
  constructor(readonly v: number) {}
}
export const f = (v: number) => new FloatAttr(v);
export type AttrValue = number | FloatAttr | string | number[] | FloatAttr[] | string[];

export type Dim = number | string;

export class Graph {
  private nodes: INode[] = [];
  private inits: ITensor[] = [];
  private inputs: IValueInfo[] = [];
  private outputs: IValueInfo[] = [];
  private names = new Set<string>();
  private counter = 0;
  private constCache = new Map<string, Value>();
  /** Folder holding every external-data file (ORT takes a single folder per session). */
  externalFolder: string | undefined;
  /** Bytes of weights referenced as external data. */
  externalBytes = 0;

  constructor(readonly name: string, readonly opset = 21) {}

  private fresh(prefix: string): string {
    let n: string;
    do n = `${prefix}_${this.counter++}`; while (this.names.has(n));
    this.names.add(n);
    return n;
  }

  input(name: string, type: ElemType, dims: Dim[]): Value {
    this.names.add(name);
    this.inputs.push(valueInfo(name, type, dims));
    return new Value(this, name);
  }

  /** Marks `v` as a graph output named `name` (an Identity is inserted when names differ). */
  output(v: Value, name: string, type: ElemType = 'float32', dims?: Dim[]): void {
    let src = v.name;
    if (src !== name) {
      this.names.add(name);
      this.nodes.push({ opType: 'Identity', input: [src], output: [name], name: `out_${name}` });
      src = name;
    }
    this.outputs.push(valueInfo(src, type, dims));
  }

  /** Adds a node; returns its outputs. `inputs` may contain null for omitted optional inputs. */
  opN(opType: string, inputs: (Value | null)[], attrs: Record<string, AttrValue> = {}, nOut = 1, domain = ''): Value[] {
    const outs = Array.from({ length: nOut }, () => this.fresh(opType));
    this.nodes.push({
      opType,
      domain: domain || undefined,
      name: this.fresh(`n_${opType}`),
      input: inputs.map((v) => (v ? v.name : '')),
      output: outs,
      attribute: Object.entries(attrs).map(([k, a]) => attr(k, a)),
    });
    return outs.map((o) => new Value(this, o));
  }

  op(opType: string, inputs: (Value | null)[], attrs: Record<string, AttrValue> = {}, domain = ''): Value {
    return this.opN(opType, inputs, attrs, 1, domain)[0]!;
  }

  /** A checkpoint tensor (or a contiguous slice of its rows) as external data. */
  external(info: TensorInfo, opts: { name?: string; rows?: [number, number]; shape?: number[] } = {}): Value {
    this.useFolder(dirname(info.file));
    let { offset, length } = info;
    let shape = info.shape;
    if (opts.rows) {
      const rowBytes = info.length / info.shape[0]!;
      const [r0, r1] = opts.rows;
      offset += r0 * rowBytes;
      length = (r1 - r0) * rowBytes;
      shape = [r1 - r0, ...info.shape.slice(1)];
    }
    if (opts.shape) shape = opts.shape;
    const name = this.fresh(opts.name ?? info.name);
    this.inits.push({
      name,
      dataType: ELEM[elemOfDType(info.dtype)],
      dims: shape,
      dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
      externalData: [
        { key: 'location', value: basename(info.file) },
        { key: 'offset', value: String(offset) },
        { key: 'length', value: String(length) },
      ],
    });
    this.externalBytes += length;
    return new Value(this, name);
  }

  /**
   * An external initializer whose bytes are written later (weights converted into a cache file):
   * `bind` gives its file, offset and length before the session is created.
   */
  deferredExternal(nameHint: string, type: ElemType, dims: number[]): { value: Value; bind(file: string, offset: number, length: number): void } {
    const name = this.fresh(nameHint);
    const t: ITensor = { name, dataType: ELEM[type], dims, dataLocation: onnx.TensorProto.DataLocation.EXTERNAL, externalData: [] };
    this.inits.push(t);
    this.unbound++;
    let bound = false;
    const bind = (file: string, offset: number, length: number) => {
      if (bound) throw new Error(`graph ${this.name}: ${name} bound twice`);
      this.useFolder(dirname(file));
      t.externalData = [
        { key: 'location', value: basename(file) },
        { key: 'offset', value: String(offset) },
        { key: 'length', value: String(length) },
      ];
      this.externalBytes += length;
      this.unbound--;
      bound = true;
    };
    return { value: new Value(this, name), bind };
  }

  private unbound = 0;
  private prepareHooks: (() => Promise<void>)[] = [];

  /** Work to do before a session can be created (e.g. converting weights into a cache). */
  onPrepare(fn: () => Promise<void>): void {
    this.prepareHooks.push(fn);
  }

  /** Runs the onPrepare hooks once (createSession calls it). */
  async prepare(): Promise<void> {
    const hooks = this.prepareHooks;
    this.prepareHooks = [];
    for (const h of hooks) await h();
  }

  private useFolder(folder: string): void {
    if (this.externalFolder === undefined) this.externalFolder = folder;
    else if (this.externalFolder !== folder) {
      throw new Error(`graph ${this.name}: weights live in two folders (${this.externalFolder}, ${folder}); ORT takes external data from one folder`);
    }
  }

  /** A small constant stored inline in the graph. */
  constant(type: ElemType, dims: number[], data: ArrayLike<number> | ArrayLike<bigint>, name?: string): Value {
    const n = this.fresh(name ?? 'const');
    const t: ITensor = { name: n, dataType: ELEM[type], dims };
    switch (type) {
      case 'float32': t.rawData = new Uint8Array(Float32Array.from(data as ArrayLike<number>).buffer); break;
      case 'int64': t.rawData = new Uint8Array(BigInt64Array.from(Array.from(data as ArrayLike<number | bigint>, (x) => BigInt(x))).buffer); break;
      case 'int32': t.rawData = new Uint8Array(Int32Array.from(data as ArrayLike<number>).buffer); break;
      case 'uint8': case 'bool': t.rawData = Uint8Array.from(data as ArrayLike<number>); break;
      case 'int8': t.rawData = new Uint8Array(Int8Array.from(data as ArrayLike<number>).buffer); break;
      default: throw new Error(`constant of type ${type} not supported`);
    }
    this.inits.push(t);
    return new Value(this, n);
  }

  /** int64 1-D constant, deduplicated (shapes, axes, indices). */
  ints(values: number[]): Value {
    const key = `i64:${values.join(',')}`;
    let v = this.constCache.get(key);
    if (!v) {
      v = this.constant('int64', [values.length], values, 'ints');
      this.constCache.set(key, v);
    }
    return v;
  }

  /** float32 scalar constant, deduplicated. */
  scalar(x: number): Value {
    const key = `f32:${x}`;
    let v = this.constCache.get(key);
    if (!v) {
      v = this.constant('float32', [], [x], 'scalar');
      this.constCache.set(key, v);
    }
    return v;
  }

  get nodeCount(): number {
    return this.nodes.length;
  }

  /** Serialises the model (ModelProto bytes); weights stay external. */
  toBytes(): Uint8Array {
    if (this.unbound) throw new Error(`graph ${this.name}: ${this.unbound} weights were never written (call prepare() first)`);
    const model = onnx.ModelProto.create({
      irVersion: 10,
      producerName: 'tsvlm',
      opsetImport: [{ domain: '', version: this.opset }, { domain: 'com.microsoft', version: 1 }],
      graph: {
        name: this.name,
        node: this.nodes,
        initializer: this.inits,
        input: this.inputs,
        output: this.outputs,
      },
    });
    return onnx.ModelProto.encode(model).finish();
  }
}

function valueInfo(name: string, type: ElemType, dims?: Dim[]): IValueInfo {
  return {
    name,
    type: {
      tensorType: {
        elemType: ELEM[type],
        shape: dims ? { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } : undefined,
      },
    },
  };
}

function attr(name: string, a: AttrValue): IAttr {
  const T = onnx.AttributeProto.AttributeType;
  if (a instanceof FloatAttr) return { name, type: T.FLOAT, f: a.v };
  if (typeof a === 'number') return { name, type: T.INT, i: a };
  if (typeof a === 'string') return { name, type: T.STRING, s: new TextEncoder().encode(a) };
  if (a.length > 0 && a[0] instanceof FloatAttr) return { name, type: T.FLOATS, floats: (a as FloatAttr[]).map((x) => x.v) };
  if (a.length > 0 && typeof a[0] === 'string') return { name, type: T.STRINGS, strings: (a as string[]).map((s) => new TextEncoder().encode(s)) };
  return { name, type: T.INTS, ints: a as number[] };
}
