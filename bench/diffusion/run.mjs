// bench/diffusion: the Stable unCLIP 2.1 UNet (865M parameters, random weights) for one
// evaluation at 96×96 latents, batch 2 (classifier-free guidance), and one VAE decode to 768²,
// on CPU — tsvlm (ONNX Runtime) side by side with diffusers 0.20.2 on PyTorch in the same run,
// same weights and inputs; each measurement in its own process so peak RSS is its own.
// Then seconds per 768² image at 20 steps (PNDM: 21 UNet calls + 1 decode), extrapolated.
//
//   flock /work/bench.lock node bench/diffusion/run.mjs [--parts unet,vae] [--hw 96] [--runs 1] [--warmup 0]
//     [--no-prepack]   (ORT: keep fp32 weights mmapped instead of pre-packed)
// Needs diffusers v0.20.2's src exported somewhere git-ignored: DIFFUSERS_SRC (default
// /work/ref/diffusers-0.20.2/src). The weights (3.5 GB UNet) are written once to .cache/bench.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { benchDir, fmt } from '../common.mjs';

const args = Object.fromEntries(process.argv.slice(2).map((a, i, all) => (a.startsWith('--') ? [a.slice(2), all[i + 1]?.startsWith('--') ? '1' : all[i + 1] ?? '1'] : null)).filter(Boolean));
const dir = benchDir('diffusion-unclip-2.1');
const B = 2, HW = Number(args.hw ?? 96), T = 77, D = 1024, P = 2048;
const runs = Number(args.runs ?? 1), warmup = Number(args.warmup ?? 0);
const f32 = (name) => { const b = readFileSync(join(dir, name)); return new Float32Array(b.buffer, b.byteOffset, b.length / 4); };

async function tsvlmPart(part) {
  const { UNet2DConditionModel } = await import('../../dist/models/diffusion/unet_2d_condition.js');
  const { AutoencoderKL } = await import('../../dist/models/diffusion/autoencoder_kl.js');
  const opts = { disablePrepacking: args['no-prepack'] === '1' };
  const t0 = performance.now();
  let fn;
  if (part === 'unet') {
    const m = await UNet2DConditionModel.load(join(dir, 'unet'), opts);
    const inp = { sample: f32(`sample_${HW}.f32`), shape: [B, 4, HW, HW], timestep: 500, encoderHiddenStates: f32('ehs.f32'), classLabels: f32('labels.f32') };
    fn = () => m.run(inp);
  } else {
    const vae = AutoencoderKL.load(join(dir, 'vae'), opts);
    const lat = f32(`latents_${HW}.f32`);
    await vae.decode(new Float32Array(4 * 8 * 8), [1, 4, 8, 8]); // creates the session
    fn = async () => (await vae.decode(lat, [1, 4, HW, HW])).image;
  }
  const loadS = (performance.now() - t0) / 1000;
  for (let i = 0; i < warmup; i++) await fn();
  const ts = [];
  let out;
  for (let i = 0; i < runs; i++) {
    const t1 = performance.now();
    out = await fn();
    ts.push((performance.now() - t1) / 1000);
  }
  ts.sort((a, b) => a - b);
  // Agreement with PyTorch on the same weights and inputs (written by the reference run before).
  const ref = f32(`torch_${part}_${HW}.f32`);
  let maxDiff = 0, maxRef = 0;
  for (let i = 0; i < ref.length; i++) { maxDiff = Math.max(maxDiff, Math.abs(out[i] - ref[i])); maxRef = Math.max(maxRef, Math.abs(ref[i])); }
  console.log(JSON.stringify({ part, seconds: ts[Math.floor(ts.length / 2)], load_s: loadS, peak_rss_mb: process.resourceUsage().maxRSS / 1024, max_abs_diff: maxDiff, max_abs_ref: maxRef }));
}

function child(cmd, argv, env = {}) {
  const out = execFileSync(cmd, argv, { encoding: 'utf8', env: { ...process.env, BENCH_RUNS: String(runs), BENCH_WARMUP: String(warmup), BENCH_HW: String(HW), ...env }, stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 24 });
  return JSON.parse(out.trim().split('\n').pop());
}

if (args.part) {
  await tsvlmPart(args.part);
} else {
  const py = process.env.TSVLM_PYTHON ?? '/work/venv/bin/python';
  const ref = fileURLToPath(new URL('./ref.py', import.meta.url));
  if (!existsSync(join(dir, 'unet', 'diffusion_pytorch_model.safetensors')) || !existsSync(join(dir, `latents_${HW}.f32`))) {
    console.error(`writing random-weight unet/ and vae/ (diffusers init) to ${dir} ...`);
    child(py, [ref, 'make', dir]);
  }
  const self = fileURLToPath(import.meta.url);
  const res = {};
  for (const part of (args.parts ?? 'unet,vae').split(',')) {
    console.error(`${part}: PyTorch ...`);
    const torch = child(py, [ref, part, dir]);
    console.error(`${part}: tsvlm ...`);
    const ours = child(process.execPath, [self, '--part', part, ...(args['no-prepack'] ? ['--no-prepack'] : []), '--hw', String(HW), '--runs', String(runs), '--warmup', String(warmup)]);
    res[part] = { torch, ours };
    console.log(`${part === 'unet' ? `UNet eval (batch ${B}, ${HW}x${HW})` : `VAE decode (${HW * 8}x${HW * 8})`}: tsvlm ${fmt(ours.seconds)} s, PyTorch ${fmt(torch.seconds)} s -> ${fmt(torch.seconds / ours.seconds)}x PyTorch` +
      ` | peak RSS tsvlm ${fmt(ours.peak_rss_mb, 0)} MB, PyTorch ${fmt(torch.peak_rss_mb, 0)} MB | load tsvlm ${fmt(ours.load_s, 1)} s, PyTorch ${fmt(torch.load_s, 1)} s` +
      ` | max |diff| ${ours.max_abs_diff.toExponential(2)} (max |out| ${fmt(ours.max_abs_ref)})`);
  }
  if (res.unet && res.vae) {
    const img = (r) => 21 * r.unet.seconds + r.vae.seconds;
    const o = img({ unet: res.unet.ours, vae: res.vae.ours }), t = img({ unet: res.unet.torch, vae: res.vae.torch });
    console.log(`768x768 image, 20 PNDM steps (21 UNet evals + 1 decode), extrapolated: tsvlm ${fmt(o, 0)} s, PyTorch ${fmt(t, 0)} s -> ${fmt(t / o)}x PyTorch`);
  }
}
