// SAIL: one Mistral transformer reading raw 32×32 pixel patches (no vision encoder).
// Matches ByteDance-Seed/SAIL modeling_sail.py (SailForCausalLM) and example.py.
import { Graph } from '../graph/builder.js';
import { GraphWeights } from '../nn/weights.js';
import { linear } from '../nn/layers.js';
import { CheckpointError, configInt, type WeightStore } from '../io/checkpoint.js';
import { parseMistralConfig } from './mistral.js';
import type { DecoderConfig } from './llama.js';
import { mropeTables, invFreq, type RopeConfig } from '../generate/rope.js';
import { createHash } from 'node:crypto';
import { basename } from 'node:path';
import type { ChatMessage, DecodedImage, GenerationOptions, LoadOptions, ModelInfo } from '../api.js';
import { InputError } from '../api.js';
import type { ModelFolder } from '../io/checkpoint.js';
import { createSession, f32Tensor, i64Tensor, ort } from '../graph/session.js';
import { DecoderLM, type SeqState } from '../generate/decoder-lm.js';
import { loadTokenizer, type Tokenizer } from '../tokenizers/index.js';
import { decodeImage } from '../processors/image.js';
import { openHfCheckpoint, type ModelEntry } from './entry.js';
import { sailMaxPatches, sailPreprocess } from '../processors/vision.js';
import { DEFAULT_MAX_NEW_TOKENS, eosIdsFor, imagesOf, textOf } from './causal-lm.js';
import { VlmChatModel, type VlmTurn } from './vlm-chat.js';

export const SAIL_SPECIAL_TOKENS = ['<vision>', '<vpatch>', '<vrow_sep>', '<vframe_sep>', '</vision>', '<|vis_cls|>'] as const;

export interface SailConfig extends DecoderConfig {
  patchSize: number;
  /** Token ids of <vision>, <vpatch>, </vision> when config.json names them (else from the tokenizer). */
  visionTokenIds: Partial<Record<(typeof SAIL_SPECIAL_TOKENS)[number], number>>;
}

export function isSailConfig(cfg: Record<string, any>): boolean {
  return typeof cfg.vision_patch_size === 'number' && (cfg.model_type === 'mistral' || cfg.model_type === 'sail');
}

export function parseSailConfig(cfg: Record<string, any>, store: WeightStore): SailConfig {
  if (typeof cfg.vision_patch_size !== 'number') {
    throw new CheckpointError('config.json: vision_patch_size missing (expected a SAIL checkpoint)');
  }
  const dec = parseMistralConfig({ ...cfg, model_type: 'mistral' }, store);
  const ids: SailConfig['visionTokenIds'] = { ...(cfg.vision_special_tokens ?? {}) };
  const legacy: Record<string, string> = {
    vis_beg_tok_id: '<vision>', vis_patch_tok_id: '<vpatch>', vis_rsep_tok_id: '<vrow_sep>',
    vis_frm_tok_id: '<vframe_sep>', vis_end_tok_id: '</vision>', vis_cls_tok_id: '<|vis_cls|>',
  };
  for (const [k, tok] of Object.entries(legacy)) if (typeof cfg[k] === 'number') (ids as Record<string, number>)[tok] = cfg[k];
  const p = configInt(cfg, 'vision_patch_size', 'a SAIL checkpoint', { max: 1024 });
  store.expect({ 'model.vis_embed.weight': [dec.spec.hiddenSize, 3 * p * p] });
  return { ...dec, patchSize: p, visionTokenIds: ids };
}

/**
 * Input embeddings: embed_tokens(ids), plus vis_embed(patch) added at <vpatch> tokens.
 * In: input_ids [B, S], vision_patches [N, 3·p·p], vision_patch_indices [B, S] (-1 = none).
 * Out: inputs_embeds [B, S, D], vis_embed [N, D].
 */
export function buildSailEmbedGraph(store: WeightStore, c: SailConfig): Graph {
  const g = new Graph('sail_embed');
  const w = new GraphWeights(g, store);
  const D = c.spec.hiddenSize;
  const ids = g.input('input_ids', 'int64', ['batch', 'seq']);
  const patches = g.input('vision_patches', 'float32', ['patches', 3 * c.patchSize * c.patchSize]);
  const idx = g.input('vision_patch_indices', 'int64', ['batch', 'seq']);
  const tok = w.gather(c.spec.names.embed, ids);
  const vis = linear(w, patches, 'model.vis_embed', false); // [N, D]
  // Row 0 is a zero vector for tokens without a patch (index -1 → 0).
  const table = g.op('Concat', [g.constant('float32', [1, D], new Float32Array(D)), vis], { axis: 0 });
  const add = g.op('Gather', [table, g.op('Add', [idx, g.constant('int64', [], [1])])]);
  g.output(g.op('Add', [tok, add]), 'inputs_embeds');
  g.output(vis, 'vis_embed');
  return g;
}

/**
 * 3-axis positions (T, H, W) of an image prompt, as example.py's generate_mm_pos_ids_singleit:
 * tokens before the first patch s: (t,t,t); patch k: (s, s+k//nw, s+k%nw); after the image:
 * t − nh·nw + max(nh, nw) on all axes. Returns [3][L].
 */
export function sailPositions(len: number, grid?: { nh: number; nw: number; start: number }): number[][] {
  const T: number[] = [], H: number[] = [], W: number[] = [];
  for (let t = 0; t < len; t++) {
    if (!grid || t < grid.start) {
      T.push(t); H.push(t); W.push(t);
      continue;
    }
    const { nh, nw, start: s } = grid;
    const k = t - s;
    if (k < nh * nw) {
      T.push(s); H.push(s + Math.floor(k / nw)); W.push(s + (k % nw));
    } else {
      const p = t - nh * nw + Math.max(nh, nw);
      T.push(p); H.push(p); W.push(p);
    }
  }
  return [T, H, W];
}

/** SAIL's M-RoPE: the first half of the frequencies rotate by H, the second half by W. */
export function sailRope(rope: RopeConfig, positions: number[][][]): { cos: Float32Array; sin: Float32Array } {
  const half = rope.headDim / 2;
  const axisOf = Array.from({ length: half }, (_, k) => (k < half / 2 ? 1 : 2));
  const maxPos = Math.max(...positions.flat(2));
  return mropeTables(invFreq(rope, maxPos + 1), axisOf, positions);
}

// ---------------------------------------------------------------------------------------------
// Chat: image prefix (computed once, cached by image content) + Mistral [INST] turns.


export interface SailLoadOptions extends LoadOptions {
  /** Memory budget of the image-prefix cache (default 512 MiB). */
  prefixCacheBytes?: number;
  /** Most patches per image (default: preprocessor_config.json's max_patches, else SAIL's 4096). */
  maxPatches?: number;
}

/** SAIL's text after the image: BOS + Mistral [INST] turns (earlier answers closed by </s>). */
export function sailPromptText(messages: ChatMessage[]): string {
  let system = '';
  let out = '';
  for (const m of messages) {
    const t = textOf(m).trim();
    if (m.role === 'system') system += (system ? '\n\n' : '') + t;
    else if (m.role === 'user') {
      out += `[INST] ${system ? `${system}\n\n` : ''}${t} [/INST]`;
      system = '';
    } else out += ` ${t}</s>`;
  }
  return out;
}

export class SailChatModel extends VlmChatModel<SeqState> {
  private constructor(
    info: ModelInfo,
    readonly cfg: SailConfig,
    readonly embed: ort.InferenceSession,
    readonly lm: DecoderLM,
    tokenizer: Tokenizer,
    eos: number[],
    readonly ids: { vision: number; vpatch: number; visionEnd: number; bos: number },
    readonly maxPatches: number,
    cacheBytes: number,
  ) {
    super({ info, tokenizer, eos, contextLength: cfg.maxPositions, maxImages: 1, prefixCacheBytes: cacheBytes });
  }

  static async load(folder: ModelFolder, store: WeightStore, opts: SailLoadOptions = {}): Promise<SailChatModel> {
    const cfg = parseSailConfig(folder.config, store);
    opts.onProgress?.({ stage: 'tokenizer', done: 0, total: 1 });
    const tok = await loadTokenizer(folder.dir);
    const idOf = (t: (typeof SAIL_SPECIAL_TOKENS)[number]) => {
      const id = tok.tokenToId(t) ?? cfg.visionTokenIds[t];
      if (id === undefined) throw new CheckpointError(`${folder.dir}: the tokenizer has no ${t} token (expected a SAIL checkpoint)`);
      return id;
    };
    const bos = tok.bosTokenId ?? cfg.bosTokenId;
    if (bos === undefined) throw new CheckpointError(`${folder.dir}: no BOS token in the tokenizer or config.json`);
    opts.onProgress?.({ stage: 'session', done: 0, total: 2, message: 'building the embedding graph' });
    const embed = await createSession(buildSailEmbedGraph(store, cfg), { device: opts.device });
    opts.onProgress?.({ stage: 'session', done: 1, total: 2, message: 'building the decoder graph' });
    const lm = await DecoderLM.create(store, cfg.spec, cfg.rope, { input: 'embeds', device: opts.device, attention: opts.attention }, cfg.slidingWindow);
    opts.onProgress?.({ stage: 'session', done: 2, total: 2 });
    const info: ModelInfo = {
      modelType: 'sail', name: opts.name ?? basename(folder.dir), dir: folder.dir,
      device: opts.device ?? 'cpu', contextLength: cfg.maxPositions,
    };
    return new SailChatModel(info, cfg, embed, lm, tok, eosIdsFor(folder, cfg, tok),
      { vision: idOf('<vision>'), vpatch: idOf('<vpatch>'), visionEnd: idOf('</vision>'), bos },
      opts.maxPatches ?? sailMaxPatches(folder.preprocessorConfig, cfg.patchSize), opts.prefixCacheBytes ?? 512 * 2 ** 20);
  }

  private async embedIds(ids: number[], patches?: Float32Array, indices?: number[]): Promise<Float32Array> {
    const pp = 3 * this.cfg.patchSize ** 2;
    const p = patches ?? new Float32Array(0);
    const out = await this.embed.run({
      input_ids: i64Tensor(ids, [1, ids.length]),
      vision_patches: f32Tensor(p, [p.length / pp, pp]),
      vision_patch_indices: i64Tensor(indices ?? new Array(ids.length).fill(-1), [1, ids.length]),
    });
    return out.inputs_embeds!.data as Float32Array;
  }

  /**
   * Most patches an image may take in a prompt of `textTokens` text tokens: the preprocessor's
   * limit (or the caller's maxImagePixels), and what the context leaves after the text, the
   * image's two marker tokens and the reply (maxNewTokens, at most a quarter of the context).
   * Images larger than that are downsized by SAIL's own size rule.
   */
  patchBudget(textTokens: number, o: GenerationOptions = {}): number {
    const p = this.cfg.patchSize, ctx = this.cfg.maxPositions;
    if (o.maxImagePixels !== undefined && !(Number.isFinite(o.maxImagePixels) && o.maxImagePixels >= p * p)) {
      throw new InputError(`maxImagePixels must be at least one ${p}×${p} patch (${p * p}); got ${o.maxImagePixels}`);
    }
    const wanted = o.maxImagePixels !== undefined ? Math.floor(o.maxImagePixels / (p * p)) : this.maxPatches;
    const reply = Math.min(o.maxNewTokens ?? DEFAULT_MAX_NEW_TOKENS, Math.floor(ctx / 4));
    return Math.max(1, Math.min(wanted, ctx - textTokens - 2 - reply));
  }

  /** The image prefix (<vision> patches </vision>, bidirectional) computed into `state`. */
  private async runImagePrefix(state: SeqState, img: DecodedImage, maxPatches: number): Promise<void> {
    const { patches, nh, nw } = sailPreprocess(img, { patchSize: this.cfg.patchSize, maxPatches });
    const n = nh * nw;
    const ids = [this.ids.vision, ...new Array(n).fill(this.ids.vpatch), this.ids.visionEnd];
    const indices = [-1, ...Array.from({ length: n }, (_, i) => i), -1];
    const embeds = await this.embedIds(ids, patches, indices);
    const pos = sailPositions(ids.length, { nh, nw, start: 1 });
    await this.lm.forward(state, {
      embeds, seq: ids.length, prefix: ids.length,
      rope: sailRope(this.cfg.rope, pos.map((a) => [a])),
      positions: [pos[0]!.map((_, t) => Math.max(pos[0]![t]!, pos[1]![t]!, pos[2]![t]!))],
    });
  }

  textIds(messages: ChatMessage[]): number[] {
    return [this.ids.bos, ...this.tokenizer.encode(sailPromptText(messages), { addSpecialTokens: false })];
  }

  /** Image rows of a decoded image (<vision> + patches + </vision>), from its size alone. */
  private imageTokens(img: DecodedImage, maxPatches: number): number {
    const { nh, nw } = sailPreprocess(img, { patchSize: this.cfg.patchSize, maxPatches, sizeOnly: true });
    return nh * nw + 2;
  }

  async countPromptTokens(messages: ChatMessage[], o: GenerationOptions = {}): Promise<number> {
    this.checkMessages(messages);
    const images = imagesOf(messages);
    const text = this.textIds(messages).length;
    return text + (images.length ? this.imageTokens(await decodeImage(images[0]!), this.patchBudget(text, o)) : 0);
  }

  protected async plan(messages: ChatMessage[], o: GenerationOptions): Promise<VlmTurn<SeqState>> {
    const images = imagesOf(messages);
    const text = this.textIds(messages);
    let prefixLen = 0;
    let prefix: VlmTurn<SeqState>['prefix'];
    if (images.length) {
      const img = await decodeImage(images[0]!);
      const budget = this.patchBudget(text.length, o);
      prefixLen = this.imageTokens(img, budget);
      const key = createHash('sha256').update(`${img.width}x${img.height}:${this.cfg.patchSize}:${budget}:`).update(img.data).digest('hex');
      prefix = { key, run: (state) => this.runImagePrefix(state, img, budget) };
    }
    return {
      prefix,
      prefill: async (state) => this.lm.lastLogits(await this.lm.forward(state, { embeds: await this.embedIds(text), seq: text.length }))[0]!,
      promptIds: text,
      promptTokens: prefixLen + text.length,
    };
  }

  protected newState(capacity: number): SeqState {
    return this.lm.newState(1, undefined, capacity);
  }

  protected async step(state: SeqState, token: number): Promise<Float32Array> {
    return this.lm.lastLogits(await this.lm.forward(state, { embeds: await this.embedIds([token]), seq: 1 }))[0]!;
  }

  async dispose(): Promise<void> {
    this.prefixCache.clear();
    await this.embed.release();
    await this.lm.release();
  }
}

export const sailEntry: ModelEntry = {
  id: 'sail',
  kind: 'chat',
  describe: 'SAIL: one Mistral transformer over raw pixel patches (model_type "mistral"/"sail" with vision_patch_size)',
  matches: (p) => !!p.config && isSailConfig(p.config),
  load: (p, opts) => {
    const { folder, store } = openHfCheckpoint(p, opts);
    return SailChatModel.load(folder, store, opts);
  },
};
