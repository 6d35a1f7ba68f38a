// A restricted unpickler for exactly what torch.save writes for a state dict: data-only opcodes
// (protocols 2–5), OrderedDict, nested dicts/lists/tuples, storages by persistent id and
// `_rebuild_tensor_v2` / `_rebuild_parameter`. It never calls anything from the file: a GLOBAL is
// only a name, resolved against a fixed table of the callables above (each re-implemented here as
// plain data construction); every other global and every instance-creating opcode (INST, OBJ,
// NEWOBJ, EXT*) is refused with an error that names it.
import type { DType } from './safetensors.js';

export class PickleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PickleError';
  }
}

export type PyKey = string | number | bigint | boolean | null;
export type PyValue = PyKey | Uint8Array | PyValue[] | PyDict | PyGlobal | TorchStorage | TorchTensor;

/** A Python dict or OrderedDict (insertion order kept). */
export class PyDict extends Map<PyKey, PyValue> {}

/** A global named by the pickle (only names from ALLOWED_GLOBALS ever exist). */
export class PyGlobal {
  constructor(readonly module: string, readonly name: string) {}
  get qualname(): string {
    return `${this.module}.${this.name}`;
  }
}

/** One storage record of the archive (`<prefix>/data/<key>`), typed as torch.save declared it. */
export class TorchStorage {
  constructor(readonly dtype: DType, readonly key: string, readonly numel: number, readonly storageType: string) {}
}

/** A tensor view: `shape`/`stride` in elements, `storageOffset` in elements. */
export class TorchTensor {
  constructor(readonly storage: TorchStorage, readonly storageOffset: number, readonly shape: number[], readonly stride: number[]) {}
  get dtype(): DType {
    return this.storage.dtype;
  }
}

/** torch.<X>Storage → dtype (the legacy typed-storage names torch.save still writes). */
export const STORAGE_DTYPES: Record<string, DType> = {
  FloatStorage: 'F32',
  HalfStorage: 'F16',
  BFloat16Storage: 'BF16',
  DoubleStorage: 'F64',
  LongStorage: 'I64',
  IntStorage: 'I32',
  ShortStorage: 'I16',
  CharStorage: 'I8',
  ByteStorage: 'U8',
  BoolStorage: 'BOOL',
};

type Reducer = (args: PyValue[], at: string) => PyValue;

function safeInt(v: PyValue, what: string, at: string): number {
  const n = typeof v === 'bigint' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) throw new PickleError(`${at}: ${what} is ${describe(v)}, not a non-negative integer`);
  return n;
}

function intList(v: PyValue, what: string, at: string): number[] {
  if (!Array.isArray(v)) throw new PickleError(`${at}: ${what} is ${describe(v)}, not a tuple of integers`);
  return v.map((d, i) => safeInt(d, `${what}[${i}]`, at));
}

function describe(v: PyValue): string {
  if (v === null) return 'None';
  if (Array.isArray(v)) return `a sequence of ${v.length}`;
  if (v instanceof PyDict) return 'a dict';
  if (v instanceof PyGlobal) return v.qualname;
  if (v instanceof TorchTensor) return 'a tensor';
  if (v instanceof TorchStorage) return 'a storage';
  if (v instanceof Uint8Array) return `${v.length} bytes`;
  return JSON.stringify(typeof v === 'bigint' ? String(v) : v);
}

function rebuildTensor(args: PyValue[], at: string): TorchTensor {
  const [storage, offset, size, stride] = args;
  if (!(storage instanceof TorchStorage)) throw new PickleError(`${at}: _rebuild_tensor_v2 expects a storage first, got ${describe(storage ?? null)}`);
  const shape = intList(size ?? null, 'size', at);
  const strides = intList(stride ?? null, 'stride', at);
  if (shape.length !== strides.length) throw new PickleError(`${at}: size [${shape}] and stride [${strides}] differ in rank`);
  return new TorchTensor(storage, safeInt(offset ?? null, 'storage offset', at), shape, strides);
}

/** The only callables REDUCE may "call"; each builds plain data from its arguments. */
const REDUCERS: Record<string, Reducer> = {
  'collections.OrderedDict': (args, at) => {
    const d = new PyDict();
    if (args.length === 0) return d;
    if (args.length === 1 && Array.isArray(args[0])) {
      for (const pair of args[0]) {
        if (!Array.isArray(pair) || pair.length !== 2) throw new PickleError(`${at}: OrderedDict items must be (key, value) pairs`);
        d.set(key(pair[0]!, at), pair[1]!);
      }
      return d;
    }
    throw new PickleError(`${at}: OrderedDict called with unexpected arguments`);
  },
  // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
  'torch._utils._rebuild_tensor_v2': (args, at) => rebuildTensor(args, at),
  // (storage, storage_offset, size, stride): torch < 1.0 spelling, same layout.
  'torch._utils._rebuild_tensor': (args, at) => rebuildTensor(args, at),
  // nn.Parameter(data, requires_grad, backward_hooks[, state]): the data is the tensor.
  'torch._utils._rebuild_parameter': (args, at) => parameterData(args, at),
  'torch._utils._rebuild_parameter_with_state': (args, at) => parameterData(args, at),
  // Protocol 2 spells a bytes value as _codecs.encode(text, 'latin1').
  '_codecs.encode': (args, at) => {
    const [text, enc] = args;
    if (typeof text !== 'string' || (enc !== 'latin1' && enc !== 'latin-1')) throw new PickleError(`${at}: _codecs.encode only decodes latin1 bytes`);
    return new Uint8Array(Buffer.from(text, 'latin1'));
  },
};

function parameterData(args: PyValue[], at: string): TorchTensor {
  if (!(args[0] instanceof TorchTensor)) throw new PickleError(`${at}: _rebuild_parameter expects a tensor, got ${describe(args[0] ?? null)}`);
  return args[0];
}

const ALLOWED_GLOBALS = new Set([...Object.keys(REDUCERS), ...Object.keys(STORAGE_DTYPES).map((s) => `torch.${s}`)]);

function key(v: PyValue, at: string): PyKey {
  if (v === null || ['string', 'number', 'bigint', 'boolean'].includes(typeof v)) return v as PyKey;
  throw new PickleError(`${at}: dict key ${describe(v)} is not a string or number`);
}

/** torch.save's persistent id: ('storage', torch.<X>Storage, key, location, numel). */
function persistentStorage(pid: PyValue, at: string): TorchStorage {
  if (!Array.isArray(pid) || pid[0] !== 'storage' || pid.length < 5) {
    throw new PickleError(`${at}: persistent id ${describe(pid)} is not a torch storage reference`);
  }
  const [, type, k, , numel] = pid;
  if (!(type instanceof PyGlobal) || type.module !== 'torch' || !(type.name in STORAGE_DTYPES)) {
    throw new PickleError(`${at}: storage type ${describe(type ?? null)} is not a supported torch storage`);
  }
  if (typeof k !== 'string' || !/^[A-Za-z0-9_.-]+$/.test(k)) throw new PickleError(`${at}: storage key ${describe(k ?? null)} is not a plain record name`);
  return new TorchStorage(STORAGE_DTYPES[type.name]!, k, safeInt(numel ?? null, 'storage size', at), type.name);
}

const OPNAMES: Record<number, string> = {
  0x69: 'INST', 0x6f: 'OBJ', 0x81: 'NEWOBJ', 0x92: 'NEWOBJ_EX', 0x82: 'EXT1', 0x83: 'EXT2', 0x84: 'EXT4',
  0x50: 'PERSID', 0x96: 'BYTEARRAY8', 0x97: 'NEXT_BUFFER', 0x98: 'READONLY_BUFFER', 0x49: 'INT', 0x4c: 'LONG',
  0x46: 'FLOAT', 0x53: 'STRING', 0x56: 'UNICODE', 0x70: 'PUT', 0x67: 'GET',
};

const MARK = Symbol('mark');
type Item = PyValue | typeof MARK;

/**
 * Unpickles `data` (data.pkl of a torch zip archive). `where` prefixes every error
 * (e.g. "model.pt data.pkl").
 */
export function unpickleTorch(data: Uint8Array, where: string): PyValue {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const stack: Item[] = [];
  const memo = new Map<number, PyValue>();
  let pos = 0;
  let op = 0;
  let opPos = 0;
  const at = () => `${where} at byte ${opPos}`;
  const need = (n: number) => {
    if (n < 0 || pos + n > buf.length) throw new PickleError(`${at()}: pickle is truncated (needs ${n} more bytes, ${buf.length - pos} left)`);
  };
  const u8 = () => (need(1), buf[pos++]!);
  const u16 = () => (need(2), (pos += 2), buf.readUInt16LE(pos - 2));
  const u32 = () => (need(4), (pos += 4), buf.readUInt32LE(pos - 4));
  const bytes = (n: number) => (need(n), (pos += n), buf.subarray(pos - n, pos));
  const line = () => {
    const end = buf.indexOf(0x0a, pos);
    if (end < 0) throw new PickleError(`${at()}: pickle is truncated (unterminated line)`);
    const s = buf.toString('latin1', pos, end);
    pos = end + 1;
    return s;
  };
  const pop = (): PyValue => {
    const v = stack.pop();
    if (v === undefined || v === MARK) throw new PickleError(`${at()}: stack underflow (malformed pickle)`);
    return v;
  };
  const top = (): PyValue => {
    const v = stack[stack.length - 1];
    if (v === undefined || v === MARK) throw new PickleError(`${at()}: stack underflow (malformed pickle)`);
    return v;
  };
  const popMark = (): PyValue[] => {
    const i = stack.lastIndexOf(MARK);
    if (i < 0) throw new PickleError(`${at()}: no MARK on the stack (malformed pickle)`);
    const items = stack.splice(i) as PyValue[];
    items.shift();
    return items;
  };
  const global = (module: string, name: string): PyGlobal => {
    const q = `${module}.${name}`;
    if (!ALLOWED_GLOBALS.has(q)) {
      throw new PickleError(`${at()}: refers to the global ${q}, which a state dict does not contain; refused (tsvlm only reads tensors, dicts and plain values and never runs code from a checkpoint)`);
    }
    return new PyGlobal(module, name);
  };
  const dictOf = (v: PyValue): PyDict => {
    if (!(v instanceof PyDict)) throw new PickleError(`${at()}: SETITEM on ${describe(v)}, not a dict`);
    return v;
  };
  const listOf = (v: PyValue): PyValue[] => {
    if (!Array.isArray(v)) throw new PickleError(`${at()}: APPEND on ${describe(v)}, not a list`);
    return v;
  };
  const memoGet = (i: number): PyValue => {
    if (!memo.has(i)) throw new PickleError(`${at()}: memo entry ${i} was never stored (malformed pickle)`);
    return memo.get(i)!;
  };
  const memoPut = (i: number) => memo.set(i, top());

  for (;;) {
    opPos = pos;
    op = u8();
    switch (op) {
      case 0x80: { // PROTO
        const v = u8();
        if (v > 5) throw new PickleError(`${at()}: pickle protocol ${v} is not supported`);
        break;
      }
      case 0x95: bytes(8); break; // FRAME (length is advisory)
      case 0x2e: { // STOP
        const v = pop();
        if (stack.length) throw new PickleError(`${at()}: ${stack.length} values left on the stack at STOP (malformed pickle)`);
        return v;
      }
      case 0x28: stack.push(MARK); break;
      case 0x30: pop(); break; // POP
      case 0x31: popMark(); break; // POP_MARK
      case 0x32: stack.push(top()); break; // DUP
      case 0x4e: stack.push(null); break; // NONE
      case 0x88: stack.push(true); break;
      case 0x89: stack.push(false); break;
      case 0x4a: need(4); stack.push(buf.readInt32LE(pos)); pos += 4; break; // BININT
      case 0x4b: stack.push(u8()); break; // BININT1
      case 0x4d: stack.push(u16()); break; // BININT2
      case 0x8a: case 0x8b: { // LONG1, LONG4
        const n = op === 0x8a ? u8() : u32();
        if (n > 64) throw new PickleError(`${at()}: integer of ${n} bytes is not plausible in a state dict`);
        const b = bytes(n);
        let v = 0n;
        for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]!);
        if (n && b[n - 1]! & 0x80) v -= 1n << BigInt(8 * n);
        stack.push(v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v);
        break;
      }
      case 0x47: need(8); stack.push(buf.readDoubleBE(pos)); pos += 8; break; // BINFLOAT
      case 0x58: stack.push(bytes(u32()).toString('utf8')); break; // BINUNICODE
      case 0x8c: stack.push(bytes(u8()).toString('utf8')); break; // SHORT_BINUNICODE
      case 0x8d: { // BINUNICODE8
        need(8);
        const n = Number(buf.readBigUInt64LE(pos));
        pos += 8;
        stack.push(bytes(n).toString('utf8'));
        break;
      }
      case 0x54: stack.push(bytes(u32()).toString('latin1')); break; // BINSTRING (py2 str)
      case 0x55: stack.push(bytes(u8()).toString('latin1')); break; // SHORT_BINSTRING
      case 0x42: stack.push(new Uint8Array(bytes(u32()))); break; // BINBYTES
      case 0x43: stack.push(new Uint8Array(bytes(u8()))); break; // SHORT_BINBYTES
      case 0x8e: { // BINBYTES8
        need(8);
        const n = Number(buf.readBigUInt64LE(pos));
        pos += 8;
        stack.push(new Uint8Array(bytes(n)));
        break;
      }
      case 0x29: stack.push([]); break; // EMPTY_TUPLE
      case 0x74: stack.push(popMark()); break; // TUPLE
      case 0x85: stack.push([pop()]); break; // TUPLE1
      case 0x86: { const b = pop(), a = pop(); stack.push([a, b]); break; } // TUPLE2
      case 0x87: { const c = pop(), b = pop(), a = pop(); stack.push([a, b, c]); break; } // TUPLE3
      case 0x5d: stack.push([]); break; // EMPTY_LIST
      case 0x6c: stack.push(popMark()); break; // LIST
      case 0x61: { const v = pop(); listOf(top()).push(v); break; } // APPEND
      case 0x65: { const items = popMark(); listOf(top()).push(...items); break; } // APPENDS
      case 0x8f: stack.push([]); break; // EMPTY_SET (a list here)
      case 0x90: { const items = popMark(); listOf(top()).push(...items); break; } // ADDITEMS
      case 0x91: stack.push(popMark()); break; // FROZENSET
      case 0x7d: stack.push(new PyDict()); break; // EMPTY_DICT
      case 0x64: { // DICT
        const items = popMark();
        if (items.length % 2) throw new PickleError(`${at()}: DICT with an odd number of items`);
        const d = new PyDict();
        for (let i = 0; i < items.length; i += 2) d.set(key(items[i]!, at()), items[i + 1]!);
        stack.push(d);
        break;
      }
      case 0x73: { const v = pop(), k = pop(); dictOf(top()).set(key(k, at()), v); break; } // SETITEM
      case 0x75: { // SETITEMS
        const items = popMark();
        if (items.length % 2) throw new PickleError(`${at()}: SETITEMS with an odd number of items`);
        const d = dictOf(top());
        for (let i = 0; i < items.length; i += 2) d.set(key(items[i]!, at()), items[i + 1]!);
        break;
      }
      case 0x71: memoPut(u8()); break; // BINPUT
      case 0x72: memoPut(u32()); break; // LONG_BINPUT
      case 0x94: memoPut(memo.size); break; // MEMOIZE
      case 0x68: stack.push(memoGet(u8())); break; // BINGET
      case 0x6a: stack.push(memoGet(u32())); break; // LONG_BINGET
      case 0x63: { // GLOBAL "module\nname\n"
        const module = line();
        stack.push(global(module, line()));
        break;
      }
      case 0x93: { // STACK_GLOBAL
        const name = pop(), module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') throw new PickleError(`${at()}: STACK_GLOBAL needs two strings`);
        stack.push(global(module, name));
        break;
      }
      case 0x52: { // REDUCE
        const args = pop(), fn = pop();
        if (!(fn instanceof PyGlobal)) throw new PickleError(`${at()}: REDUCE of ${describe(fn)}, which is not a callable a state dict uses; refused`);
        const reducer = REDUCERS[fn.qualname];
        if (!reducer) throw new PickleError(`${at()}: REDUCE of ${fn.qualname}, which is not a callable a state dict uses; refused`);
        if (!Array.isArray(args)) throw new PickleError(`${at()}: REDUCE arguments are ${describe(args)}, not a tuple`);
        stack.push(reducer(args, `${at()} (${fn.qualname})`));
        break;
      }
      case 0x62: { // BUILD: state of an OrderedDict (state_dict._metadata) is attribute data; skipped.
        pop();
        const obj = top();
        if (!(obj instanceof PyDict) && !(obj instanceof TorchTensor)) throw new PickleError(`${at()}: BUILD on ${describe(obj)}; refused`);
        break;
      }
      case 0x51: stack.push(persistentStorage(pop(), at())); break; // BINPERSID
      default: {
        const name = OPNAMES[op];
        throw new PickleError(
          name
            ? `${at()}: opcode ${name} is not allowed (a torch.save state dict never uses it; it can create arbitrary objects or is not supported); refused`
            : `${at()}: unknown pickle opcode 0x${op.toString(16).padStart(2, '0')} (corrupt or not a PyTorch checkpoint)`,
        );
      }
    }
  }
}
