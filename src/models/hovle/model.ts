// HoVLE / HoVLE-HD (OpenGVLab, arXiv 2412.16158): a holistic embedding module (patch conv +
// pixel shuffle + causal InternLM2 layers over image and text rows together) feeding InternLM2.
// Matches the HoVLE remote code (modeling_internvl_chat.py, modeling_holistic_embedding.py).
//
// Two stacks, two sequences: the embedding layers read the "embedding sequence" (ids with
// <IMG_CONTEXT> rows = image rows), the LLM reads the "LLM sequence". In "pre" mode (HoVLE) both
// are the same (image rows are pixel-shuffled before the layers); in "post" mode (HoVLE-HD) the
// embedding sequence has 1/ratio² more rows per tile and the LLM sequence is derived from its
// outputs (image rows shuffled + projected, text rows passed through). Each stack has its own KV
// cache and positions, so cached decoding appends one row to both.
import { f, Graph, type Value } from '../../graph/builder.js';
import { GraphWeights } from '../../nn/weights.js';
import { activation, linear } from '../../nn/layers.js';
import { CheckpointError, configNumber, type WeightStore } from '../../io/checkpoint.js';
import type { AttentionKind, DecoderSpec } from '../../nn/decoder.js';
import { decoderDims, type DecoderConfig } from '../llama.js';
import { parseInternLM2Config } from '../internlm2.js';
import { parseRopeConfig, type RopeConfig } from '../../generate/rope.js';
import { createSession, f32Tensor, i64Tensor, ort, type SessionOptions } from '../../graph/session.js';
import { DecoderLM, type SeqState } from '../../generate/decoder-lm.js';
import { InputError } from '../../api.js';

const E = 'embedding_model';

export interface HovleConfig {
  /** The embedding layers as a decoder stack (no norm, no head). */
  emb: { spec: DecoderSpec; rope: RopeConfig };
  llm: DecoderConfig;
  /** Tile side fed to the model (force_image_size, else the embedding image_size). */
  imageSize: number;
  /** Side the position table was trained at (embedding image_size). */
  posImageSize: number;
  patchSize: number;
  downsampleRatio: number;
  pixelShuffleLoc: 'pre' | 'post';
  imgContextId: number;
  /** Ids ≥ this index special_text_embeddings (when the checkpoint has it). */
  llmVocabSize: number;
  specialTokens: number;
  /** Patches per tile side (imageSize / patchSize). */
  grid: number;
  /** <IMG_CONTEXT> rows per tile in the LLM sequence (num_image_token). */
  llmTokensPerTile: number;
  /** <IMG_CONTEXT> rows per tile in the embedding sequence (= llm rows in "pre", grid² in "post"). */
  embTokensPerTile: number;
  minDynamicPatch: number;
  maxDynamicPatch: number;
  useThumbnail: boolean;
  dynamicImageSize: boolean;
  template: string;
}

export function isHovleConfig(cfg: Record<string, any>): boolean {
  const e = cfg.embedding_config;
  return cfg.model_type === 'internvl_chat' && !!e && typeof e === 'object' && (e.model_type === 'holistic_embedding' || 'pixel_shuffle_loc' in e || 'llm_vocab_size' in e);
}

export function parseHovleConfig(cfg: Record<string, any>, store: WeightStore): HovleConfig {
  const what = 'a HoVLE checkpoint (internvl_chat with a holistic embedding_config)';
  const ec = cfg.embedding_config, lc = cfg.llm_config;
  if (!ec || typeof ec !== 'object') throw new CheckpointError(`config.json: embedding_config missing (expected ${what})`);
  if (!lc || typeof lc !== 'object') throw new CheckpointError(`config.json: llm_config missing (expected ${what})`);
  if (lc.model_type !== undefined && lc.model_type !== 'internlm2') {
    throw new CheckpointError(`config.json: llm_config.model_type is ${JSON.stringify(lc.model_type)}; tsvlm runs HoVLE with an InternLM2 LLM only`);
  }
  const llm = parseInternLM2Config(lc, store, 'language_model.model', 'language_model.output.weight');
  const llmVocabSize = configNumber(ec, 'llm_vocab_size', what);
  const dims = decoderDims({ ...ec, head_dim: undefined, vocab_size: llmVocabSize }, what);
  const spec: DecoderSpec = {
    ...dims,
    names: {
      embed: `${E}.llm_text_embeddings.weight`,
      norm: '',
      lmHead: '',
      layer: (i) => {
        const p = `${E}.encoder.${i}`;
        return {
          inputNorm: `${p}.attention_norm.weight`, postNorm: `${p}.ffn_norm.weight`, qkvPacked: `${p}.attention.wqkv`,
          o: `${p}.attention.wo`, gate: `${p}.feed_forward.w1`, up: `${p}.feed_forward.w3`, down: `${p}.feed_forward.w2`,
        };
      },
    },
  };
  if (ec.use_ls) throw new CheckpointError('config.json: embedding_config.use_ls is true; layer scale is not supported (the reference asserts it is false)');
  if (ec.attention_bias || ec.mlp_bias) throw new CheckpointError('config.json: embedding_config attention_bias/mlp_bias are not supported (the reference InternLM2 layers have no biases)');
  if (ec.use_pixel_shuffle_proj === false) throw new CheckpointError('config.json: embedding_config.use_pixel_shuffle_proj false is not supported (every released HoVLE uses the projection)');
  const loc = ec.pixel_shuffle_loc ?? 'pre';
  if (loc !== 'pre' && loc !== 'post') throw new CheckpointError(`config.json: embedding_config.pixel_shuffle_loc ${JSON.stringify(loc)} (expected "pre" or "post")`);
  const patchSize = configNumber(ec, 'patch_size', what);
  const posImageSize = configNumber(ec, 'image_size', what);
  const imageSize = configNumber(cfg, 'force_image_size', what, posImageSize);
  const ratio = configNumber(cfg, 'downsample_ratio', what, configNumber(ec, 'downsample_ratio', what, 0.5));
  if (ratio !== 0.5) throw new CheckpointError(`config.json: downsample_ratio ${ratio} is not supported (HoVLE uses 0.5)`);
  if (imageSize % patchSize || posImageSize % patchSize) throw new CheckpointError(`config.json: image sizes ${imageSize}/${posImageSize} are not multiples of patch_size ${patchSize}`);
  const grid = imageSize / patchSize;
  if (grid % 2) throw new CheckpointError(`config.json: ${grid} patches per side cannot be pixel-shuffled by 0.5`);
  if (loc === 'post' && imageSize !== posImageSize) {
    throw new CheckpointError(`config.json: pixel_shuffle_loc "post" needs force_image_size (${imageSize}) = embedding_config.image_size (${posImageSize}), as the reference views image rows per embedding tile`);
  }
  const specials = ec.special_token_maps && typeof ec.special_token_maps === 'object' ? Object.keys(ec.special_token_maps).length : 0;
  const D = dims.hiddenSize, pg = posImageSize / patchSize;
  if (configNumber(ec, 'llm_hidden_size', what, D) !== D || llm.spec.hiddenSize !== D) {
    throw new CheckpointError(`config.json: embedding hidden_size ${D} differs from the LLM's ${llm.spec.hiddenSize}; HoVLE feeds embedding outputs straight to the LLM`);
  }
  const shapes: Record<string, number[]> = {
    [`${E}.vision_embeddings.patch_embedding.weight`]: [D, configNumber(ec, 'num_channels', what, 3), patchSize, patchSize],
    [`${E}.vision_embeddings.patch_embedding.bias`]: [D],
    [`${E}.vision_embeddings.position_embedding`]: [1, pg * pg + 1, D],
    [`${E}.llm_text_embeddings.weight`]: [llmVocabSize, D],
    [`${E}.pixel_shuffle_proj.0.weight`]: [D, 4 * D],
    [`${E}.pixel_shuffle_proj.0.bias`]: [D],
    [`${E}.pixel_shuffle_proj.2.weight`]: [D, D],
    [`${E}.pixel_shuffle_proj.2.bias`]: [D],
  };
  if (specials) shapes[`${E}.special_text_embeddings.weight`] = [specials, D];
  store.expect(shapes);
  const llmTokens = (grid * grid) / 4;
  return {
    emb: { spec, rope: parseRopeConfig(ec, spec.headDim) },
    llm,
    imageSize, posImageSize, patchSize, downsampleRatio: ratio, pixelShuffleLoc: loc,
    imgContextId: configNumber(ec, 'img_context_token_id', what, 92546),
    llmVocabSize, specialTokens: specials, grid,
    llmTokensPerTile: llmTokens,
    embTokensPerTile: loc === 'pre' ? llmTokens : grid * grid,
    minDynamicPatch: configNumber(cfg, 'min_dynamic_patch', what, 1),
    maxDynamicPatch: configNumber(cfg, 'max_dynamic_patch', what, 12),
    useThumbnail: cfg.use_thumbnail ?? true,
    dynamicImageSize: cfg.dynamic_image_size ?? true,
    template: cfg.template ?? 'internlm2-chat',
  };
}

/**
 * InternVL pixel shuffle (ratio 0.5, ps_version v2) + pixel_shuffle_proj, on x [n, g², D] →
 * shuffled [n, g²/4, 4D] (token (y/2)·g/2 + x/2, channel (y%2)·2D + (x%2)·D + c) and rows [n·g²/4, D].
 */
function shuffleProject(w: GraphWeights, x: Value, g: number, D: number): { shuffled: Value; rows: Value } {
  const G = w.g;
  let t = G.op('Reshape', [x, G.ints([-1, g, g / 2, 2 * D])]); // [n, y, x/2, 2D]
  t = G.op('Transpose', [t], { perm: [0, 2, 1, 3] }); // [n, x/2, y, 2D]
  t = G.op('Reshape', [t, G.ints([-1, g / 2, g / 2, 4 * D])]); // [n, x/2, y/2, 4D]
  t = G.op('Transpose', [t], { perm: [0, 2, 1, 3] }); // [n, y/2, x/2, 4D]
  const shuffled = G.op('Reshape', [t, G.ints([-1, (g * g) / 4, 4 * D])]);
  const h = activation(G, linear(w, G.op('Reshape', [t, G.ints([-1, 4 * D])]), `${E}.pixel_shuffle_proj.0`), 'gelu');
  return { shuffled, rows: linear(w, h, `${E}.pixel_shuffle_proj.2`) };
}

/**
 * Vision rows. In: pixel_values [n, 3, S, S]. Out: vision_embeds [n, g², D] (conv + position
 * table, bicubic-resized when S differs from the trained size); "pre" also pixel_shuffle_out
 * [n, g²/4, 4D] and image_rows [n·g²/4, D]; "post" image_rows = vision_embeds as [n·g², D].
 */
export function buildHovleVisionGraph(store: WeightStore, c: HovleConfig): Graph {
  const g = new Graph('hovle_vision');
  const w = new GraphWeights(g, store);
  const D = c.emb.spec.hiddenSize, S = c.imageSize, n = c.grid, pg = c.posImageSize / c.patchSize;
  const px = g.input('pixel_values', 'float32', ['tiles', 3, S, S]);
  const conv = g.op('Conv', [px, w.get(`${E}.vision_embeddings.patch_embedding.weight`), w.get(`${E}.vision_embeddings.patch_embedding.bias`)], {
    kernel_shape: [c.patchSize, c.patchSize], strides: [c.patchSize, c.patchSize],
  }); // [n, D, g, g]
  const tokens = g.op('Transpose', [g.op('Reshape', [conv, g.ints([0, D, n * n])])], { perm: [0, 2, 1] }); // [n, g², D]
  // Slot 0 (CLS) is unused; slots 1.. are a pg×pg grid.
  let pos = g.op('Slice', [w.get(`${E}.vision_embeddings.position_embedding`), g.ints([1]), g.ints([pg * pg + 1]), g.ints([1])]); // [1, pg², D]
  if (pg !== n) {
    // F.interpolate(mode='bicubic', align_corners=False): a = -0.75, half-pixel centres, edge clamp.
    const grid = g.op('Transpose', [g.op('Reshape', [pos, g.ints([1, pg, pg, D])])], { perm: [0, 3, 1, 2] });
    const resized = g.op('Resize', [grid, null, null, g.ints([1, D, n, n])], { mode: 'cubic', cubic_coeff_a: f(-0.75), coordinate_transformation_mode: 'pytorch_half_pixel' });
    pos = g.op('Transpose', [g.op('Reshape', [resized, g.ints([1, D, n * n])])], { perm: [0, 2, 1] });
  }
  const emb = g.op('Add', [tokens, pos]);
  g.output(emb, 'vision_embeds');
  if (c.pixelShuffleLoc === 'pre') {
    const { shuffled, rows } = shuffleProject(w, emb, n, D);
    g.output(shuffled, 'pixel_shuffle_out');
    g.output(rows, 'image_rows');
  } else g.output(g.op('Reshape', [emb, g.ints([-1, D])]), 'image_rows');
  return g;
}

/** "post" mode: embedding-layer outputs of image rows [n·g², D] → pixel_shuffle_out, image_rows [n·g²/4, D]. */
export function buildHovlePostShuffleGraph(store: WeightStore, c: HovleConfig): Graph {
  const g = new Graph('hovle_post_shuffle');
  const w = new GraphWeights(g, store);
  const D = c.emb.spec.hiddenSize;
  const x = g.input('rows', 'float32', ['rows', D]);
  const { shuffled, rows } = shuffleProject(w, g.op('Reshape', [x, g.ints([-1, c.grid * c.grid, D])]), c.grid, D);
  g.output(g.op('Reshape', [shuffled, g.ints([-1, 4 * D])]), 'pixel_shuffle_out');
  g.output(rows, 'image_rows');
  return g;
}

/** Text rows of the embedding module: llm_text_embeddings[id], special_text_embeddings[id − V] for id ≥ V. */
export function buildHovleTextGraph(store: WeightStore, c: HovleConfig): Graph {
  const g = new Graph('hovle_text');
  const w = new GraphWeights(g, store);
  const ids = g.input('input_ids', 'int64', ['seq']);
  const V = c.llmVocabSize;
  // w.gather: quantized tables under --dtype q8/q4, plain Gather at fp32.
  const table = `${E}.llm_text_embeddings.weight`;
  if (!c.specialTokens) {
    g.output(w.gather(table, ids), 'text_embeds');
    return g;
  }
  const isSpecial = g.op('GreaterOrEqual', [ids, g.constant('int64', [], [V])]);
  const zero = g.constant('int64', [], [0]);
  const plain = w.gather(table, g.op('Where', [isSpecial, zero, ids]));
  const special = w.gather(`${E}.special_text_embeddings.weight`, g.op('Where', [isSpecial, g.op('Sub', [ids, g.constant('int64', [], [V])]), zero]));
  g.output(g.op('Where', [g.op('Unsqueeze', [isSpecial, g.ints([1])]), special, plain]), 'text_embeds');
  return g;
}

/** Both stacks' caches: the embedding sequence and the LLM sequence grow separately. */
export interface HovleState {
  emb: SeqState;
  llm: SeqState;
}

export interface HovleForward {
  /** LLM outputs (logits, hidden.* when asked). */
  llm: Record<string, ort.Tensor>;
  /** Embedding-layer outputs (hidden, hidden.* when asked). */
  emb: Record<string, ort.Tensor>;
  /** Input of embedding layer 0 [S_emb, D]. */
  embInput: Float32Array;
  /** LLM inputs_embeds [S_llm, D]. */
  llmInput: Float32Array;
  /** Rows added to the LLM sequence. */
  llmRows: number;
  /** "post": pixel_shuffle_out / image_rows of the image rows in this chunk. */
  post?: Record<string, ort.Tensor>;
}

export interface HovleEngineOptions extends SessionOptions {
  allLogits?: boolean;
  hiddenStates?: boolean;
  /** Decoder attention of both stacks ('gqa': GroupQueryAttention, CPU). */
  attention?: AttentionKind;
}

/** The sessions of one HoVLE checkpoint and one forward over both stacks. */
export class HovleEngine {
  private constructor(
    readonly cfg: HovleConfig,
    readonly vision: ort.InferenceSession,
    readonly text: ort.InferenceSession,
    readonly postShuffle: ort.InferenceSession | undefined,
    readonly embLayers: DecoderLM,
    readonly llm: DecoderLM,
  ) {}

  static async create(store: WeightStore, cfg: HovleConfig, opts: HovleEngineOptions = {}, onStep?: (done: number, message: string) => void): Promise<HovleEngine> {
    const so: SessionOptions = { device: opts.device };
    onStep?.(0, 'building the vision graph');
    const vision = await createSession(buildHovleVisionGraph(store, cfg), so);
    const text = await createSession(buildHovleTextGraph(store, cfg), so);
    const post = cfg.pixelShuffleLoc === 'post' ? await createSession(buildHovlePostShuffleGraph(store, cfg), so) : undefined;
    onStep?.(1, 'building the embedding layers');
    const embLayers = await DecoderLM.create(store, cfg.emb.spec, cfg.emb.rope, { input: 'embeds', head: 'none', hiddenStates: opts.hiddenStates, device: opts.device, attention: opts.attention });
    onStep?.(2, 'building the language model');
    const llm = await DecoderLM.create(store, cfg.llm.spec, cfg.llm.rope, { input: 'embeds', allLogits: opts.allLogits, hiddenStates: opts.hiddenStates, device: opts.device, attention: opts.attention });
    onStep?.(3, 'ready');
    return new HovleEngine(cfg, vision, text, post, embLayers, llm);
  }

  newState(capacity = 64): HovleState {
    return { emb: this.embLayers.newState(1, undefined, capacity), llm: this.llm.newState(1, undefined, capacity) };
  }

  /** Tiles [n, 3, S, S] → vision outputs; `image_rows` are the rows spliced at <IMG_CONTEXT> of the embedding sequence. */
  async encodeImages(pixelValues: Float32Array): Promise<Record<string, ort.Tensor>> {
    const S = this.cfg.imageSize;
    const n = pixelValues.length / (3 * S * S);
    if (!Number.isInteger(n) || n < 1) throw new InputError(`pixel values hold ${pixelValues.length} numbers, not a whole number of 3×${S}×${S} tiles`);
    return this.vision.run({ pixel_values: f32Tensor(pixelValues, [n, 3, S, S]) });
  }

  /** Embedding-module input rows [S, D]: text rows, <IMG_CONTEXT> rows replaced in order by `imageRows`. */
  async embedRows(ids: number[], imageRows?: Float32Array): Promise<Float32Array> {
    const D = this.cfg.emb.spec.hiddenSize;
    const maxId = this.cfg.llmVocabSize + this.cfg.specialTokens;
    for (const id of ids) if (!Number.isInteger(id) || id < 0 || id >= maxId) throw new InputError(`token id ${id} is outside the embedding vocabulary (0..${maxId - 1})`);
    const out = await this.text.run({ input_ids: i64Tensor(ids, [ids.length]) });
    const rows = out.text_embeds!.data as Float32Array;
    const nImg = ids.reduce((a, id) => a + (id === this.cfg.imgContextId ? 1 : 0), 0);
    const have = imageRows ? imageRows.length / D : 0;
    if (nImg !== have) throw new InputError(`the prompt has ${nImg} <IMG_CONTEXT> tokens but the images give ${have} rows`);
    let k = 0;
    ids.forEach((id, t) => {
      if (id === this.cfg.imgContextId) rows.set(imageRows!.subarray(k * D, ++k * D), t * D);
    });
    return rows;
  }

  /**
   * Runs new tokens of the embedding sequence through both stacks (appending to both caches).
   * `imageRows` must hold one row per <IMG_CONTEXT> in `ids` (from encodeImages).
   */
  async forward(state: HovleState, ids: number[], imageRows?: Float32Array): Promise<HovleForward> {
    const D = this.cfg.emb.spec.hiddenSize;
    const embInput = await this.embedRows(ids, imageRows);
    const emb = await this.embLayers.forward(state.emb, { embeds: embInput, seq: ids.length });
    const hidden = emb.hidden!.data as Float32Array; // [S, D]
    let llmInput = hidden;
    let post: Record<string, ort.Tensor> | undefined;
    const img = ids.flatMap((id, t) => (id === this.cfg.imgContextId ? [t] : []));
    if (this.cfg.pixelShuffleLoc === 'post' && img.length) {
      // Image rows of the layer outputs → shuffle + projection (1/4 as many rows); text rows pass through.
      if (img.length % this.cfg.embTokensPerTile) throw new InputError(`${img.length} <IMG_CONTEXT> rows are not whole tiles of ${this.cfg.embTokensPerTile}`);
      const rows = new Float32Array(img.length * D);
      img.forEach((t, k) => rows.set(hidden.subarray(t * D, (t + 1) * D), k * D));
      post = await this.postShuffle!.run({ rows: f32Tensor(rows, [img.length, D]) });
      const proj = post.image_rows!.data as Float32Array;
      const source = this.llmRowSource(ids);
      llmInput = new Float32Array(source.length * D);
      let k = 0;
      source.forEach((t, r) => llmInput.set(t >= 0 ? hidden.subarray(t * D, (t + 1) * D) : proj.subarray(k * D, ++k * D), r * D));
    }
    const llmRows = llmInput.length / D;
    const llm = await this.llm.forward(state.llm, { embeds: llmInput, seq: llmRows });
    return { llm, emb, embInput, llmInput, llmRows, post };
  }

  /**
   * For each LLM row, the embedding-sequence row whose output it is (−1: a projected image row).
   * "post": every 4th <IMG_CONTEXT> row starts a projected row, so image spans shrink 4× in place.
   */
  llmRowSource(ids: number[]): number[] {
    if (this.cfg.pixelShuffleLoc === 'pre') return ids.map((_, t) => t);
    const out: number[] = [];
    let k = 0;
    ids.forEach((id, t) => {
      if (id !== this.cfg.imgContextId) out.push(t);
      else if (k++ % 4 === 0) out.push(-1);
    });
    return out;
  }

  lastLogits(f: HovleForward): Float32Array {
    return this.llm.lastLogits(f.llm)[0]!;
  }

  async release(): Promise<void> {
    await this.vision.release();
    await this.text.release();
    await this.postShuffle?.release();
    await this.embLayers.release();
    await this.llm.release();
  }
}
