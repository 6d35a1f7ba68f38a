// bench/hovle: HoVLE (holistic embedding + InternLM2) with random weights at the real widths
// (hidden 2048, 16 heads / 8 kv heads of 128, ffn 8192, vocab 92553, 448² tiles of 14² patches →
// 256 rows per tile), fp32 CPU. Depth is scaled down by default to fit a shared 2-core machine:
// --emb-layers 8 (the real 8) and --llm-layers 4 (the real InternLM2-1.8B has 24); pass
// --llm-layers 24 for the full ~10 GB model where memory allows.
// Two images: 448×448 (1 tile) and 896×448 (2 tiles + thumbnail). For each: time to first token,
// decode tokens/s, and a second question about the same image (prefix reuse); then the same
// prompts through PyTorch running the HoVLE reference code on the same weights (reference.py), as
// ratios. Run under the shared lock: flock /work/bench.lock npm run bench:hovle
// Options: --emb-layers N --llm-layers N --decode N --ref-decode N --no-ref
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { writeRandomSafetensors, benchDir, findPython, fmt } from '../common.mjs';
import { loadModel } from '../../dist/index.js';
import { writeSafetensors } from '../../dist/io/safetensors.js';
import { hovleTiles } from '../../dist/models/hovle/prompt.js';

const argv = process.argv.slice(2);
const args = Object.fromEntries(argv.map((a, i) => (a.startsWith('--') ? [a.slice(2), argv[i + 1]?.startsWith('--') ? true : argv[i + 1] ?? true] : null)).filter(Boolean));
const E = Number(args['emb-layers'] ?? 8), L = Number(args['llm-layers'] ?? 4), DEC = Number(args.decode ?? 16), REF_DEC = Number(args['ref-decode'] ?? 3);
const D = 2048, H = 16, KV = 8, hd = 128, F = 8192, V = 92553, S = 448, P = 14;
const ADDED = ['<|im_end|>', '<|im_start|>', '<img>', '</img>', '<IMG_CONTEXT>', '<quad>', '</quad>', '<ref>', '</ref>', '<box>', '</box>'];
const dir = benchDir(`hovle-e${E}-l${L}`);

function layerTensors(prefix, n) {
  const t = {};
  for (let i = 0; i < n; i++) {
    const p = `${prefix}.${i}`;
    t[`${p}.attention_norm.weight`] = { shape: [D], mean: 1, std: 0.1 };
    t[`${p}.ffn_norm.weight`] = { shape: [D], mean: 1, std: 0.1 };
    t[`${p}.attention.wqkv.weight`] = { shape: [(H + 2 * KV) * hd, D] };
    t[`${p}.attention.wo.weight`] = { shape: [D, H * hd] };
    t[`${p}.feed_forward.w1.weight`] = { shape: [F, D] };
    t[`${p}.feed_forward.w3.weight`] = { shape: [F, D] };
    t[`${p}.feed_forward.w2.weight`] = { shape: [D, F] };
  }
  return t;
}

if (!existsSync(join(dir, 'model.safetensors'))) {
  console.error(`writing random weights to ${dir} ...`);
  mkdirSync(dir, { recursive: true });
  const common = { hidden_size: D, num_attention_heads: H, num_key_value_heads: KV, intermediate_size: F, hidden_act: 'silu', rms_norm_eps: 1e-5, rope_scaling: null };
  writeFileSync(join(dir, 'config.json'), JSON.stringify({
    architectures: ['InternVLChatModel'], model_type: 'internvl_chat', template: 'internlm2-chat', force_image_size: S, downsample_ratio: 0.5,
    dynamic_image_size: true, use_thumbnail: true, ps_version: 'v2', min_dynamic_patch: 1, max_dynamic_patch: 12, select_layer: -1, pad2square: false,
    use_backbone_lora: 0, use_llm_lora: 0,
    embedding_config: {
      ...common, architectures: ['HolisticEmbedding'], model_type: 'holistic_embedding', num_hidden_layers: E, num_channels: 3, patch_size: P, image_size: S,
      attention_bias: false, mlp_bias: false, max_position_embeddings: 4096, rope_theta: 10000, use_ls: false, special_token_maps: {}, llm_vocab_size: V, llm_hidden_size: D,
      downsample_ratio: 0.5, img_context_token_id: 92546, use_pixel_shuffle_proj: true, pixel_shuffle_loc: 'pre', attn_implementation: 'eager', pretraining_tp: 1,
    },
    llm_config: {
      ...common, architectures: ['InternLM2ForCausalLM'], model_type: 'internlm2', num_hidden_layers: L, vocab_size: V, bias: false, bos_token_id: 1, eos_token_id: 2,
      pad_token_id: 2, max_position_embeddings: 32768, rope_theta: 1000000, tie_word_embeddings: false, attn_implementation: 'eager',
    },
  }, null, 1));
  // Tokenizer: the small InternLM2-style SentencePiece test model with InternVL's added tokens at their real ids.
  const tokSrc = join(process.cwd(), 'test/data/e2e-tokenizers/hovle-tiny');
  copyFileSync(join(tokSrc, 'tokenizer.model'), join(dir, 'tokenizer.model'));
  const tc = JSON.parse(readFileSync(join(tokSrc, 'tokenizer_config.json'), 'utf8'));
  tc.added_tokens_decoder = Object.fromEntries(Object.entries(tc.added_tokens_decoder).map(([id, t]) => [Number(id) < 3 ? id : String(ADDED.indexOf(t.content) + 92542), t]));
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify(tc, null, 1));
  const t = {
    'embedding_model.vision_embeddings.class_embedding': { shape: [1, 1, D] },
    'embedding_model.vision_embeddings.patch_embedding.weight': { shape: [D, 3, P, P] },
    'embedding_model.vision_embeddings.patch_embedding.bias': { shape: [D] },
    'embedding_model.vision_embeddings.position_embedding': { shape: [1, (S / P) ** 2 + 1, D] },
    'embedding_model.llm_text_embeddings.weight': { shape: [V, D] },
    'embedding_model.pixel_shuffle_proj.0.weight': { shape: [D, 4 * D] },
    'embedding_model.pixel_shuffle_proj.0.bias': { shape: [D] },
    'embedding_model.pixel_shuffle_proj.2.weight': { shape: [D, D] },
    'embedding_model.pixel_shuffle_proj.2.bias': { shape: [D] },
    ...layerTensors('embedding_model.encoder', E),
    'language_model.model.tok_embeddings.weight': { shape: [V, D] },
    ...layerTensors('language_model.model.layers', L),
    'language_model.model.norm.weight': { shape: [D], mean: 1, std: 0.1 },
    'language_model.output.weight': { shape: [V, D] },
  };
  await writeRandomSafetensors(join(dir, 'model.safetensors'), t, 14);
}

const model = await loadModel(dir);
const pixels = (w, h) => ({ width: w, height: h, channels: 3, data: new Uint8Array(w * h * 3).map((_, i) => ((i * 2654435761) >>> 24) ^ ((i / (3 * w)) & 0x3f)) });
const images = { a_448x448: pixels(448, 448), b_896x448: pixels(896, 448) };

async function ask(img, q, maxNewTokens) {
  const t0 = performance.now();
  let ttft;
  const s = model.chat([{ role: 'user', content: [{ type: 'image', image: img }, { type: 'text', text: q }] }], { maxNewTokens });
  for await (const _ of s) ttft ??= (performance.now() - t0) / 1000;
  const r = await s.result;
  ttft ??= (performance.now() - t0) / 1000;
  return { ttft, total: (performance.now() - t0) / 1000, r };
}

const ours = {};
const cases = {};
for (const [name, img] of Object.entries(images)) {
  const q1 = 'What is in the image?';
  const first = await ask(img, q1, DEC);
  const second = await ask(img, 'How many shapes are there?', 1);
  const decodeTps = (first.r.completionTokens - 1) / (first.total - first.ttft);
  ours[name] = { first, second, decodeTps };
  // The same prompt for PyTorch: ids, pixel values, and our first-step logits (a numeric check).
  const tiles = hovleTiles(img, model.cfg);
  const ids = model.promptIds([{ role: 'user', content: [{ type: 'image', image: img }, { type: 'text', text: q1 }] }], [tiles.tiles.length]);
  const st = model.engine.newState(ids.length + 1);
  const vis = await model.engine.encodeImages(tiles.pixelValues);
  const logits = model.engine.lastLogits(await model.engine.forward(st, ids, vis.image_rows.data)).slice();
  Object.assign(cases, {
    [`${name}.input_ids`]: { dtype: 'I64', shape: [ids.length], data: BigInt64Array.from(ids.map(BigInt)) },
    [`${name}.pixel_values`]: { dtype: 'F32', shape: [tiles.tiles.length, 3, S, S], data: tiles.pixelValues },
    [`${name}.first_logits`]: { dtype: 'F32', shape: [V], data: logits },
    [`${name}.img_context_token_id`]: { dtype: 'I64', shape: [1], data: BigInt64Array.from([92546n]) },
  });
  console.log(`tsvlm ${name}: ${tiles.tiles.length} tile(s), prompt ${first.r.promptTokens} tokens, TTFT ${fmt(first.ttft)} s, decode ${fmt(decodeTps)} tok/s, second question TTFT ${fmt(second.ttft)} s`);
}
const hits = model.prefixCache.hits;
await model.dispose();

let ref;
const py = args['no-ref'] ? undefined : findPython();
if (py) {
  writeSafetensors(join(dir, 'cases.safetensors'), cases);
  const out = join(dir, 'reference.json');
  execFileSync(py, [new URL('./reference.py', import.meta.url).pathname, dir, join(dir, 'cases.safetensors'), out, '--decode', String(REF_DEC + 1)], { stdio: 'inherit' });
  ref = JSON.parse(readFileSync(out, 'utf8'));
} else console.log('(no Python with torch found: PyTorch reference skipped)');

console.log(`\nHoVLE, real widths, ${E} embedding layers + ${L} InternLM2 layers (real: 8 + 24), fp32 CPU; prefix cache hits ${hits}`);
console.log('image       tiles prompt | tsvlm TTFT  decode tok/s  2nd-q TTFT (×faster) | PyTorch TTFT  decode tok/s (re-run) | TTFT ratio  decode ratio  |Δ first logits|');
for (const [name, o] of Object.entries(ours)) {
  const r = ref?.cases[name];
  const refTps = r ? r.step_s.length / r.step_s.reduce((a, b) => a + b, 0) : NaN;
  const tiles = cases[`${name}.pixel_values`].shape[0];
  console.log([
    name.padEnd(11), String(tiles).padStart(5), String(o.first.r.promptTokens).padStart(6), '|',
    `${fmt(o.first.ttft)} s`.padStart(10), fmt(o.decodeTps).padStart(13), `${fmt(o.second.ttft)} s (${fmt(o.first.ttft / o.second.ttft, 1)}×)`.padStart(20), '|',
    r ? `${fmt(r.ttft_s)} s`.padStart(12) : '—', r ? fmt(refTps, 3).padStart(13) : '—', '|',
    r ? `${fmt(r.ttft_s / o.first.ttft)}×`.padStart(10) : '—', r ? `${fmt(o.decodeTps / refTps, 1)}×`.padStart(13) : '—',
    r ? r.first_logits_max_abs_diff.toExponential(2).padStart(15) : '—',
  ].join(' '));
}
if (ref) console.log(`(ratios: PyTorch time / tsvlm time; PyTorch ${ref.torch}, ${ref.threads} threads, decode as the released code does: the whole sequence re-run per token)`);
