// bench/decode: a random-weight Llama of ~1B shape (hidden 2048, 16 layers, GQA 32/8, ffn 5632,
// vocab 32000) in fp32 on CPU: prefill tokens/s (512 tokens) and decode tokens/s (128 tokens) at
// batch 1. Decode is also given as a ratio of the memory-bandwidth bound: weight bytes read per
// token ÷ memory bandwidth measured in the same run (a large copy, bytes read + written).
// Options: --layers N --prefill N --decode N
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeRandomSafetensors, benchDir, fmt, llamaLayerTensors } from '../common.mjs';
import { WeightStore } from '../../dist/io/checkpoint.js';
import { parseLlamaConfig } from '../../dist/models/llama.js';
import { DecoderLM } from '../../dist/generate/decoder-lm.js';
import { argmax } from '../../dist/generate/sampler.js';

const args = Object.fromEntries(process.argv.slice(2).map((a, i, all) => (a.startsWith('--') ? [a.slice(2), all[i + 1]] : null)).filter(Boolean));
const L = Number(args.layers ?? 16), PRE = Number(args.prefill ?? 512), DEC = Number(args.decode ?? 128);
const D = 2048, H = 32, KV = 8, hd = 64, F = 5632, V = 32000;
const config = {
  model_type: 'llama', hidden_size: D, num_hidden_layers: L, num_attention_heads: H, num_key_value_heads: KV, head_dim: hd,
  intermediate_size: F, vocab_size: V, rms_norm_eps: 1e-5, max_position_embeddings: 4096, rope_theta: 10000, tie_word_embeddings: false,
  bos_token_id: 1, eos_token_id: 2, hidden_act: 'silu',
};
const dir = benchDir(`llama-1b-${L}l`);
if (!existsSync(join(dir, 'model.safetensors'))) {
  console.error(`writing random weights to ${dir} ...`);
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config, null, 1));
  const t = { 'model.embed_tokens.weight': { shape: [V, D] }, 'model.norm.weight': { shape: [D], mean: 1, std: 0.1 }, 'lm_head.weight': { shape: [V, D] } };
  Object.assign(t, llamaLayerTensors({ layers: L, hidden: D, heads: H, kvHeads: KV, headDim: hd, ffn: F }));
  await writeRandomSafetensors(join(dir, 'model.safetensors'), t, 2);
}

// Memory bandwidth: copy 512 MiB a few times; bytes read + written per second.
function bandwidth() {
  const n = 512 * 2 ** 20;
  const a = Buffer.alloc(n, 1), b = Buffer.alloc(n);
  let best = Infinity;
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    a.copy(b);
    best = Math.min(best, (performance.now() - t0) / 1000);
  }
  return (2 * n) / best;
}
const bw = bandwidth();

const store = WeightStore.open(dir);
const cfg = parseLlamaConfig(config, store);
const t0 = performance.now();
const lm = await DecoderLM.create(store, cfg.spec, cfg.rope, { input: 'ids' });
const createS = (performance.now() - t0) / 1000;
const prompt = Array.from({ length: PRE }, (_, i) => 3 + ((i * 7919) % (V - 3)));

async function once() {
  const st = lm.newState(1, undefined, PRE + DEC + 8);
  const tp = performance.now();
  let out = await lm.forward(st, { ids: [prompt], seq: PRE });
  const prefill = (performance.now() - tp) / 1000;
  let tok = argmax(lm.lastLogits(out)[0]);
  const td = performance.now();
  for (let i = 0; i < DEC; i++) {
    out = await lm.forward(st, { ids: [[tok]], seq: 1 });
    tok = argmax(lm.lastLogits(out)[0]);
  }
  return { prefill, decode: (performance.now() - td) / 1000 };
}
await once(); // warm-up
const r = await once();
// Weights read per decoded token: every matrix of every layer, the final norm and lm_head.
const perLayer = (H * hd * D + 2 * KV * hd * D + D * H * hd + 3 * D * F) * 4;
const weightBytes = L * perLayer + V * D * 4;
const boundS = weightBytes / bw;
const decTps = DEC / r.decode;
console.log(`Llama ~1B shape (${L} layers, ${(weightBytes / 2 ** 30).toFixed(2)} GiB fp32 read per token), session create ${fmt(createS, 1)} s`);
console.log(`memory bandwidth (copy, read+write) ${fmt(bw / 1e9, 1)} GB/s → bound ${fmt(boundS * 1000, 1)} ms/token = ${fmt(1 / boundS, 2)} tokens/s`);
console.log(`prefill ${PRE} tokens: ${fmt(r.prefill, 2)} s = ${fmt(PRE / r.prefill, 1)} tokens/s`);
console.log(`decode ${DEC} tokens: ${fmt(r.decode, 2)} s = ${fmt(decTps, 2)} tokens/s = ${fmt((100 * decTps * boundS), 1)}% of the bandwidth bound`);
