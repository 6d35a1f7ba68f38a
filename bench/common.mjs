// Shared helpers for benchmarks: random-weight checkpoints written as real safetensors files,
// timing, a Python interpreter for side-by-side references, and ORT's MatMul peak.
import { createWriteStream, existsSync, mkdirSync } from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import '../dist/graph/ort-env.js'; // ONNX Runtime telemetry off before the runtime loads
import * as ort from 'onnxruntime-node';
import { makeRng as rng } from '../dist/generate/sampler.js';

/** Writes {name: {shape, std, mean}} as float32 (or bf16) safetensors, streaming (multi-GB is fine). */
export async function writeRandomSafetensors(path, tensors, seed = 0, dtype = 'F32') {
  const header = {};
  let off = 0;
  const esize = dtype === 'BF16' ? 2 : 4;
  for (const [name, t] of Object.entries(tensors)) {
    const n = t.shape.reduce((a, b) => a * b, 1);
    header[name] = { dtype, shape: t.shape, data_offsets: [off, off + esize * n] };
    off += esize * n;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const out = createWriteStream(path);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  out.write(len);
  out.write(json);
  const r = rng(seed);
  // bf16 (multi-GB checkpoints): chunks are windows into one pool of random values at random
  // offsets — statistically the same for speed and memory, and written at disk speed.
  let pool;
  const scaled = new Map();
  if (dtype === 'BF16') {
    pool = new Uint16Array((1 << 24) + (1 << 20));
    const f = new Float32Array(1), u = new Uint32Array(f.buffer);
    for (let i = 0; i < pool.length; i++) {
      f[0] = (2 * r() - 1) * Math.sqrt(3);
      pool[i] = (u[0] + 0x7fff + ((u[0] >>> 16) & 1)) >>> 16;
    }
  }
  for (const t of Object.values(tensors)) {
    const n = t.shape.reduce((a, b) => a * b, 1);
    const chunk = 1 << 20;
    for (let i = 0; i < n; i += chunk) {
      const m = Math.min(chunk, n - i);
      if (pool) {
        const key = `${t.std ?? 0.02},${t.mean ?? 0}`;
        let p = scaled.get(key);
        if (!p) {
          // The unit-variance pool at this tensor's std and mean (bf16 arithmetic in float32).
          p = new Uint16Array(pool.length);
          const f = new Float32Array(1), u = new Uint32Array(f.buffer), sd = t.std ?? 0.02, mean = t.mean ?? 0;
          for (let j = 0; j < pool.length; j++) {
            u[0] = pool[j] << 16;
            f[0] = mean + f[0] * sd;
            p[j] = (u[0] + 0x7fff + ((u[0] >>> 16) & 1)) >>> 16;
          }
          scaled.set(key, p);
        }
        const off = Math.floor(r() * (p.length - m));
        if (!out.write(Buffer.from(p.buffer, 2 * off, 2 * m))) await once(out, 'drain');
        continue;
      }
      const a = new Float32Array(m);
      const s = (t.std ?? 0.02) * Math.sqrt(3);
      for (let j = 0; j < m; j++) a[j] = (t.mean ?? 0) + (2 * r() - 1) * s;
      if (!out.write(Buffer.from(a.buffer))) await once(out, 'drain');
    }
  }
  out.end();
  await once(out, 'finish');
}

export function benchDir(name) {
  const d = join(process.env.TSVLM_BENCH_DIR ?? join(process.cwd(), '.cache', 'bench'), name);
  mkdirSync(d, { recursive: true });
  return d;
}

/** Median seconds of fn over `runs` runs after `warmup`. */
export async function timeIt(fn, { runs = 3, warmup = 1 } = {}) {
  for (let i = 0; i < warmup; i++) await fn();
  const ts = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    ts.push((performance.now() - t0) / 1000);
  }
  ts.sort((a, b) => a - b);
  return ts[Math.floor(ts.length / 2)];
}

/** A Python with torch for side-by-side references: $TSVLM_PYTHON, .venv, or none. */
export function findPython() {
  const cands = [process.env.TSVLM_PYTHON, join(process.cwd(), '.venv/bin/python'), '/work/venv/bin/python'].filter(Boolean);
  for (const p of cands) {
    if (!existsSync(p)) continue;
    try {
      execFileSync(p, ['-c', 'import torch, transformers, onnx'], { stdio: 'ignore' });
      return p;
    } catch {}
  }
  return undefined;
}

/** One large fp32 MatMul [m×k]·[k×n] through ORT: this machine's GEMM peak in GFLOP/s. */
export async function matmulPeak(m = 512, k = 4096, n = 4096) {
  const { Graph } = await import('../dist/graph/builder.js');
  const g = new Graph('matmul_peak');
  const a = g.input('a', 'float32', [m, k]);
  const w = g.constant('float32', [k, n], new Float32Array(k * n).map(() => Math.random() - 0.5));
  g.output(g.op('MatMul', [a, w]), 'y');
  const s = await ort.InferenceSession.create(g.toBytes(), { executionProviders: ['cpu'] });
  const feeds = { a: new ort.Tensor('float32', new Float32Array(m * k).map(() => Math.random()), [m, k]) };
  const t = await timeIt(() => s.run(feeds), { runs: 5, warmup: 2 });
  await s.release();
  return (2 * m * k * n) / t / 1e9;
}

/**
 * Random real-shape SEED v2 tokenizer weights (EVA ViT-g 1408 × vitLayers, Q-Former, codebook and
 * decoder), written once by the ORIGINAL SEED modules (bench/seed-tokenizer/torch_ref.py write):
 * the folder (model.safetensors + config.json) in the bench cache.
 */
export function seedV2Weights(vitLayers = 39, python = findPython()) {
  const dir = benchDir(`seed-tokenizer-v2-${vitLayers}l`);
  if (!existsSync(join(dir, 'model.safetensors'))) {
    if (!python) throw new Error('random SEED v2 weights are written by PyTorch: set TSVLM_PYTHON to a Python with torch');
    console.error(`writing random SEED v2 weights (ViT ${vitLayers} layers) from the reference modules to ${dir} ...`);
    const script = new URL('./seed-tokenizer/torch_ref.py', import.meta.url).pathname;
    execFileSync(python, [script, 'write', dir, '--vit-layers', String(vitLayers)], { stdio: ['ignore', 'inherit', 'ignore'] });
  }
  return dir;
}

export function fmt(x, d = 2) {
  return Number(x).toFixed(d);
}

/** Tensor specs of a Llama/Mistral decoder layer stack (HF names), for random checkpoints. */
export function llamaLayerTensors({ layers, hidden: D, heads: H, kvHeads: KV, headDim: hd, ffn: F }) {
  const t = {};
  for (let i = 0; i < layers; i++) {
    const p = `model.layers.${i}`;
    t[`${p}.input_layernorm.weight`] = { shape: [D], mean: 1, std: 0.1 };
    t[`${p}.post_attention_layernorm.weight`] = { shape: [D], mean: 1, std: 0.1 };
    t[`${p}.self_attn.q_proj.weight`] = { shape: [H * hd, D] };
    t[`${p}.self_attn.k_proj.weight`] = { shape: [KV * hd, D] };
    t[`${p}.self_attn.v_proj.weight`] = { shape: [KV * hd, D] };
    t[`${p}.self_attn.o_proj.weight`] = { shape: [D, H * hd] };
    t[`${p}.mlp.gate_proj.weight`] = { shape: [F, D] };
    t[`${p}.mlp.up_proj.weight`] = { shape: [F, D] };
    t[`${p}.mlp.down_proj.weight`] = { shape: [D, F] };
  }
  return t;
}
