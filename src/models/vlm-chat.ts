// The chat plumbing every VLM shares (SAIL, HoVLE, ...): message validation, the image limit,
// the shared-prefix KV cache (a second question about the same image skips the image rows),
// max-token checks, sampling, streaming. A model supplies only what is its own: how a
// conversation becomes a cacheable prefix + the rest of the prompt, and one decoding step.
import type { ChatMessage, ChatModel, ChatStream, GenerationOptions, ModelInfo } from '../api.js';
import { InputError } from '../api.js';
import { PrefixCache, type PrefixStateOps } from '../generate/prefix-cache.js';
import { streamGeneration } from '../generate/generate.js';
import { TextStreamer, type Tokenizer } from '../tokenizers/index.js';
import { checkMaxTokens, imagesOf, lazyPrefill, samplerFor, validateMessages } from './causal-lm.js';

/** One request, planned by the model before anything runs. */
export interface VlmTurn<S> {
  /**
   * A prefix worth caching (image rows and what precedes them): `key` names its content exactly
   * (pixels, settings, tokens); `run` computes it into a fresh state. Absent: nothing to share.
   */
  prefix?: { key: string; run(state: S): Promise<void> };
  /** Runs the rest of the prompt on top of the (prefix) state; returns the last logits. */
  prefill(state: S): Promise<Float32Array>;
  /** Prompt ids seen by repetition penalties (the text part is enough). */
  promptIds: number[];
  /** Positions the prompt takes in the model's context (for limits and usage). */
  promptTokens: number;
}

export interface VlmChatParts<S> {
  info: ModelInfo;
  tokenizer: Tokenizer;
  eos: number[];
  contextLength: number;
  /** Most images per conversation (undefined: no limit of the model's own). */
  maxImages?: number;
  prefixCacheBytes: number;
  /** How to copy states that hold several caches (default: one SeqState). */
  stateOps?: PrefixStateOps<S>;
}

export abstract class VlmChatModel<S> implements ChatModel {
  readonly kind = 'chat' as const;
  readonly info: ModelInfo;
  readonly maxImages?: number;
  readonly tokenizer: Tokenizer;
  readonly eos: number[];
  readonly contextLength: number;
  readonly prefixCache: PrefixCache<S>;

  protected constructor(p: VlmChatParts<S>) {
    this.info = p.info;
    this.tokenizer = p.tokenizer;
    this.eos = p.eos;
    this.contextLength = p.contextLength;
    if (p.maxImages !== undefined) this.maxImages = p.maxImages;
    this.prefixCache = new PrefixCache<S>(p.prefixCacheBytes, p.stateOps);
  }

  /** Turns a validated conversation into a prefix + prefill plan (may decode images). */
  protected abstract plan(messages: ChatMessage[], o: GenerationOptions): Promise<VlmTurn<S>>;
  /** An empty state with room for `capacity` tokens. */
  protected abstract newState(capacity: number): S;
  /** Feeds one generated token; returns the next logits. */
  protected abstract step(state: S, token: number): Promise<Float32Array>;
  abstract countPromptTokens(messages: ChatMessage[], o?: GenerationOptions): Promise<number>;
  abstract dispose(): Promise<void>;

  /** Validation shared by chat and countPromptTokens. */
  protected checkMessages(messages: ChatMessage[]): void {
    validateMessages(messages);
    const n = imagesOf(messages).length;
    if (this.maxImages !== undefined && n > this.maxImages) {
      throw new InputError(`${this.info.modelType} reads at most ${this.maxImages} image${this.maxImages === 1 ? '' : 's'} per conversation (got ${n})`);
    }
  }

  chat(messages: ChatMessage[], o: GenerationOptions = {}): ChatStream {
    this.checkMessages(messages);
    return lazyPrefill(async () => {
      const turn = await this.plan(messages, o);
      const maxNew = checkMaxTokens(o, turn.promptTokens, this.contextLength);
      const room = turn.promptTokens + Math.min(maxNew, 1024);
      let state: S | undefined;
      if (turn.prefix) {
        state = (await this.prefixCache.fork(turn.prefix.key, room))?.state;
        if (!state) {
          state = this.newState(room);
          await turn.prefix.run(state);
          await this.prefixCache.put(turn.prefix.key, state);
        }
      }
      state ??= this.newState(room);
      const s = state;
      const first = await turn.prefill(s);
      return streamGeneration({
        firstLogits: first,
        step: (t) => this.step(s, t),
        sampler: samplerFor(o),
        maxNewTokens: maxNew,
        eosIds: this.eos,
        stop: o.stop,
        promptIds: turn.promptIds,
        promptTokens: turn.promptTokens,
        decoder: new TextStreamer(this.tokenizer, { skipSpecialTokens: true }),
        signal: o.signal,
      });
    }, o);
  }
}
