// HoVLE chat: internlm2-chat prompts with tiled images through both stacks, KV-cached decoding,
// and the shared prefix (system + first user text + image spans) reused across questions.
//
// Text-only chat with HoVLE-HD ("post"): the released code fails there (nothing to shuffle); tsvlm
// runs the "pre" text path — the embedding layers over the text rows, their outputs straight into
// the LLM — which is what "post" computes for text rows once there is no image.
import { createHash } from 'node:crypto';
import { basename } from 'node:path';
import type { ChatMessage, DecodedImage, GenerationOptions, LoadOptions, ModelInfo } from '../../api.js';
import { InputError } from '../../api.js';
import { CheckpointError, type ModelFolder, type WeightStore } from '../../io/checkpoint.js';
import { forkSeqState, type PrefixStateOps } from '../../generate/prefix-cache.js';
import { decodeImage } from '../../processors/image.js';
import { loadTokenizer, type Tokenizer } from '../../tokenizers/index.js';
import { eosIdsFor, imagesOf } from '../causal-lm.js';
import { VlmChatModel, type VlmTurn } from '../vlm-chat.js';
import { HovleEngine, parseHovleConfig, type HovleConfig, type HovleState } from './model.js';
import { hovlePromptText, hovleTileCount, hovleTiles, imageSpan, IM_END, IMG_CONTEXT, IMG_END, IMG_START, INTERNVL_SYSTEM_MESSAGE } from './prompt.js';

export interface HovleLoadOptions extends LoadOptions {
  /** Memory budget of the shared-prefix cache (default 1 GiB). */
  prefixCacheBytes?: number;
}

const hovleStateOps: PrefixStateOps<HovleState> = {
  fork: async (s, extra) => ({ emb: await forkSeqState(s.emb, extra), llm: await forkSeqState(s.llm, extra) }),
  bytes: (s) => s.emb.cache.bytes + s.llm.cache.bytes,
};

export class HovleChatModel extends VlmChatModel<HovleState> {
  private constructor(
    info: ModelInfo,
    readonly cfg: HovleConfig,
    readonly engine: HovleEngine,
    tokenizer: Tokenizer,
    eos: number[],
    readonly ids: { bos: number; imgStart: number; imgEnd: number },
    readonly systemMessage: string,
    cacheBytes: number,
  ) {
    super({ info, tokenizer, eos, contextLength: cfg.llm.maxPositions, prefixCacheBytes: cacheBytes, stateOps: hovleStateOps });
  }

  static async load(folder: ModelFolder, store: WeightStore, opts: HovleLoadOptions = {}): Promise<HovleChatModel> {
    const cfg = parseHovleConfig(folder.config, store);
    opts.onProgress?.({ stage: 'tokenizer', done: 0, total: 1 });
    const tok = await loadTokenizer(folder.dir);
    const need = (t: string) => {
      const id = tok.tokenToId(t);
      if (id === undefined) throw new CheckpointError(`${folder.dir}: the tokenizer has no ${t} token (expected an InternLM2 tokenizer with InternVL's added tokens)`);
      return id;
    };
    if (need(IMG_CONTEXT) !== cfg.imgContextId) {
      throw new CheckpointError(`${folder.dir}: the tokenizer's ${IMG_CONTEXT} is ${need(IMG_CONTEXT)} but embedding_config.img_context_token_id is ${cfg.imgContextId}`);
    }
    const bos = tok.bosTokenId ?? cfg.llm.bosTokenId;
    if (bos === undefined) throw new CheckpointError(`${folder.dir}: no BOS token in the tokenizer or config.json`);
    const engine = await HovleEngine.create(store, cfg, { device: opts.device, attention: opts.attention }, (done, message) => opts.onProgress?.({ stage: 'session', done, total: 3, message }));
    const info: ModelInfo = {
      modelType: folder.config.model_type, name: opts.name ?? basename(folder.dir), dir: folder.dir,
      device: opts.device ?? 'cpu', contextLength: cfg.llm.maxPositions,
    };
    // The template's stop token (<|im_end|>) besides the checkpoint's eos ids.
    const eos = [...new Set([need(IM_END), ...eosIdsFor(folder, cfg.llm, tok)])];
    const system = typeof folder.config.system_message === 'string' ? folder.config.system_message : INTERNVL_SYSTEM_MESSAGE;
    return new HovleChatModel(info, cfg, engine, tok, eos, { bos, imgStart: need(IMG_START), imgEnd: need(IMG_END) }, system, opts.prefixCacheBytes ?? 2 ** 30);
  }

  /** Embedding-sequence ids of a conversation whose images give `tiles[i]` tiles each. */
  promptIds(messages: ChatMessage[], tiles: number[]): number[] {
    const spans = tiles.map((n) => imageSpan(n * this.cfg.embTokensPerTile));
    return [this.ids.bos, ...this.tokenizer.encode(hovlePromptText(messages, spans, this.systemMessage), { addSpecialTokens: false })];
  }

  /** LLM rows of an embedding sequence ("post" shrinks image spans 4×). */
  private llmLength(ids: number[]): number {
    if (this.cfg.pixelShuffleLoc === 'pre') return ids.length;
    const img = ids.reduce((a, id) => a + (id === this.cfg.imgContextId ? 1 : 0), 0);
    return ids.length - img + img / 4;
  }

  async countPromptTokens(messages: ChatMessage[], o: GenerationOptions = {}): Promise<number> {
    this.checkMessages(messages);
    const tiles = [];
    for (const im of imagesOf(messages)) {
      const img = await decodeImage(im);
      tiles.push(hovleTileCount(img.width, img.height, this.cfg, o.maxTiles));
    }
    return this.llmLength(this.promptIds(messages, tiles));
  }

  protected async plan(messages: ChatMessage[], o: GenerationOptions): Promise<VlmTurn<HovleState>> {
    const images: DecodedImage[] = [];
    for (const im of imagesOf(messages)) images.push(await decodeImage(im));
    const ids = this.promptIds(messages, images.map((img) => hovleTileCount(img.width, img.height, this.cfg, o.maxTiles)));
    const turn: VlmTurn<HovleState> = {
      prefill: async (s) => this.engine.lastLogits(await this.engine.forward(s, ids)),
      promptIds: ids,
      promptTokens: this.llmLength(ids),
    };
    if (!images.length) return turn;
    const placed = ids.filter((id) => id === this.ids.imgEnd).length;
    if (placed !== images.length) throw new InputError(`the prompt holds ${placed} image spans for ${images.length} images (is "${IMG_END}" typed in a message?)`);
    // Everything up to the last </img> is shared by any question that starts the same way; the
    // key names its tokens and the pixels behind them.
    const cut = ids.lastIndexOf(this.ids.imgEnd) + 1;
    const head = ids.slice(0, cut), rest = ids.slice(cut);
    const hash = createHash('sha256').update(`hovle:${o.maxTiles ?? ''}:${head.join(',')}`);
    for (const img of images) hash.update(`:${img.width}x${img.height}:`).update(img.data);
    return {
      ...turn,
      prefix: {
        key: hash.digest('hex'),
        run: async (s) => {
          const tiled = images.map((img) => hovleTiles(img, this.cfg, o.maxTiles).pixelValues);
          const all = new Float32Array(tiled.reduce((a, t) => a + t.length, 0));
          let off = 0;
          for (const t of tiled) { all.set(t, off); off += t.length; }
          const vision = await this.engine.encodeImages(all);
          await this.engine.forward(s, head, vision.image_rows!.data as Float32Array);
        },
      },
      prefill: async (s) => this.engine.lastLogits(await this.engine.forward(s, rest)),
    };
  }

  protected newState(capacity: number): HovleState {
    return this.engine.newState(capacity);
  }

  protected async step(state: HovleState, token: number): Promise<Float32Array> {
    return this.engine.lastLogits(await this.engine.forward(state, [token]));
  }

  async dispose(): Promise<void> {
    this.prefixCache.clear();
    await this.engine.release();
  }
}
