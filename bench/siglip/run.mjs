// bench/siglip: image embeddings/s of a SigLIP so400m-patch14-384-shaped vision tower (random
// weights) on CPU, side by side with (a) ORT on a torch.onnx.export of the same tower and (b) one
// large MatMul through ORT (this machine's peak). Ratios are printed against both.
// Options: --layers N (default 27), --batches 1,8, --runs N
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import '../../dist/graph/ort-env.js'; // ONNX Runtime telemetry off before the runtime loads
import * as ort from 'onnxruntime-node';
import { writeRandomSafetensors, benchDir, timeIt, findPython, matmulPeak, fmt } from '../common.mjs';
import { WeightStore } from '../../dist/io/checkpoint.js';
import { buildSiglipVisionGraph, parseSiglipConfig } from '../../dist/models/siglip.js';
import { createSession } from '../../dist/graph/session.js';

const args = Object.fromEntries(process.argv.slice(2).map((a, i, all) => (a.startsWith('--') ? [a.slice(2), all[i + 1]] : null)).filter(Boolean));
const layers = Number(args.layers ?? 27);
const batches = (args.batches ?? '1,8').split(',').map(Number);
const runs = Number(args.runs ?? 3);
const D = 1152, F = 4304, P = 14, S = 384, N = Math.floor(S / P) ** 2;

const dir = benchDir(`siglip-so400m-${layers}l`);
const config = {
  model_type: 'siglip',
  vision_config: { hidden_size: D, intermediate_size: F, num_hidden_layers: layers, num_attention_heads: 16, image_size: S, patch_size: P, num_channels: 3, layer_norm_eps: 1e-6, hidden_act: 'gelu_pytorch_tanh' },
  text_config: { hidden_size: D, intermediate_size: F, num_hidden_layers: 1, num_attention_heads: 16, vocab_size: 1000, max_position_embeddings: 64, projection_size: D },
};
if (!existsSync(join(dir, 'model.safetensors'))) {
  console.error(`writing random weights to ${dir} ...`);
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config, null, 1));
  const t = {
    'vision_model.embeddings.patch_embedding.weight': { shape: [D, 3, P, P] }, 'vision_model.embeddings.patch_embedding.bias': { shape: [D] },
    'vision_model.embeddings.position_embedding.weight': { shape: [N, D] },
    'vision_model.post_layernorm.weight': { shape: [D], mean: 1, std: 0.1 }, 'vision_model.post_layernorm.bias': { shape: [D] },
    'vision_model.head.probe': { shape: [1, 1, D] }, 'vision_model.head.attention.in_proj_weight': { shape: [3 * D, D] }, 'vision_model.head.attention.in_proj_bias': { shape: [3 * D] },
    'vision_model.head.attention.out_proj.weight': { shape: [D, D] }, 'vision_model.head.attention.out_proj.bias': { shape: [D] },
    'vision_model.head.layernorm.weight': { shape: [D], mean: 1, std: 0.1 }, 'vision_model.head.layernorm.bias': { shape: [D] },
    'vision_model.head.mlp.fc1.weight': { shape: [F, D] }, 'vision_model.head.mlp.fc1.bias': { shape: [F] },
    'vision_model.head.mlp.fc2.weight': { shape: [D, F] }, 'vision_model.head.mlp.fc2.bias': { shape: [D] },
  };
  for (let i = 0; i < layers; i++) {
    const p = `vision_model.encoder.layers.${i}`;
    for (const n of ['layer_norm1', 'layer_norm2']) { t[`${p}.${n}.weight`] = { shape: [D], mean: 1, std: 0.1 }; t[`${p}.${n}.bias`] = { shape: [D] }; }
    for (const n of ['q_proj', 'k_proj', 'v_proj', 'out_proj']) { t[`${p}.self_attn.${n}.weight`] = { shape: [D, D] }; t[`${p}.self_attn.${n}.bias`] = { shape: [D] }; }
    t[`${p}.mlp.fc1.weight`] = { shape: [F, D] }; t[`${p}.mlp.fc1.bias`] = { shape: [F] };
    t[`${p}.mlp.fc2.weight`] = { shape: [D, F] }; t[`${p}.mlp.fc2.bias`] = { shape: [D] };
  }
  await writeRandomSafetensors(join(dir, 'model.safetensors'), t, 1);
}

// FLOPs per image (multiply-adds × 2): patch conv, per layer 4 D² projections + 2 D·F MLP + attention.
const flops = 2 * (N * 3 * P * P * D + layers * (N * (4 * D * D + 2 * D * F) + 2 * N * N * D) + (3 * D * D + N * 2 * D * D + 2 * N * D + D * D + 2 * D * F));

const store = WeightStore.open(dir);
const cfg = parseSiglipConfig(config);
const tsvlm = await createSession(buildSiglipVisionGraph(store, cfg.vision));
let ref;
const py = findPython();
if (py) {
  const refDir = join(dir, 'torch-export');
  if (!existsSync(join(refDir, 'vision.onnx'))) {
    console.error('exporting the PyTorch reference with torch.onnx.export ...');
    execFileSync(py, [new URL('./export_torch.py', import.meta.url).pathname, dir, refDir], { stdio: 'inherit' });
  }
  ref = await ort.InferenceSession.create(join(refDir, 'vision.onnx'), { executionProviders: ['cpu'], graphOptimizationLevel: 'all' });
} else console.error('no Python with torch/transformers/onnx found (set TSVLM_PYTHON): skipping the torch.onnx.export reference');

const peak = await matmulPeak();
console.log(`SigLIP so400m-shaped vision tower, ${layers} layers, ${(flops / 1e9).toFixed(1)} GFLOP/image; ORT MatMul peak ${fmt(peak, 1)} GFLOP/s`);
console.log('batch | tsvlm img/s | tsvlm GFLOP/s | % of MatMul peak | torch-export img/s | tsvlm / torch-export');
for (const B of batches) {
  const px = new ort.Tensor('float32', new Float32Array(B * 3 * S * S).map(() => Math.random() * 2 - 1), [B, 3, S, S]);
  const tT = await timeIt(() => tsvlm.run({ pixel_values: px }), { runs, warmup: 1 });
  const tR = ref ? await timeIt(() => ref.run({ pixel_values: px }), { runs, warmup: 1 }) : undefined;
  const ips = B / tT, gf = (flops * B) / tT / 1e9;
  console.log(`${B} | ${fmt(ips, 3)} | ${fmt(gf, 1)} | ${fmt((100 * gf) / peak, 1)}% | ${tR ? fmt(B / tR, 3) : 'n/a'} | ${tR ? fmt(tR / tT, 2) + '×' : 'n/a'}`);
}
