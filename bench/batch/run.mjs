// bench/batch: `tsvlm batch embed` throughput over a folder of images vs (a) the single-image loop
// (embedImages([file]) per image) and (b) the model's own batched images/s (embedImages on
// batches of file paths, nothing else), all in one process on the same model, same run.
// Default model: the siglip-so400m-shape-2layer fixture (real 384/14 input, 729 tokens).
// Options: --images 200 --batch 8 --model DIR --size 640x480 --rounds 2
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { benchDir } from '../common.mjs';
import { loadModel } from '../../dist/index.js';
import { encoderFor, runBatch } from '../../dist/batch/run.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
const args = Object.fromEntries(process.argv.slice(2).map((a, i, all) => (a.startsWith('--') ? [a.slice(2), all[i + 1]] : null)).filter(Boolean));
const nImages = Number(args.images ?? 200);
const batch = Number(args.batch ?? 8);
const [W, H] = (args.size ?? '640x480').split('x').map(Number);
const fixtures = resolve(process.env.TSVLM_FIXTURES ?? join(root, '../shared/fixtures'));

let modelDir = args.model;
if (!modelDir) {
  modelDir = join(benchDir('batch'), 'siglip-so400m-shape-2layer');
  if (!existsSync(join(modelDir, 'config.json'))) {
    cpSync(join(root, 'test/data/e2e-tokenizers/siglip-tiny'), modelDir, { recursive: true });
    for (const f of ['config.json', 'model.safetensors', 'preprocessor_config.json']) symlinkSync(join(fixtures, 'siglip-so400m-shape-2layer', f), join(modelDir, f));
  }
}

const images = join(benchDir('batch'), `images-${nImages}-${W}x${H}`);
if (!existsSync(images) || readdirSync(images).length < nImages) {
  mkdirSync(images, { recursive: true });
  for (let i = 0; i < nImages; i++) {
    const data = Buffer.alloc(W * H * 3);
    for (let j = 0; j < data.length; j++) data[j] = ((j % (W * 3)) * (i + 3) + Math.floor(j / (W * 3)) * 5 + i * 17) & 0xff;
    writeFileSync(join(images, `img${String(i).padStart(5, '0')}.jpg`), await sharp(data, { raw: { width: W, height: H, channels: 3 } }).jpeg({ quality: 90 }).toBuffer());
  }
}
const files = readdirSync(images).sort().slice(0, nImages).map((f) => join(images, f));

const m = await loadModel(modelDir);
await m.embedImages(files.slice(0, batch)); // warm-up (session init, allocator)

async function timed(fn) {
  const t0 = performance.now();
  await fn();
  return nImages / ((performance.now() - t0) / 1000);
}

const out = join(benchDir('batch'), 'out');
const peers = {
  single: async () => {
    for (const f of files) await m.embedImages([f]);
  },
  own: async () => {
    for (let i = 0; i < files.length; i += batch) await m.embedImages(files.slice(i, i + batch));
  },
  cmd: async () => {
    rmSync(out, { recursive: true, force: true });
    await runBatch(encoderFor(m, 'embed'), { inputs: [images], out, batchSize: batch, partSize: 100 });
  },
};
// Rounds interleave the peers (the machine is shared; load drifts); each peer's best round counts.
const rounds = Number(args.rounds ?? 2);
const best = { single: 0, own: 0, cmd: 0 };
for (let r = 0; r < rounds; r++) {
  for (const k of r % 2 ? ['cmd', 'own', 'single'] : ['single', 'own', 'cmd']) best[k] = Math.max(best[k], await timed(peers[k]));
}
const { single, own, cmd } = best;
await m.dispose();

const f = (x) => x.toFixed(2).padStart(8);
console.log(`model ${modelDir}, ${nImages} JPEG images ${W}x${H}, batch ${batch}, CPU`);
console.log(`single-image loop        ${f(single)} images/s`);
console.log(`model's own batches      ${f(own)} images/s`);
console.log(`tsvlm batch embed        ${f(cmd)} images/s   (Parquet parts of 100, fsync + rename)`);
console.log(`ratio batch / single-image loop: ${(cmd / single).toFixed(2)}x`);
console.log(`ratio batch / model's own:       ${(cmd / own).toFixed(2)}x   (goal >= 0.90)`);
