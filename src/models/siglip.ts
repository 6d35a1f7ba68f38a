// SigLIP: ViT image tower with a MAP attention-pooling head + text transformer, sigmoid scores.
// Matches transformers' modeling_siglip.py (SiglipModel, SiglipVisionModel, SiglipTextModel).
import type { Graph, Value } from '../graph/builder.js';
import { Graph as GraphClass } from '../graph/builder.js';
import { GraphWeights } from '../nn/weights.js';
import { activation, flatten2d, layerNorm, linear, reshapeLead } from '../nn/layers.js';
import { CheckpointError, CONFIG_BOUNDS as B, configFloat, configInt, type ModelFolder, type WeightStore } from '../io/checkpoint.js';
import type { EmbeddingModel, ImageInput, LabelScore, LoadOptions, ModelInfo } from '../api.js';
import { InputError } from '../api.js';
import { createSession, f32Tensor, i64Tensor, type ort } from '../graph/session.js';
import { loadTokenizer, type Tokenizer } from '../tokenizers/index.js';
import { decodeImage } from '../processors/image.js';
import { siglipPixels, siglipPreprocessConfig, type SiglipPreprocessConfig } from '../processors/vision.js';
import { basename, join } from 'node:path';
import { existsSync, readFileSync } from 'node:fs';
import { modelTypeOf, openHfCheckpoint, type ModelEntry } from './entry.js';

export interface SiglipTowerConfig {
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  layer_norm_eps: number;
  hidden_act: string;
}
export interface SiglipVisionConfig extends SiglipTowerConfig {
  image_size: number;
  patch_size: number;
  num_channels: number;
}
export interface SiglipTextConfig extends SiglipTowerConfig {
  vocab_size: number;
  max_position_embeddings: number;
  projection_size: number;
  pad_token_id?: number;
  eos_token_id?: number;
}
export interface SiglipConfig {
  vision: SiglipVisionConfig;
  text: SiglipTextConfig;
}

function tower(c: Record<string, any>, section: string, what: string): SiglipTowerConfig {
  const k = (key: string) => `${section}.${key}`;
  const hidden = configInt(c, k('hidden_size'), what, { max: B.hidden }, 768);
  const heads = configInt(c, k('num_attention_heads'), what, { max: B.heads }, 12);
  if (hidden % heads !== 0) throw new CheckpointError(`config.json: ${k('hidden_size')} ${hidden} is not a multiple of num_attention_heads ${heads} (${what})`);
  return {
    hidden_size: hidden,
    intermediate_size: configInt(c, k('intermediate_size'), what, { max: B.intermediate }, 3072),
    num_hidden_layers: configInt(c, k('num_hidden_layers'), what, { max: B.layers }, 12),
    num_attention_heads: heads,
    layer_norm_eps: configFloat(c, k('layer_norm_eps'), what, { min: 0, max: 1 }, 1e-6),
    hidden_act: typeof c.hidden_act === 'string' ? c.hidden_act : 'gelu_pytorch_tanh',
  };
}

/** Parses a SiglipModel config.json (defaults are transformers' SiglipConfig defaults). */
export function parseSiglipConfig(cfg: Record<string, any>): SiglipConfig {
  if (cfg.model_type !== 'siglip') {
    throw new CheckpointError(`config.json: model_type is ${JSON.stringify(cfg.model_type)}, expected "siglip"`);
  }
  const section = (key: string): Record<string, any> => {
    const c = cfg[key] ?? {};
    if (typeof c !== 'object' || Array.isArray(c)) throw new CheckpointError(`config.json: ${key} is ${JSON.stringify(c)}, not an object (${what})`);
    return c;
  };
  const what = 'a SigLIP checkpoint';
  const v = section('vision_config');
  const t = section('text_config');
  const textTower = tower(t, 'text_config', what);
  const text: SiglipTextConfig = {
    ...textTower,
    vocab_size: configInt(t, 'text_config.vocab_size', what, { max: B.vocab }, 32000),
    max_position_embeddings: configInt(t, 'text_config.max_position_embeddings', what, { max: B.positions }, 64),
    projection_size: configInt(t, 'text_config.projection_size', what, { max: B.hidden }, textTower.hidden_size),
    pad_token_id: t.pad_token_id ?? undefined,
    eos_token_id: t.eos_token_id ?? undefined,
  };
  return {
    vision: {
      ...tower(v, 'vision_config', what),
      image_size: configInt(v, 'vision_config.image_size', what, { max: B.imageSize }, 224),
      patch_size: configInt(v, 'vision_config.patch_size', what, { max: B.imageSize }, 16),
      num_channels: configInt(v, 'vision_config.num_channels', what, { max: 4 }, 3),
    },
    text,
  };
}

/** Encoder layer stack (pre-LN, MHA with biases, MLP). x: [B·S, D]; bs: [B, S] int64. */
function encoder(w: GraphWeights, x: Value, bs: Value, prefix: string, c: SiglipTowerConfig, hidden?: Value[]): Value {
  const g = x.graph;
  const D = c.hidden_size;
  w.store.expectLayerCount(`${prefix}.layers`, c.num_hidden_layers, `${prefix.startsWith('vision') ? 'vision' : 'text'}_config.num_hidden_layers`);
  for (let i = 0; i < c.num_hidden_layers; i++) {
    const p = `${prefix}.layers.${i}`;
    const h = layerNorm(w, x, `${p}.layer_norm1`, c.layer_norm_eps);
    const q = reshapeLead(linear(w, h, `${p}.self_attn.q_proj`), bs, [D]);
    const k = reshapeLead(linear(w, h, `${p}.self_attn.k_proj`), bs, [D]);
    const v = reshapeLead(linear(w, h, `${p}.self_attn.v_proj`), bs, [D]);
    // com.microsoft MultiHeadAttention: [B,S,D] in/out, scale 1/sqrt(head_dim) as in the reference.
    const a = g.op('MultiHeadAttention', [q, k, v], { num_heads: c.num_attention_heads }, 'com.microsoft');
    x = g.op('Add', [x, linear(w, flatten2d(a, D), `${p}.self_attn.out_proj`)]);
    const m = layerNorm(w, x, `${p}.layer_norm2`, c.layer_norm_eps);
    const ff = linear(w, activation(g, linear(w, m, `${p}.mlp.fc1`), c.hidden_act), `${p}.mlp.fc2`);
    x = g.op('Add', [x, ff]);
    hidden?.push(x);
  }
  return x;
}

export interface TowerGraphOptions {
  /** Also output every hidden state (`hidden_states.i`), for parity tests. */
  hiddenStates?: boolean;
}

/**
 * Vision tower graph. In: pixel_values [B, C, H, W] float32.
 * Out: last_hidden_state [B, N, D], pooler_output [B, D].
 */
export function buildSiglipVisionGraph(store: WeightStore, c: SiglipVisionConfig, opts: TowerGraphOptions = {}): Graph {
  const g = new GraphClass('siglip_vision');
  const w = new GraphWeights(g, store);
  const D = c.hidden_size;
  const P = c.patch_size;
  const grid = Math.floor(c.image_size / P);
  const N = grid * grid;
  store.expect({
    'vision_model.embeddings.patch_embedding.weight': [D, c.num_channels, P, P],
    'vision_model.embeddings.position_embedding.weight': [N, D],
    'vision_model.head.probe': [1, 1, D],
    'vision_model.head.attention.in_proj_weight': [3 * D, D],
  });
  const px = g.input('pixel_values', 'float32', ['batch', c.num_channels, c.image_size, c.image_size]);
  const conv = g.op('Conv', [px, w.get('vision_model.embeddings.patch_embedding.weight'), w.get('vision_model.embeddings.patch_embedding.bias')], {
    kernel_shape: [P, P], strides: [P, P],
  }); // [B, D, gh, gw]
  const tokens = g.op('Transpose', [g.op('Reshape', [conv, g.ints([0, D, N])])], { perm: [0, 2, 1] }); // [B, N, D]
  const emb = g.op('Add', [tokens, w.get('vision_model.embeddings.position_embedding.weight')]);
  const bs = g.op('Concat', [g.op('Slice', [g.op('Shape', [px]), g.ints([0]), g.ints([1])]), g.ints([N])], { axis: 0 }); // [B, N]
  const hidden: Value[] = [];
  let x = flatten2d(emb, D);
  hidden.push(x);
  x = encoder(w, x, bs, 'vision_model.encoder', c, hidden);
  const last = layerNorm(w, x, 'vision_model.post_layernorm', c.layer_norm_eps);
  const last3 = reshapeLead(last, bs, [D]);
  g.output(last3, 'last_hidden_state', 'float32', ['batch', N, D]);

  // MAP head: a learned probe attends over all tokens (torch.nn.MultiheadAttention packing).
  const hp = 'vision_model.head';
  const b1 = g.op('Slice', [bs, g.ints([0]), g.ints([1])]);
  const probe = g.op('Expand', [w.get(`${hp}.probe`), g.op('Concat', [b1, g.ints([1, D])], { axis: 0 })]); // [B, 1, D]
  const inProj = (x: Value, r: number) => w.linear(x, `${hp}.attention.in_proj_weight`, { bias: `${hp}.attention.in_proj_bias`, rows: [r * D, (r + 1) * D] });
  const q = reshapeLead(inProj(flatten2d(probe, D), 0), b1, [1, D]);
  const k = reshapeLead(inProj(last, 1), bs, [D]);
  const v = reshapeLead(inProj(last, 2), bs, [D]);
  const a = g.op('MultiHeadAttention', [q, k, v], { num_heads: c.num_attention_heads }, 'com.microsoft'); // [B, 1, D]
  const attn = linear(w, flatten2d(a, D), `${hp}.attention.out_proj`); // [B, D]
  const m = layerNorm(w, attn, `${hp}.layernorm`, c.layer_norm_eps);
  const pooled = g.op('Add', [attn, linear(w, activation(g, linear(w, m, `${hp}.mlp.fc1`), c.hidden_act), `${hp}.mlp.fc2`)]);
  g.output(pooled, 'pooler_output', 'float32', ['batch', D]);
  if (opts.hiddenStates) hidden.forEach((h, i) => g.output(reshapeLead(h, bs, [D]), `hidden_states.${i}`));
  return g;
}

/**
 * Text tower graph. In: input_ids [B, L] int64 (L ≤ max_position_embeddings; no attention mask,
 * as SigLIP was trained with max_length padding). Out: last_hidden_state [B, L, D], pooler_output [B, P].
 */
export function buildSiglipTextGraph(store: WeightStore, c: SiglipTextConfig, opts: TowerGraphOptions = {}): Graph {
  const g = new GraphClass('siglip_text');
  const w = new GraphWeights(g, store);
  const D = c.hidden_size;
  store.expect({
    'text_model.embeddings.token_embedding.weight': [c.vocab_size, D],
    'text_model.embeddings.position_embedding.weight': [c.max_position_embeddings, D],
    'text_model.head.weight': [c.projection_size, D],
  });
  const ids = g.input('input_ids', 'int64', ['batch', 'length']);
  const bs = g.op('Shape', [ids]); // [B, L]
  const L = g.op('Slice', [bs, g.ints([1]), g.ints([2])]);
  const tok = w.gather('text_model.embeddings.token_embedding.weight', ids); // [B, L, D]
  const posIds = g.op('Range', [g.constant('int64', [], [0]), g.op('Squeeze', [L, g.ints([0])]), g.constant('int64', [], [1])]);
  const pos = g.op('Gather', [w.get('text_model.embeddings.position_embedding.weight'), posIds]); // [L, D]
  const hidden: Value[] = [];
  let x = flatten2d(g.op('Add', [tok, pos]), D);
  hidden.push(x);
  x = encoder(w, x, bs, 'text_model.encoder', c, hidden);
  const last = reshapeLead(layerNorm(w, x, 'text_model.final_layer_norm', c.layer_norm_eps), bs, [D]);
  g.output(last, 'last_hidden_state', 'float32', ['batch', 'length', D]);
  const lastTok = g.op('Squeeze', [g.op('Slice', [last, g.ints([-1]), g.ints([2 ** 31]), g.ints([1])]), g.ints([1])]); // [B, D]
  g.output(linear(w, lastTok, 'text_model.head'), 'pooler_output', 'float32', ['batch', c.projection_size]);
  if (opts.hiddenStates) hidden.forEach((h, i) => g.output(reshapeLead(h, bs, [D]), `hidden_states.${i}`));
  return g;
}

/** Sigmoid-loss logits: logits[i][t] = (îᵢ · t̂ₜ)·exp(scale) + bias, embeddings already L2-normalised. */
export function siglipLogits(imageEmbeds: Float32Array[], textEmbeds: Float32Array[], logitScale: number, logitBias: number): number[][] {
  const s = Math.exp(logitScale);
  return imageEmbeds.map((im) => textEmbeds.map((t) => {
    let d = 0;
    for (let k = 0; k < im.length; k++) d += im[k]! * t[k]!;
    return d * s + logitBias;
  }));
}

export function l2normalize(v: Float32Array): Float32Array {
  let n = 0;
  for (const x of v) n += x * x;
  n = Math.sqrt(n);
  return v.map((x) => x / n);
}

export const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

// ---------------------------------------------------------------------------------------------
// Embedding model: images and texts → L2-normalised embeddings, zero-shot sigmoid scores.

export interface SiglipLoadOptions extends LoadOptions {
  /** Images per vision-tower run (default 8). */
  imageBatch?: number;
}

/** `example_labels` of the folder's tsvlm.json (tsvlm's own settings next to the HF files), if any. */
function exampleLabels(dir: string): string[] | undefined {
  const f = join(dir, 'tsvlm.json');
  if (!existsSync(f)) return undefined;
  const v = (JSON.parse(readFileSync(f, 'utf8')) as { example_labels?: unknown }).example_labels;
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string' && x.trim())) throw new CheckpointError(`${f}: example_labels must be a list of non-empty strings`);
  return v;
}

export class SiglipEmbeddingModel implements EmbeddingModel {
  readonly kind = 'embedding' as const;
  /** From the folder's tsvlm.json `example_labels` (a model's own vocabulary, for forms and demos). */
  exampleLabels?: string[];

  private constructor(
    readonly info: ModelInfo,
    readonly cfg: SiglipConfig,
    readonly vision: ort.InferenceSession,
    readonly text: ort.InferenceSession,
    readonly tokenizer: Tokenizer,
    readonly preprocess: SiglipPreprocessConfig,
    readonly logitScale: number,
    readonly logitBias: number,
    readonly textLength: number,
    readonly padId: number,
    readonly imageBatch: number,
  ) {}

  get dimensions(): number {
    return this.cfg.text.projection_size;
  }

  static async load(folder: ModelFolder, store: WeightStore, opts: SiglipLoadOptions = {}): Promise<SiglipEmbeddingModel> {
    const cfg = parseSiglipConfig(folder.config);
    opts.onProgress?.({ stage: 'tokenizer', done: 0, total: 1 });
    const tok = await loadTokenizer(folder.dir);
    opts.onProgress?.({ stage: 'session', done: 0, total: 2, message: 'building the vision tower' });
    const vision = await createSession(buildSiglipVisionGraph(store, cfg.vision), { device: opts.device });
    opts.onProgress?.({ stage: 'session', done: 1, total: 2, message: 'building the text tower' });
    const text = await createSession(buildSiglipTextGraph(store, cfg.text), { device: opts.device });
    opts.onProgress?.({ stage: 'session', done: 2, total: 2 });
    // SigLIP was trained with padding="max_length" (64): other padding changes the scores.
    const maxLen = Number(folder.tokenizerConfig?.model_max_length);
    const textLength = Number.isInteger(maxLen) && maxLen > 0 && maxLen <= cfg.text.max_position_embeddings ? maxLen : Math.min(64, cfg.text.max_position_embeddings);
    const padId = tok.padTokenId ?? cfg.text.pad_token_id ?? 1;
    const info: ModelInfo = { modelType: 'siglip', name: opts.name ?? basename(folder.dir), dir: folder.dir, device: opts.device ?? 'cpu', contextLength: textLength };
    const model = new SiglipEmbeddingModel(info, cfg, vision, text, tok, siglipPreprocessConfig(folder.preprocessorConfig, cfg.vision.image_size),
      store.readFloat32('logit_scale')[0]!, store.readFloat32('logit_bias')[0]!, textLength, padId, opts.imageBatch ?? 8);
    const labels = exampleLabels(folder.dir);
    if (labels) model.exampleLabels = labels;
    return model;
  }

  /** Token ids truncated (eos kept) and padded to the model's text length, as padding="max_length". */
  textIds(text: string): number[] {
    if (typeof text !== 'string') throw new InputError('texts must be strings');
    return this.tokenizer.padToLength(this.tokenizer.encode(text, { addSpecialTokens: true, maxLength: this.textLength }), this.textLength, 'right', this.padId);
  }

  countTokens(texts: string[], images: number): number {
    const perImage = (this.cfg.vision.image_size / this.cfg.vision.patch_size) ** 2;
    return texts.reduce((n, t) => n + this.tokenizer.encode(t, { addSpecialTokens: true, maxLength: this.textLength }).length, 0) + images * perImage;
  }

  async embedTexts(texts: string[]): Promise<Float32Array[]> {
    if (!texts.length) return [];
    const ids = texts.map((t) => this.textIds(t));
    const out = await this.text.run({ input_ids: i64Tensor(ids.flat(), [ids.length, this.textLength]) });
    return splitRows(out.pooler_output!.data as Float32Array, texts.length).map(l2normalize);
  }

  async embedImages(images: ImageInput[]): Promise<Float32Array[]> {
    const S = this.cfg.vision.image_size, C = this.cfg.vision.num_channels;
    const result: Float32Array[] = [];
    for (let i = 0; i < images.length; i += this.imageBatch) {
      const chunk = images.slice(i, i + this.imageBatch);
      const px = new Float32Array(chunk.length * C * S * S);
      for (let j = 0; j < chunk.length; j++) {
        const img = await decodeImage(chunk[j]!);
        px.set(siglipPixels(img, this.preprocess), j * C * S * S);
      }
      const out = await this.vision.run({ pixel_values: f32Tensor(px, [chunk.length, C, S, S]) });
      result.push(...splitRows(out.pooler_output!.data as Float32Array, chunk.length).map(l2normalize));
    }
    return result;
  }

  async classify(image: ImageInput, labels: string[]): Promise<LabelScore[]> {
    const clean = labels.map((l) => (typeof l === 'string' ? l.trim() : '')).filter((l) => l.length > 0);
    if (!clean.length) throw new InputError('classify needs at least one non-empty label');
    const [img] = await this.embedImages([image]);
    const txt = await this.embedTexts(clean);
    const logits = siglipLogits([img!], txt, this.logitScale, this.logitBias)[0]!;
    return clean.map((label, i) => ({ label, logit: logits[i]!, score: sigmoid(logits[i]!) })).sort((a, b) => b.score - a.score);
  }

  async dispose(): Promise<void> {
    await this.vision.release();
    await this.text.release();
  }
}

function splitRows(flat: Float32Array, n: number): Float32Array[] {
  const d = flat.length / n;
  return Array.from({ length: n }, (_, i) => flat.slice(i * d, (i + 1) * d));
}

export const siglipEntry: ModelEntry = {
  id: 'siglip',
  kind: 'embedding',
  describe: 'SigLIP image/text embeddings and zero-shot classification (config model_type "siglip")',
  matches: (p) => modelTypeOf(p) === 'siglip',
  load: (p, opts) => {
    const { folder, store } = openHfCheckpoint(p, opts);
    return SiglipEmbeddingModel.load(folder, store, opts);
  },
};
