// bench/decode/profile.mjs: where one decode step's time goes. Loads bench/decode's random 1B Llama
// (run run.mjs once first: it writes the weights), fills the KV cache with PAST random entries (the
// step's cost does not depend on the values), runs STEPS single-token steps with ORT profiling and
// sums the per-node times by group: weight matmuls (projections, MLP, lm head), attention proper
// (score/context MatMuls, Softmax, mask Add, scale Mul, KV Concat/Transpose or the fused
// GroupQueryAttention), RoPE (Slice/Mul/Sub/Add/Concat on [.., hd] rows), norms, the rest.
//   node bench/decode/profile.mjs --dtype q4 --past 600 --steps 16 [--attention ops,gqa] [--threads 2]
//   --kv-cache fp32|fp16 (gqa)  --shape 1b|7b  --block 32|64 (quantization block, as run.mjs)  --capacity N (cache slots allocated up front)
//   --prefill N: instead, STEPS forwards of N new tokens each on an empty cache (the first one warms up).  (TSVLM_BENCH_DIR as run.mjs)
import { readFileSync, readdirSync, rmSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { benchDir } from '../common.mjs';
import { WeightStore } from '../../dist/io/checkpoint.js';
import { parseLlamaConfig } from '../../dist/models/llama.js';
import { DecoderLM } from '../../dist/generate/decoder-lm.js';
import { weightSettings } from '../../dist/quant/plan.js';

const argv = process.argv.slice(2);
const args = Object.fromEntries(argv.map((a, i, all) => (a.startsWith('--') ? [a.slice(2), all[i + 1]] : null)).filter(Boolean));
const PAST = Number(args.past ?? 600), STEPS = Number(args.steps ?? 16), THREADS = Number(args.threads ?? 2);
// The folders run.mjs writes: --shape 1b (16 layers, fp32) or 7b (32 layers, bf16).
const shapeName = args.shape ?? '1b';
const dir = benchDir(shapeName === '7b' ? `llama-7b-${args.layers ?? 32}l-bf16` : `llama-1b-${args.layers ?? 16}l`);
const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];

function group(e) {
  const op = e.args.op_name;
  const shapes = (e.args.input_type_shape ?? []).map((o) => Object.values(o)[0]);
  const last = shapes[0]?.at(-1), rank = shapes[0]?.length;
  const hd = config.head_dim ?? config.hidden_size / config.num_attention_heads;
  if (op === 'MatMulNBits' || op === 'Gemm') return 'weight matmuls';
  if (op === 'MatMul' || op === 'FusedMatMul') return rank >= 4 ? 'attention' : 'weight matmuls'; // FusedMatMul: scores with the scale folded in
  if (op === 'QuickGelu') return 'mlp activation'; // SiLU, fused by ORT
  if (['GroupQueryAttention', 'MultiHeadAttention', 'Softmax', 'Transpose'].includes(op)) return 'attention';
  if (['Mul', 'Add'].includes(op) && rank === 5) return 'attention'; // scale, mask
  if (op === 'Concat' && rank === 4 && last === hd) return 'attention'; // past + new keys/values
  if (['Slice', 'Sub', 'Mul', 'Add', 'Concat'].includes(op) && rank === 4 && (last === hd || last === hd / 2)) return 'rope';
  if (op === 'SimplifiedLayerNormalization' || op === 'SkipSimplifiedLayerNormalization' || op === 'RMSNormalization') return 'norms';
  return `other (${op})`;
}

for (const dtype of (args.dtype ?? 'q4').split(',')) {
  for (const attention of (args.attention ?? 'ops,gqa').split(',')) {
    const store = WeightStore.open(dir);
    store.weights = weightSettings({ dtype, quantBlockSize: Number(args.block ?? 32), cacheDir: join(dir, 'tsvlm-cache') });
    const cfg = parseLlamaConfig(config, store);
    const out = mkdtempSync(join(tmpdir(), 'tsvlm-prof-'));
    const lm = await DecoderLM.create(store, cfg.spec, cfg.rope, { input: 'ids', intraOpThreads: THREADS, profile: join(out, 'p'), attention, kvCache: args['kv-cache'] ?? 'fp32' });
    const st = lm.newState(1, undefined, Number(args.capacity ?? PAST + STEPS + 8));
    // PAST cached entries, as a prefill would append them (values do not change the step's cost).
    const fake = {};
    const n = PAST * cfg.spec.numKvHeads * cfg.spec.headDim;
    for (let i = 0; i < cfg.spec.numLayers; i++) for (const k of ['key', 'value']) fake[`new_${k}.${i}`] = { data: Float32Array.from({ length: n }, () => Math.random() - 0.5), dims: [PAST, 1, cfg.spec.numKvHeads, cfg.spec.headDim] };
    st.cache.append(fake, PAST);
    st.nextPos = [PAST];
    const wall = [];
    const PRE = Number(args.prefill ?? 0);
    for (let i = 0; i < STEPS; i++) {
      const t = performance.now();
      if (PRE) await lm.forward(lm.newState(1, undefined, PRE), { ids: [Array.from({ length: PRE }, (_, j) => 3 + ((j * 7919 + i) % 30000))], seq: PRE });
      else await lm.forward(st, { ids: [[5 + i]], seq: 1 });
      wall.push(performance.now() - t);
    }
    lm.session.endProfiling();
    await lm.release();
    const file = readdirSync(out).find((f) => f.endsWith('.json'));
    const events = JSON.parse(readFileSync(join(out, file), 'utf8')).filter((e) => e.cat === 'Node' && e.name.endsWith('_kernel_time'));
    rmSync(out, { recursive: true });
    // The first step warms up: skip its nodes (events come in order, one run after another).
    const sums = {};
    let total = 0;
    const perRun = events.length / STEPS;
    events.slice(perRun).forEach((e) => {
      const gname = group(e);
      sums[gname] = (sums[gname] ?? 0) + e.dur / 1000 / (STEPS - 1);
      total += e.dur / 1000 / (STEPS - 1);
    });
    console.log(`\n${dtype} ${attention}: ${PRE ? `prefill ${PRE}` : `past ${PAST}`}, ${STEPS - 1} profiled ${PRE ? 'forwards' : 'steps'}, median wall step ${median(wall.slice(1)).toFixed(2)} ms, sum of node times ${total.toFixed(2)} ms/step (${perRun} nodes)`);
    for (const [k, v] of Object.entries(sums).sort((a, b) => b[1] - a[1])) console.log(`  ${k.padEnd(28)} ${v.toFixed(2).padStart(7)} ms  ${((100 * v) / total).toFixed(1).padStart(5)} %`);
  }
}
