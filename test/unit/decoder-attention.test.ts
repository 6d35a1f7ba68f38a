// Which attention graph a decoder gets: 'gqa' by default on CPU, 'ops' when asked, and 'ops' where
// ONNX Runtime's GroupQueryAttention refuses the shape (head_dim not a multiple of 8) — with the
// same logits either way.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WeightStore } from '../../src/io/checkpoint.js';
import { writeSafetensors, type TensorToWrite } from '../../src/io/safetensors.js';
import { parseLlamaConfig } from '../../src/models/llama.js';
import { DecoderLM } from '../../src/generate/decoder-lm.js';
import { buildDecoderGraph } from '../../src/nn/decoder.js';
import { makeRng } from '../../src/generate/sampler.js';

let root: string;
beforeAll(() => (root = mkdtempSync(join(tmpdir(), 'tsvlm-attn-'))));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A random 2-layer Llama with the given head_dim (4 heads, 2 KV heads). */
function tinyLlama(headDim: number): string {
  const dir = mkdtempSync(join(root, `hd${headDim}-`));
  const D = 32, H = 4, KV = 2, F = 48, V = 64;
  const cfg = { model_type: 'llama', hidden_size: D, num_hidden_layers: 2, num_attention_heads: H, num_key_value_heads: KV, head_dim: headDim, intermediate_size: F, vocab_size: V, rms_norm_eps: 1e-5, max_position_embeddings: 128, rope_theta: 10000, hidden_act: 'silu', tie_word_embeddings: false };
  writeFileSync(join(dir, 'config.json'), JSON.stringify(cfg));
  const r = makeRng(headDim);
  const t = (shape: number[], scale = 0.2): TensorToWrite => ({ dtype: 'F32', shape, data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => (2 * r() - 1) * scale) });
  const ws: Record<string, TensorToWrite> = { 'model.embed_tokens.weight': t([V, D], 1), 'model.norm.weight': t([D], 1), 'lm_head.weight': t([V, D]) };
  for (let i = 0; i < 2; i++) {
    const p = `model.layers.${i}`;
    Object.assign(ws, {
      [`${p}.input_layernorm.weight`]: t([D], 1), [`${p}.post_attention_layernorm.weight`]: t([D], 1),
      [`${p}.self_attn.q_proj.weight`]: t([H * headDim, D]), [`${p}.self_attn.k_proj.weight`]: t([KV * headDim, D]),
      [`${p}.self_attn.v_proj.weight`]: t([KV * headDim, D]), [`${p}.self_attn.o_proj.weight`]: t([D, H * headDim]),
      [`${p}.mlp.gate_proj.weight`]: t([F, D]), [`${p}.mlp.up_proj.weight`]: t([F, D]), [`${p}.mlp.down_proj.weight`]: t([D, F]),
    });
  }
  writeSafetensors(join(dir, 'model.safetensors'), ws);
  return dir;
}

async function lastLogits(dir: string, attention?: 'ops' | 'gqa', kvCache?: 'fp32' | 'fp16') {
  const store = WeightStore.open(dir);
  const cfg = parseLlamaConfig(JSON.parse((await import('node:fs')).readFileSync(join(dir, 'config.json'), 'utf8')), store);
  const lm = await DecoderLM.create(store, cfg.spec, cfg.rope, { input: 'ids', attention, kvCache });
  // Two rows, left padding, a two-chunk prompt (row by row) and two single steps: every cache path.
  const st = lm.newState(2, [0, 2], 2);
  let o = await lm.forward(st, { ids: [[1, 5, 9], [0, 0, 4]], seq: 3 });
  o = await lm.forward(st, { ids: [[13, 17], [8, 12]], seq: 2 });
  o = await lm.forward(st, { ids: [[21], [16]], seq: 1 });
  o = await lm.forward(st, { ids: [[25], [20]], seq: 1 });
  const rows = lm.lastLogits(o);
  const logits = new Float32Array(rows.length * rows[0]!.length);
  rows.forEach((r, b) => logits.set(r, b * r.length));
  const out = { kind: lm.attention, cache: st.cache.constructor.name, bytes: st.cache.bytes, logits };
  await lm.release();
  return out;
}

describe('decoder attention kind', () => {
  it("CPU default is 'gqa', 'ops' on request; both give the same logits", async () => {
    const dir = tinyLlama(8);
    const gqa = await lastLogits(dir);
    const ops = await lastLogits(dir, 'ops');
    expect([gqa.kind, ops.kind]).toEqual(['gqa', 'ops']);
    const worst = gqa.logits.reduce((w, v, i) => Math.max(w, Math.abs(v - ops.logits[i]!)), 0);
    expect(worst).toBeLessThan(1e-5);
  });

  it("kvCache 'fp16' (gqa): half the cache bytes; logits within 2e-3 of the fp32 cache", async () => {
    const dir = tinyLlama(8);
    const f32 = await lastLogits(dir, 'gqa');
    const f16 = await lastLogits(dir, 'gqa', 'fp16');
    expect(f16.cache).toBe('HeadMajorKvCache');
    expect(f16.bytes * 2).toBe(f32.bytes);
    const worst = f16.logits.reduce((w, v, i) => Math.max(w, Math.abs(v - f32.logits[i]!)), 0);
    const max = f32.logits.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    console.log(`fp16 KV cache vs fp32: worst |Δlogit| ${worst.toExponential(2)} (max |logit| ${max.toFixed(2)})`);
    expect(worst).toBeGreaterThan(0); // really fp16
    expect(worst).toBeLessThan(2e-3);
  });

  it("head_dim 10: 'ops' even when 'gqa' is asked (ORT's kernel needs a multiple of 8); the graph builder says why", async () => {
    const dir = tinyLlama(10);
    expect((await lastLogits(dir, 'gqa')).kind).toBe('ops');
    const store = WeightStore.open(dir);
    const cfg = parseLlamaConfig(JSON.parse((await import('node:fs')).readFileSync(join(dir, 'config.json'), 'utf8')), store);
    expect(() => buildDecoderGraph(store, cfg.spec, { input: 'ids', attention: 'gqa' })).toThrow(/head_dim 10 is not a multiple of 8/);
  });
});
