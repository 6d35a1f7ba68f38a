// Weight quantization: the TypeScript quantizer against an independent NumPy implementation of the
// same block scheme (test/data/quant/make.py), the MatMulNBits / GatherBlockQuantized graphs in ONNX
// Runtime against the dequantized matrices, and the on-disk cache (reuse, a writer killed midway,
// a damaged file).
import { describe, it, expect } from 'vitest';
import { existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawn } from 'node:child_process';
import { SafetensorsFile, toFloat32, readRange, writeSafetensors, bytesToTyped } from '../../src/io/safetensors.js';
import { quantizeRows, dequantizeRows, quantLayout, f32ToF16 } from '../../src/quant/blockwise.js';
import { openCacheFile } from '../../src/quant/cache.js';
import { defaultBlockSize, defaultDType, weightSettings } from '../../src/quant/plan.js';
import { WeightStore } from '../../src/io/checkpoint.js';
import { Graph } from '../../src/graph/builder.js';
import { GraphWeights } from '../../src/nn/weights.js';
import { createSession, f32Tensor, i64Tensor } from '../../src/graph/session.js';
import type { Progress } from '../../src/api.js';
import { makeRng } from '../../src/generate/sampler.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '../..');
const ref = SafetensorsFile.open(join(here, '../data/quant/reference.safetensors'));
const f32 = (k: string) => toFloat32(readRange(ref.tensors.get(k)!), ref.tensors.get(k)!.dtype);
const u8 = (k: string) => new Uint8Array(readRange(ref.tensors.get(k)!));
const NAMES = ['q_proj', 'down_proj', 'odd_bf16', 'wide_bf16'];

describe('blockwise quantizer = NumPy reference (block 32)', () => {
  for (const name of NAMES) {
    for (const bits of [4, 8] as const) {
      it(`${name} q${bits}`, () => {
        const [n, k] = ref.tensors.get(`${name}.input`)!.shape as [number, number];
        const L = quantLayout(bits, 32, n, k);
        const q = quantizeRows(f32(`${name}.input`), n, L);
        expect(Buffer.compare(Buffer.from(q.codes), Buffer.from(u8(`${name}.q${bits}.codes`)))).toBe(0);
        expect(Array.from(q.scales)).toEqual(Array.from(f32(`${name}.q${bits}.scales`)));
        if (bits === 4) expect(Array.from(q.zeroPoints)).toEqual(Array.from(u8(`${name}.q4.zero_points`)));
        const deq = dequantizeRows(q, n, L);
        const want = f32(`${name}.q${bits}.dequantized`);
        let worst = 0;
        for (let i = 0; i < deq.length; i++) worst = Math.max(worst, Math.abs(deq[i]! - want[i]!));
        expect(worst).toBe(0);
      });
    }
  }

  it('f32ToF16 rounds to nearest even like NumPy', () => {
    expect(f32ToF16(1)).toBe(0x3c00);
    expect(f32ToF16(-2)).toBe(0xc000);
    expect(f32ToF16(65504)).toBe(0x7bff);
    expect(f32ToF16(1e6)).toBe(0x7c00);
    expect(f32ToF16(1 + 2 ** -11)).toBe(0x3c00); // tie → even
    expect(f32ToF16(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie → even (up)
    expect(f32ToF16(2 ** -24)).toBe(1); // smallest subnormal
    expect(f32ToF16(0)).toBe(0);
  });
});

/** A small checkpoint folder of Linear weights and tables (bf16 and f32). */
function writeCheckpoint(dir: string, extra: Record<string, { shape: number[] }> = {}) {
  const t = (k: string) => ({ dtype: ref.tensors.get(k)!.dtype, shape: ref.tensors.get(k)!.shape, data: bytesToTyped(readRange(ref.tensors.get(k)!), ref.tensors.get(k)!.dtype) });
  const rnd = makeRng(1);
  const tensors: Record<string, any> = {
    'lin.weight': t('down_proj.input'), // [64, 160] f32
    'lin.bias': { dtype: 'F32', shape: [64], data: Float32Array.from({ length: 64 }, () => rnd() - 0.5) },
    'odd.weight': t('odd_bf16.input'), // [7, 50] bf16: a partial block
    'emb.weight': t('wide_bf16.input'), // [3, 96] bf16 → GatherBlockQuantized
    'emb50.weight': t('odd_bf16.input'), // [7, 50] → float16 table (not whole blocks)
  };
  for (const [k, v] of Object.entries(extra)) {
    const n = v.shape.reduce((a, b) => a * b, 1);
    tensors[k] = { dtype: 'F32', shape: v.shape, data: Float32Array.from({ length: n }, () => rnd() - 0.5) };
  }
  writeSafetensors(join(dir, 'model.safetensors'), tensors);
}

function testGraph(store: WeightStore) {
  const g = new Graph('qtest');
  const w = new GraphWeights(g, store);
  g.output(w.linear(g.input('x', 'float32', ['n', 160]), 'lin.weight', { bias: 'lin.bias' }), 'y');
  g.output(w.linear(g.input('x50', 'float32', ['n', 50]), 'odd.weight'), 'y50');
  const ids = g.input('ids', 'int64', ['m']);
  g.output(w.gather('emb.weight', ids), 'e');
  g.output(w.gather('emb50.weight', ids), 'e50');
  return g;
}

const deqOf = (name: string, bits: 4 | 8) => f32(`${name}.q${bits}.dequantized`);

describe('defaults by checkpoint size', () => {
  it('fp32 ≤ 1.5 G parameters, q8 ≤ 3 G, q4 above; blocks of 32 ≤ 3 G, 64 above; explicit options win', () => {
    expect([1e9, 2e9, 7.2e9].map(defaultDType)).toEqual(['fp32', 'q8', 'q4']);
    expect([1e9, 3e9, 7.2e9, 8e9].map(defaultBlockSize)).toEqual([32, 32, 64, 64]);
    expect(weightSettings({}, 7.2e9)).toMatchObject({ dtype: 'q4', blockSize: 64, accuracyLevel: 4 });
    expect(weightSettings({ dtype: 'q4' }, 1.1e9)).toMatchObject({ dtype: 'q4', blockSize: 32 });
    expect(weightSettings({ dtype: 'q8', quantBlockSize: 32 }, 7.2e9)).toMatchObject({ dtype: 'q8', blockSize: 32 });
    expect(() => weightSettings({ quantBlockSize: 48 as 32 })).toThrow(/quantBlockSize must be 32, 64 or 128 \(got 48\)/);
  });
});

describe('quantized graphs in ONNX Runtime (accuracy_level 0 = exact dequantized math)', () => {
  for (const dtype of ['q4', 'q8', 'fp16'] as const) {
    it(dtype, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'tsvlm-q-'));
      writeCheckpoint(dir);
      const store = WeightStore.open(dir);
      store.weights = { dtype, accuracyLevel: 0, cacheDir: join(dir, 'cache') };
      const s = await createSession(testGraph(store));
      const x = Float32Array.from({ length: 2 * 160 }, (_, i) => Math.sin(i));
      const x50 = Float32Array.from({ length: 50 }, (_, i) => Math.cos(i));
      const ids = [2, 0, 1];
      const o = await s.run({ x: f32Tensor(x, [2, 160]), x50: f32Tensor(x50, [1, 50]), ids: i64Tensor(ids, [3]) });
      const bits = dtype === 'q4' ? 4 : 8;
      const W = dtype === 'fp16' ? f16Round(f32('down_proj.input')) : deqOf('down_proj', bits);
      const W50 = dtype === 'fp16' ? f16Round(f32('odd_bf16.input')) : deqOf('odd_bf16', bits);
      const E = dtype === 'fp16' ? f16Round(f32('wide_bf16.input')) : deqOf('wide_bf16', bits);
      const bias = store.readFloat32('lin.bias');
      const y = o.y!.data as Float32Array;
      for (let r = 0; r < 2; r++) for (let nn = 0; nn < 64; nn++) {
        let acc = bias[nn]!;
        for (let kk = 0; kk < 160; kk++) acc += x[r * 160 + kk]! * W[nn * 160 + kk]!;
        expect(y[r * 64 + nn]).toBeCloseTo(acc, 4);
      }
      const y50 = o.y50!.data as Float32Array;
      for (let nn = 0; nn < 7; nn++) {
        let acc = 0;
        for (let kk = 0; kk < 50; kk++) acc += x50[kk]! * W50[nn * 50 + kk]!;
        expect(y50[nn]).toBeCloseTo(acc, 4);
      }
      const e = o.e!.data as Float32Array;
      ids.forEach((id, i) => expect(Array.from(e.subarray(i * 96, (i + 1) * 96))).toEqual(Array.from(E.subarray(id * 96, (id + 1) * 96))));
      // Tables whose rows are not whole blocks stay float16.
      const e50 = o.e50!.data as Float32Array;
      const T50 = f16Round(f32('odd_bf16.input'));
      ids.forEach((id, i) => expect(Array.from(e50.subarray(i * 50, (i + 1) * 50))).toEqual(Array.from(T50.subarray(id * 50, (id + 1) * 50))));
    });
  }
});

function f16Round(x: Float32Array): Float32Array {
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const h = f32ToF16(x[i]!);
    const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, m = h & 0x3ff;
    out[i] = e === 0 ? s * m * 2 ** -24 : s * (1 + m / 1024) * 2 ** (e - 15);
  }
  return out;
}

describe('weight cache', () => {
  const messages = (log: Progress[]) => log.map((p) => p.message ?? '');
  const converts = (log: Progress[]) => messages(log).filter((m) => m.startsWith('converting')).length;
  const cached = (dir: string) => readdirSync(dir).filter((f) => f.endsWith('.safetensors'));

  it('a second start loads from the cache without converting again; a changed checkpoint converts again', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsvlm-q-'));
    writeCheckpoint(dir);
    const cacheDir = join(dir, 'cache');
    const load = async () => {
      const log: Progress[] = [];
      const store = WeightStore.open(dir);
      store.weights = { dtype: 'q4', cacheDir, onProgress: (p) => log.push(p) };
      await createSession(testGraph(store));
      return log;
    };
    expect(converts(await load())).toBe(1);
    const [file] = cached(cacheDir);
    const mtime = statSync(join(cacheDir, file!)).mtimeMs;
    const second = await load();
    expect(converts(second)).toBe(0);
    expect(messages(second).some((m) => m.includes('from cache'))).toBe(true);
    expect(statSync(join(cacheDir, file!)).mtimeMs).toBe(mtime);
    // New weights (same names and shapes): the identity (size, mtime, header hash) changes.
    writeCheckpoint(dir, { 'unused.weight': { shape: [2, 2] } });
    expect(converts(await load())).toBe(1);
  });

  it('a writer killed midway leaves no usable cache; the next start converts again', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsvlm-q-'));
    const t: Record<string, { shape: number[] }> = {};
    for (let i = 0; i < 4; i++) t[`l${i}.weight`] = { shape: [256, 256] };
    writeCheckpoint(dir, t);
    const cacheDir = join(dir, 'cache');
    const child = spawn(process.execPath, [join(root, 'node_modules/vite-node/vite-node.mjs'), join(here, '../helpers/quant-child.ts'), dir, cacheDir], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    child.stderr.on('data', (d) => (err += d));
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d) => {
        out += d;
        if (out.includes('MIDWAY')) resolve();
      });
      child.on('exit', () => reject(new Error(`child exited before midway: ${out} ${err}`)));
    });
    const exited = new Promise((r) => child.on('exit', r));
    child.kill('SIGKILL');
    await exited;
    const left = readdirSync(cacheDir);
    expect(left.filter((f) => f.endsWith('.safetensors'))).toEqual([]);
    const tmp = left.filter((f) => f.includes('.tmp-'));
    expect(tmp.length).toBe(1);
    // Even renamed into place by hand, a partial file is refused (checksum placeholder / mismatch).
    const final = join(cacheDir, tmp[0]!.replace(/\.tmp-.*$/, ''));
    renameSync(join(cacheDir, tmp[0]!), final);
    expect(openCacheFile(final, 'any-key')).toBeUndefined();
    expect(existsSync(final)).toBe(false);

    const log: Progress[] = [];
    const store = WeightStore.open(dir);
    store.weights = { dtype: 'q8', cacheDir, onProgress: (p) => log.push(p) };
    const g = new Graph('killed');
    const w = new GraphWeights(g, store);
    let y = g.input('x', 'float32', ['n', 256]);
    for (let i = 0; i < 4; i++) y = w.linear(y, `l${i}.weight`);
    g.output(y, 'y');
    await g.prepare();
    expect(converts(log)).toBe(1);
    expect(cached(cacheDir).length).toBe(1);

    // A damaged byte in the data section is caught on open: the file is deleted and rebuilt.
    const path = join(cacheDir, cached(cacheDir)[0]!);
    const bytes = readFileSync(path);
    bytes[bytes.length - 10] ^= 0xff;
    writeFileSync(path, bytes);
    const log2: Progress[] = [];
    store.weights = { dtype: 'q8', cacheDir, onProgress: (p) => log2.push(p) };
    const g2 = new Graph('killed');
    const w2 = new GraphWeights(g2, store);
    let y2 = g2.input('x', 'float32', ['n', 256]);
    for (let i = 0; i < 4; i++) y2 = w2.linear(y2, `l${i}.weight`);
    g2.output(y2, 'y');
    await createSession(g2);
    expect(converts(log2)).toBe(1);
  });
});
