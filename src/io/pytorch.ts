// PyTorch checkpoints (torch.save zip archives: .pt, .pth, pytorch_model*.bin) read like
// safetensors: data.pkl is unpickled by the restricted unpickler (torch-pickle.ts) and every tensor
// becomes a TensorInfo — a byte range inside the archive, where torch.save stores each storage
// uncompressed — so graphs memory-map the weights from the .pt file itself, with no second copy.
import { closeSync, openSync, readSync, realpathSync } from 'node:fs';
import { basename } from 'node:path';
import { DTYPE_BYTES, numel, type TensorInfo } from './safetensors.js';
import { ZipArchive, type ZipEntry } from './zip.js';
import { PyDict, TorchTensor, unpickleTorch, type PyValue } from './torch-pickle.js';

export class PytorchCheckpointError extends Error {
  constructor(file: string, problem: string) {
    super(`${basename(file)}: ${problem}`);
    this.name = 'PytorchCheckpointError';
  }
}

export type WeightsFormat = 'safetensors' | 'pytorch-zip' | 'pytorch-legacy' | 'unknown';

/** Recognises a weights file by its first bytes (never by its extension). */
export function detectWeightsFormat(path: string): WeightsFormat {
  const head = Buffer.alloc(16);
  const fd = openSync(path, 'r');
  let n: number;
  try {
    n = readSync(fd, head, 0, 16, 0);
  } finally {
    closeSync(fd);
  }
  if (n >= 4 && head.readUInt32LE(0) === 0x04034b50) return 'pytorch-zip';
  // safetensors: u64 LE header length (< 4 GiB in practice), then the JSON header's '{'.
  if (n >= 9 && head.readUInt32LE(4) === 0 && head[8] === 0x7b) return 'safetensors';
  // Before torch 1.6, torch.save wrote a bare pickle stream (PROTO opcode first).
  if (n >= 2 && head[0] === 0x80 && head[1]! <= 5) return 'pytorch-legacy';
  return 'unknown';
}

/** Keys under which training scripts wrap the state dict ({"model": state_dict, "epoch": …}). */
const WRAPPER_KEYS = ['model', 'state_dict', 'module', 'model_state_dict'];

function holdsTensors(v: PyValue, depth = 0): boolean {
  if (v instanceof TorchTensor) return true;
  if (depth > 64) return false;
  if (v instanceof PyDict) return [...v.values()].some((x) => holdsTensors(x, depth + 1));
  if (Array.isArray(v)) return v.some((x) => holdsTensors(x, depth + 1));
  return false;
}

/**
 * The state dict inside the pickled object: the object itself, or, when its top level holds no
 * tensor, the first of `model`, `state_dict`, `module`, `model_state_dict` that holds tensors.
 */
function stateDictOf(root: PyValue): PyValue {
  if (!(root instanceof PyDict)) return root;
  if ([...root.values()].some((v) => v instanceof TorchTensor)) return root;
  for (const k of WRAPPER_KEYS) {
    const v = root.get(k);
    if (v instanceof PyDict && holdsTensors(v)) return v;
  }
  return root;
}

/** Every tensor of a nested dict/list, named by its '.'-joined path (a state dict is flat already). */
function flatten(v: PyValue, prefix: string, out: Map<string, TorchTensor>, file: string, depth = 0): void {
  if (depth > 64) throw new PytorchCheckpointError(file, `objects nested more than 64 deep at ${prefix}`);
  const visit = (k: string, x: PyValue) => {
    const name = prefix ? `${prefix}.${k}` : k;
    if (x instanceof TorchTensor) {
      if (out.has(name)) throw new PytorchCheckpointError(file, `two tensors named ${name}`);
      out.set(name, x);
    } else flatten(x, name, out, file, depth + 1);
  };
  if (v instanceof PyDict) for (const [k, x] of v) visit(String(k), x);
  else if (Array.isArray(v)) v.forEach((x, i) => visit(String(i), x));
}

/** A torch.save zip archive: its tensors as byte ranges, plus the whole unpickled object. */
export class PytorchFile {
  readonly tensors = new Map<string, TensorInfo>();
  /** The unpickled object (tensors as TorchTensor), for callers that need non-tensor entries. */
  root: PyValue = null;

  private constructor(readonly path: string, readonly realPath: string) {}

  static open(path: string): PytorchFile {
    let real: string;
    try {
      real = realpathSync(path);
    } catch {
      throw new PytorchCheckpointError(path, `file not found (${path})`);
    }
    const format = detectWeightsFormat(real);
    if (format === 'pytorch-legacy') {
      throw new PytorchCheckpointError(path, 'legacy PyTorch serialization (a bare pickle, torch < 1.6) is not supported; re-save it with a current torch.save, or convert it to safetensors');
    }
    if (format !== 'pytorch-zip') throw new PytorchCheckpointError(path, `not a PyTorch zip checkpoint (detected: ${format})`);
    const f = new PytorchFile(path, real);
    f.read(ZipArchive.open(real));
    return f;
  }

  private read(zip: ZipArchive): void {
    const pkls = [...zip.entries.keys()].filter((n) => /^[^/]+\/data\.pkl$/.test(n) || n === 'data.pkl');
    if (pkls.length !== 1) {
      const torchscript = [...zip.entries.keys()].some((n) => /(^|\/)constants\.pkl$/.test(n));
      throw new PytorchCheckpointError(
        this.path,
        torchscript
          ? 'a TorchScript archive (torch.jit.save), not a state dict saved with torch.save'
          : pkls.length ? `${pkls.length} data.pkl records (${pkls.join(', ')}); expected one` : 'zip archive without data.pkl: not a torch.save checkpoint',
      );
    }
    const pkl = pkls[0]!;
    const prefix = pkl.slice(0, -'data.pkl'.length);
    const order = zip.entries.get(`${prefix}byteorder`);
    if (order) {
      const o = zip.read(order.name).toString('latin1').trim();
      if (o !== 'little') throw new PytorchCheckpointError(this.path, `byte order "${o}" (only little-endian checkpoints are read)`);
    }
    this.root = unpickleTorch(zip.read(pkl), `${basename(this.path)} ${pkl}`);
    const views = new Map<string, TorchTensor>();
    flatten(stateDictOf(this.root), '', views, this.path);
    for (const [name, t] of views) this.tensors.set(name, this.rangeOf(name, t, zip.entries.get(`${prefix}data/${t.storage.key}`)));
  }

  /** The byte range of a contiguous view; non-contiguous views are refused (no hidden copies). */
  private rangeOf(name: string, t: TorchTensor, entry: ZipEntry | undefined): TensorInfo {
    const s = t.storage;
    if (!entry) throw new PytorchCheckpointError(this.path, `tensor ${name}: storage record data/${s.key} is missing from the archive`);
    if (entry.method !== 0) {
      throw new PytorchCheckpointError(this.path, `tensor ${name}: storage data/${s.key} is compressed (method ${entry.method}); tensors must be stored uncompressed as torch.save writes them`);
    }
    const el = DTYPE_BYTES[s.dtype];
    const storageBytes = s.numel * el;
    if (!Number.isSafeInteger(storageBytes) || storageBytes > entry.size) {
      throw new PytorchCheckpointError(this.path, `tensor ${name}: storage data/${s.key} declares ${s.numel} × ${s.dtype} elements but the record holds ${entry.size} bytes`);
    }
    const n = numel(t.shape);
    const length = n * el;
    if (!Number.isSafeInteger(length) || t.storageOffset + n > s.numel) {
      throw new PytorchCheckpointError(this.path, `tensor ${name}: shape [${t.shape}] at element offset ${t.storageOffset} runs past its storage (${s.numel} elements)`);
    }
    let want = 1;
    for (let d = t.shape.length - 1; d >= 0; d--) {
      if (t.shape[d]! !== 1 && n !== 0 && t.stride[d] !== want) {
        throw new PytorchCheckpointError(
          this.path,
          `tensor ${name}: a non-contiguous view (shape [${t.shape}], stride [${t.stride}]) is not supported; re-save it with tensor.contiguous()`,
        );
      }
      want *= t.shape[d]!;
    }
    return { name, dtype: s.dtype, shape: t.shape, file: this.realPath, offset: entry.offset + t.storageOffset * el, length };
  }
}
