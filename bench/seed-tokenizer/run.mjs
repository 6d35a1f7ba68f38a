// bench/seed-tokenizer: SEED v2 encode (image → 32 codes) images/s on CPU with random weights of
// the real shape (EVA ViT-g 1408 × --vit-layers (default 39), Q-Former 768 × 12, codebook
// 8192 × 32, fp32), side by side in the same run with PyTorch running the ORIGINAL SEED modules
// (AILab-CVC/SEED checkout from $SEED_REPO, default /work/ref/SEED; imported, never copied) on
// the same weights. Both time the model call on the same-sized random pixel batches (no image
// decoding); the ratio is tsvlm images/s ÷ PyTorch images/s.
// Options: --vit-layers N  --batches 1,8  --runs N   (run under `flock /work/bench.lock`)
import { execFileSync } from 'node:child_process';
import '../../dist/graph/ort-env.js'; // ONNX Runtime telemetry off before the runtime loads
import * as ort from 'onnxruntime-node';
import { seedV2Weights, timeIt, findPython, fmt } from '../common.mjs';
import { WeightStore } from '../../dist/io/checkpoint.js';
import { seedConfig } from '../../dist/models/seed/config.js';
import { buildSeedEncodeGraph } from '../../dist/models/seed/graphs.js';
import { createSession } from '../../dist/graph/session.js';

const args = Object.fromEntries(process.argv.slice(2).map((a, i, all) => (a.startsWith('--') ? [a.slice(2), all[i + 1]] : null)).filter(Boolean));
const layers = Number(args['vit-layers'] ?? 39);
const batches = args.batches ?? '1,8';
const runs = Number(args.runs ?? 2);
const py = findPython();
if (!py) throw new Error('bench/seed-tokenizer needs a Python with torch (set TSVLM_PYTHON)');
const script = new URL('./torch_ref.py', import.meta.url).pathname;
const dir = seedV2Weights(layers, py);
const pyArgs = ['--vit-layers', String(layers), '--batches', batches, '--runs', String(runs)];

console.error('timing PyTorch (original SEED modules) ...');
const torch = JSON.parse(execFileSync(py, [script, 'time', dir, ...pyArgs], { stdio: ['ignore', 'pipe', 'ignore'], encoding: 'utf8' }).trim().split('\n').pop());

console.error('timing tsvlm ...');
const store = WeightStore.open(dir);
const cfg = seedConfig(store);
const t0 = performance.now();
const session = await createSession(buildSeedEncodeGraph(store, cfg));
const createS = (performance.now() - t0) / 1000;
const S = cfg.vit.imageSize;
const gb = (store.files.reduce((a, f) => a + f.size, 0) / 2 ** 30).toFixed(2);

console.log(`SEED v2 encode, random weights: EVA ViT-g ${cfg.vit.dim}×${cfg.vit.depth} (heads ${cfg.vit.heads}, MLP ${cfg.vit.mlp}), Q-Former ${cfg.qformer.hidden}×${cfg.qformer.crossAttention.length}, codebook ${cfg.codebookSize}×${cfg.codebookDim}; fp32 ${gb} GiB; ${S}×${S} input`);
console.log(`tsvlm session creation ${fmt(createS, 1)} s; PyTorch threads ${torch.threads}`);
console.log('batch | tsvlm img/s | PyTorch img/s | tsvlm / PyTorch');
for (const B of batches.split(',').map(Number)) {
  const px = new ort.Tensor('float32', new Float32Array(B * 3 * S * S).map(() => Math.random() * 4 - 2), [B, 3, S, S]);
  const t = await timeIt(() => session.run({ pixel_values: px }), { runs, warmup: 1 });
  const ours = B / t, theirs = torch.images_per_s[String(B)];
  console.log(`${B} | ${fmt(ours, 3)} | ${fmt(theirs, 3)} | ${fmt(ours / theirs, 2)}×`);
}
await session.release();
