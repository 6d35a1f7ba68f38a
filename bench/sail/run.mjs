// bench/sail: a 1B-shaped SAIL (Mistral hidden 2048, 16 layers, GQA 32/8, ffn 5632, vocab 32000 +
// vision tokens, vis_embed over 32×32 patches), random weights, fp32 CPU, on a 640×480 image
// (20×15 = 300 patches): time to first token for a first question and for a second question about
// the same image (served from the image-prefix cache), and decode tokens/s.
// Options: --layers N --decode N
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeRandomSafetensors, benchDir, fmt, llamaLayerTensors } from '../common.mjs';
import { loadModel } from '../../dist/index.js';

const args = Object.fromEntries(process.argv.slice(2).map((a, i, all) => (a.startsWith('--') ? [a.slice(2), all[i + 1]] : null)).filter(Boolean));
const L = Number(args.layers ?? 16), DEC = Number(args.decode ?? 32);
const D = 2048, H = 32, KV = 8, hd = 64, F = 5632, PS = 32, V0 = 32000;
const VISION = ['<vision>', '<vpatch>', '<vrow_sep>', '<vframe_sep>', '</vision>', '<|vis_cls|>'];
const V = V0 + VISION.length;
const dir = benchDir(`sail-1b-${L}l`);
if (!existsSync(join(dir, 'model.safetensors'))) {
  console.error(`writing random weights to ${dir} ...`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'config.json'), JSON.stringify({
    architectures: ['SailForCausalLM'], model_type: 'mistral', hidden_size: D, num_hidden_layers: L, num_attention_heads: H,
    num_key_value_heads: KV, head_dim: hd, intermediate_size: F, vocab_size: V, rms_norm_eps: 1e-5, max_position_embeddings: 32768,
    rope_theta: 10000, sliding_window: null, tie_word_embeddings: false, bos_token_id: 1, eos_token_id: 2, hidden_act: 'silu', vision_patch_size: PS,
  }, null, 1));
  // The real LLaMA-2 tokenizer with SAIL's vision tokens added on top (ids 32000..32005).
  // The package's exports hide its files: locate it under node_modules (a devDependency).
  const tokDir = join(process.cwd(), 'node_modules', '@lenml', 'tokenizer-llama2', 'models');
  const tj = JSON.parse(readFileSync(join(tokDir, 'tokenizer.json'), 'utf8'));
  VISION.forEach((content, i) => tj.added_tokens.push({ id: V0 + i, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }));
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(tj));
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ bos_token: '<s>', eos_token: '</s>', unk_token: '<unk>', add_bos_token: true }));
  const t = { 'model.embed_tokens.weight': { shape: [V, D] }, 'model.vis_embed.weight': { shape: [D, 3 * PS * PS] }, 'model.norm.weight': { shape: [D], mean: 1, std: 0.1 }, 'lm_head.weight': { shape: [V, D] } };
  Object.assign(t, llamaLayerTensors({ layers: L, hidden: D, heads: H, kvHeads: KV, headDim: hd, ffn: F }));
  await writeRandomSafetensors(join(dir, 'model.safetensors'), t, 3);
}

const model = await loadModel(dir);
const img = { width: 640, height: 480, channels: 3, data: new Uint8Array(640 * 480 * 3).map((_, i) => (i * 2654435761) >>> 24) };
async function ask(q, maxNewTokens) {
  const t0 = performance.now();
  let ttft;
  const s = model.chat([{ role: 'user', content: [{ type: 'image', image: img }, { type: 'text', text: q }] }], { maxNewTokens });
  for await (const _ of s) { ttft ??= (performance.now() - t0) / 1000; }
  const r = await s.result;
  ttft ??= (performance.now() - t0) / 1000;
  return { ttft, total: (performance.now() - t0) / 1000, r };
}
const first = await ask('What is in this image?', 1);
const second = await ask('What colour is the sky?', 1);
const dec = await ask('Describe the image in detail.', DEC);
const decodeTps = (dec.r.completionTokens - 1) / (dec.total - dec.ttft);
console.log(`SAIL 1B-shaped (${L} layers), 640×480 image = 300 patches, prompt ${first.r.promptTokens} tokens`);
console.log(`first question  TTFT ${fmt(first.ttft, 2)} s (image prefix computed)`);
console.log(`second question TTFT ${fmt(second.ttft, 2)} s (image prefix from cache) → ${fmt(first.ttft / second.ttft, 1)}× faster`);
console.log(`decode ${dec.r.completionTokens} tokens: ${fmt(decodeTps, 2)} tokens/s (prefix cache hits ${model.prefixCache.hits}, misses ${model.prefixCache.misses})`);
await model.dispose();
