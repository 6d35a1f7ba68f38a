// bench/decode: a random-weight Llama (~1B shape: hidden 2048, 16 layers, GQA 32/8, ffn 5632,
// vocab 32000; or --shape 7b: Mistral-7B dims) at batch 1 on CPU — prefill PRE tokens, then DEC
// greedy steps — for tsvlm at each --dtype and, side by side, llama.cpp (node-llama-cpp, prebuilt
// CPU binary) on the same weights converted to GGUF (bench/decode/to_gguf.py: F32, Q8_0, Q4_0).
// Each measurement is its own process (load time and peak RSS per engine); engines alternate
// within each round; reported: medians over rounds of the median per-step decode time, prefill,
// load (session creation; quantized weights already in the cache), peak RSS, and ratios.
// The llama.cpp peer is installed apart from tsvlm (its own package.json here, prebuilt CPU binary):
//   NODE_LLAMA_CPP_SKIP_DOWNLOAD=true npm install --prefix bench/decode
// Run it alone: npm run bench:decode -- --dtype q4,q8
// Options: --dtype fp32,fp16,q8,q4  --rounds 3  --prefill 512 --decode 128  --layers N  --shape 1b|7b
//          --peer llamacpp|none  --threads 2  --accuracy-level 4|0  --block 32 (tsvlm quantization block)
//          --attention ops,gqa (tsvlm decoder attention kinds, each measured in every round, interleaved; default gqa)
//          --kv-cache fp32|fp16 (gqa's cache element type)
import { existsSync, writeFileSync, statSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFileSync, spawnSync } from 'node:child_process';
import { writeRandomSafetensors, benchDir, fmt, llamaLayerTensors } from '../common.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const argv = process.argv.slice(2);
const args = Object.fromEntries(argv.map((a, i, all) => (a.startsWith('--') ? [a.slice(2), all[i + 1]] : null)).filter(Boolean));
const SHAPES = {
  '1b': { D: 2048, H: 32, KV: 8, hd: 64, F: 5632, V: 32000, L: 16 },
  '7b': { D: 4096, H: 32, KV: 8, hd: 128, F: 14336, V: 32000, L: 32 },
};
const shapeName = args.shape ?? '1b';
const S = SHAPES[shapeName];
if (!S) throw new Error(`--shape must be ${Object.keys(SHAPES).join(' or ')}`);
const L = Number(args.layers ?? S.L), PRE = Number(args.prefill ?? 512), DEC = Number(args.decode ?? 128);
const THREADS = Number(args.threads ?? 2), ACC = Number(args['accuracy-level'] ?? 4);
const { D, H, KV, hd, F, V } = S;
const GGUF_TYPE = { fp32: 'F32', fp16: 'F16', q8: 'Q8_0', q4: 'Q4_0' };
// 7B random weights are written in bf16 (as real checkpoints are; half the disk).
const srcDtype = shapeName === '7b' ? 'BF16' : 'F32';
const dir = benchDir(`llama-${shapeName}-${L}l${srcDtype === 'BF16' ? '-bf16' : ''}`);
const prompt = Array.from({ length: PRE }, (_, i) => 3 + ((i * 7919) % (V - 3)));
const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];

// ---- worker processes: one engine, one dtype, one measurement; prints a JSON line ----
if (args.worker) {
  const warm = prompt.slice(0, 16);
  let out;
  if (args.worker === 'tsvlm') {
    const { WeightStore } = await import('../../dist/io/checkpoint.js');
    const { parseLlamaConfig } = await import('../../dist/models/llama.js');
    const { DecoderLM } = await import('../../dist/generate/decoder-lm.js');
    const { argmax } = await import('../../dist/generate/sampler.js');
    const { weightSettings } = await import('../../dist/quant/plan.js');
    const config = JSON.parse((await import('node:fs')).readFileSync(join(dir, 'config.json'), 'utf8'));
    const t0 = performance.now();
    const store = WeightStore.open(dir);
    // 'from cache' is reported once the cache file is verified: the rest of the load is graph + session.
    let cacheS = 0;
    const onProgress = (p) => {
      if (p.message?.includes('from cache')) cacheS = (performance.now() - t0) / 1000;
      if (args.prepare) process.stderr.write(`\rtsvlm ${args.worker_dtype}: ${p.stage} ${Math.floor((100 * p.done) / p.total)}%   `);
    };
    store.weights = weightSettings({ dtype: args.worker_dtype, accuracyLevel: ACC, quantBlockSize: Number(args.block ?? 32), cacheDir: join(dir, 'tsvlm-cache'), onProgress });
    const cfg = parseLlamaConfig(config, store);
    const lm = await DecoderLM.create(store, cfg.spec, cfg.rope, { input: 'ids', intraOpThreads: THREADS, attention: args.worker_attention ?? 'gqa', kvCache: args['kv-cache'] ?? 'fp32' });
    const loadS = (performance.now() - t0) / 1000;
    if (args.prepare) {
      console.log(JSON.stringify({ loadS }));
      process.exit(0);
    }
    const run = async (ids, steps, timed) => {
      const st = lm.newState(1, undefined, ids.length + steps + 8);
      const tp = performance.now();
      let o = await lm.forward(st, { ids: [ids], seq: ids.length });
      let tok = argmax(lm.lastLogits(o)[0]);
      const prefillS = (performance.now() - tp) / 1000;
      const gen = [tok], stepMs = [];
      for (let i = 0; i < steps; i++) {
        const t = performance.now();
        o = await lm.forward(st, { ids: [[tok]], seq: 1 });
        tok = argmax(lm.lastLogits(o)[0]);
        stepMs.push(performance.now() - t);
        gen.push(tok);
      }
      return { prefillS, stepMs, ids: gen };
    };
    await run(warm, 4);
    out = { loadS, cacheS, ...(await run(prompt, DEC)) };
  } else {
    let getLlama;
    try {
      ({ getLlama } = await import('node-llama-cpp'));
    } catch {
      throw new Error('the llama.cpp peer is not installed: NODE_LLAMA_CPP_SKIP_DOWNLOAD=true npm install --prefix bench/decode (or --peer none)');
    }
    const t0 = performance.now();
    const llama = await getLlama({ gpu: false, build: 'never', skipDownload: true, logLevel: 'error' });
    const model = await llama.loadModel({ modelPath: args.gguf, gpuLayers: 0 });
    const ctx = await model.createContext({ contextSize: PRE + DEC + 32, batchSize: PRE, threads: THREADS, sequences: 1 });
    const seq = ctx.getSequence();
    const loadS = (performance.now() - t0) / 1000;
    const run = async (ids, steps) => {
      await seq.clearHistory();
      const tp = performance.now();
      const it = seq.evaluate(ids, { temperature: 0 });
      let r = await it.next();
      const prefillS = (performance.now() - tp) / 1000;
      const gen = [r.value], stepMs = [];
      for (let i = 0; i < steps; i++) {
        const t = performance.now();
        r = await it.next();
        stepMs.push(performance.now() - t);
        gen.push(r.value);
      }
      await it.return();
      return { prefillS, stepMs, ids: gen };
    };
    await run(warm, 4);
    out = { loadS, ...(await run(prompt, DEC)) };
  }
  out.maxRssMB = process.resourceUsage().maxRSS / 1024;
  console.log(JSON.stringify(out));
  process.exit(0);
}

// ---- orchestrator ----
const dtypes = (args.dtype ?? 'fp32,q8,q4').split(',');
for (const d of dtypes) if (!GGUF_TYPE[d]) throw new Error(`--dtype takes fp32, fp16, q8, q4 (got ${d})`);
const peer = (args.peer ?? 'llamacpp') !== 'none';
const attentions = (args.attention ?? 'gqa').split(',');
for (const a of attentions) if (!['ops', 'gqa'].includes(a)) throw new Error(`--attention takes ops, gqa (got ${a})`);
// Engine label of a tsvlm measurement: 'tsvlm' for the default graph (gqa on CPU), 'tsvlm/ops' etc. when asked.
const tsvlmEngines = attentions.map((a) => (args.attention === undefined ? ['tsvlm', a] : [`tsvlm/${a}`, a]));
const ROUNDS = Number(args.rounds ?? 3);

if (!existsSync(join(dir, 'model.safetensors'))) {
  console.error(`writing random ${srcDtype} weights to ${dir} ...`);
  const config = {
    model_type: 'llama', hidden_size: D, num_hidden_layers: L, num_attention_heads: H, num_key_value_heads: KV, head_dim: hd,
    intermediate_size: F, vocab_size: V, rms_norm_eps: 1e-5, max_position_embeddings: 4096, rope_theta: 10000, tie_word_embeddings: false,
    bos_token_id: 1, eos_token_id: 2, hidden_act: 'silu',
  };
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config, null, 1));
  const t = { 'model.embed_tokens.weight': { shape: [V, D] }, 'model.norm.weight': { shape: [D], mean: 1, std: 0.1 }, 'lm_head.weight': { shape: [V, D] } };
  Object.assign(t, llamaLayerTensors({ layers: L, hidden: D, heads: H, kvHeads: KV, headDim: hd, ffn: F }));
  await writeRandomSafetensors(join(dir, 'model.safetensors'), t, 2, srcDtype);
}
const python = process.env.TSVLM_PYTHON ?? '/work/venv/bin/python';
const ggufPath = (d) => join(dir, `model-${GGUF_TYPE[d]}.gguf`);
if (peer) {
  for (const d of dtypes) {
    if (existsSync(ggufPath(d))) continue;
    console.error(`converting to GGUF ${GGUF_TYPE[d]} ...`);
    execFileSync(python, [join(here, 'to_gguf.py'), dir, ggufPath(d) + '.tmp', GGUF_TYPE[d]], { stdio: 'inherit' });
    execFileSync('mv', [ggufPath(d) + '.tmp', ggufPath(d)]);
  }
}

function worker(extra) {
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), ...argv, ...extra], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`worker ${extra.join(' ')} failed (${r.status})`);
  return JSON.parse(r.stdout.trim().split('\n').pop());
}
// Quantize into the cache first: timed loads read the cache.
for (const d of dtypes) {
  const p = worker(['--worker', 'tsvlm', '--worker_dtype', d, '--prepare', '1']);
  console.error(`\ntsvlm ${d}: ready (first load incl. conversion ${fmt(p.loadS, 1)} s)`);
}
const results = {};
for (let r = 0; r < ROUNDS; r++) {
  for (const d of dtypes) {
    const jobs = tsvlmEngines.map(([e, a]) => [e, d, ['--worker', 'tsvlm', '--worker_dtype', d, '--worker_attention', a]]);
    if (peer) jobs.push(['llama.cpp', d, ['--worker', 'llamacpp', '--gguf', ggufPath(d)]]);
    // Alternate the order each round (a rotation, so every engine takes each place in turn).
    for (let k = 0; k < r % jobs.length; k++) jobs.push(jobs.shift());
    for (const [engine, dt, extra] of jobs) {
      const o = worker(extra);
      (results[`${engine} ${dt}`] ??= []).push(o);
      console.error(`round ${r + 1} ${engine} ${dt}: load ${fmt(o.loadS, 2)} s${o.cacheS ? ` (cache verified at ${fmt(o.cacheS, 2)} s)` : ''}, prefill ${fmt(o.prefillS, 2)} s, median step ${fmt(median(o.stepMs), 1)} ms, peak RSS ${fmt(o.maxRssMB / 1024, 2)} GiB`);
    }
  }
}

writeFileSync(join(dir, `results-${Date.now()}.json`), JSON.stringify({ argv, results }));
// Under contention the fastest tenth of steps shows what an engine does when it gets the cores.
const p10 = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 10)];
const summary = (k) => {
  const rs = results[k];
  if (!rs) return undefined;
  const step = median(rs.map((o) => median(o.stepMs)));
  return { fast: median(rs.map((o) => p10(o.stepMs))), step, tps: 1000 / step, prefill: median(rs.map((o) => o.prefillS)), whole: median(rs.map((o) => o.stepMs.reduce((a, b) => a + b, 0) / 1000)), load: median(rs.map((o) => o.loadS)), rss: Math.max(...rs.map((o) => o.maxRssMB)) / 1024, ids: rs[0].ids };
};
console.log(`\nLlama ${shapeName} shape (${L} layers, D ${D}, ffn ${F}, vocab ${V}), batch 1, ${THREADS} threads, prefill ${PRE}, decode ${DEC}, ${ROUNDS} interleaved rounds (medians)`);
console.log('engine        dtype  load s  prefill tok/s  decode tok/s (median step)  whole decode s  peak RSS GiB  p10 step ms');
for (const d of dtypes) {
  for (const e of [...tsvlmEngines.map(([e]) => e), 'llama.cpp']) {
    const s = summary(`${e} ${d}`);
    if (!s) continue;
    console.log(`${e.padEnd(13)} ${(e === 'llama.cpp' ? GGUF_TYPE[d] : d).padEnd(6)} ${fmt(s.load, 2).padStart(6)}  ${fmt(PRE / s.prefill, 1).padStart(13)}  ${fmt(s.tps, 2).padStart(12)} (${fmt(s.step, 1)} ms)  ${fmt(s.whole, 2).padStart(14)}  ${fmt(s.rss, 2).padStart(12)}  ${fmt(s.fast, 1).padStart(11)}`);
  }
  const b = summary(`llama.cpp ${d}`);
  for (const [e] of tsvlmEngines) {
    const a = summary(`${e} ${d}`);
    if (!a || !b) continue;
    const same = a.ids.findIndex((t, i) => t !== b.ids[i]);
    console.log(`  ratio ${e} ${d} / llama.cpp ${GGUF_TYPE[d]}: decode ${fmt(a.tps / b.tps, 2)}× (p10 steps ${fmt(b.fast / a.fast, 2)}×), prefill ${fmt(b.prefill / a.prefill, 2)}×, peak RSS ${fmt(a.rss / b.rss, 2)}×; greedy ids equal for ${same < 0 ? a.ids.length : same}/${a.ids.length} tokens`);
  }
  const ops = summary(`tsvlm/ops ${d}`), gqa = summary(`tsvlm/gqa ${d}`);
  if (ops && gqa) {
    const same = gqa.ids.findIndex((t, i) => t !== ops.ids[i]);
    console.log(`  ratio tsvlm gqa / ops ${d}: decode ${fmt(gqa.tps / ops.tps, 2)}× (median step ${fmt(gqa.step, 1)} vs ${fmt(ops.step, 1)} ms; p10 ${fmt(ops.fast / gqa.fast, 2)}×), prefill ${fmt(ops.prefill / gqa.prefill, 2)}×; greedy ids equal for ${same < 0 ? gqa.ids.length : same}/${gqa.ids.length} tokens`);
  }
}
