// Chat over a text-only decoder checkpoint (llama, mistral, qwen2, internlm2): chat template →
// token ids → prefill → generation loop. VLMs reuse `generationLoop` with their own prefill.
import type { ChatMessage, ChatModel, ChatPart, ChatStream, GenerationOptions, LoadOptions, ModelInfo } from '../api.js';
import { withProgress } from '../generate/progress.js';
import { InputError } from '../api.js';
import type { ModelFolder, WeightStore } from '../io/checkpoint.js';
import { DecoderLM, type SeqState } from '../generate/decoder-lm.js';
import { Sampler } from '../generate/sampler.js';
import { streamGeneration, type GenerationLoop } from '../generate/generate.js';
import { DECODER_TYPES, parseDecoderConfig } from './decoders.js';
import { modelTypeOf, openHfCheckpoint, type CheckpointProbe, type ModelEntry } from './entry.js';
import type { DecoderConfig } from './llama.js';
import { loadTokenizer, TextStreamer, type Tokenizer } from '../tokenizers/index.js';
import { basename } from 'node:path';

export const DEFAULT_MAX_NEW_TOKENS = 256;

/** Eos ids: generation_config.json, then config.json, then the tokenizer's. */
export function eosIdsFor(folder: ModelFolder, cfg: DecoderConfig, tok: Tokenizer): number[] {
  const gen = folder.generationConfig?.eos_token_id;
  const fromGen = typeof gen === 'number' ? [gen] : Array.isArray(gen) ? gen : [];
  const ids = new Set<number>([...fromGen, ...cfg.eosTokenIds, ...tok.eosTokenIds]);
  return [...ids];
}

export function textOf(m: ChatMessage): string {
  if (typeof m.content === 'string') return m.content;
  return m.content.filter((p) => p.type === 'text').map((p) => (p as { text: string }).text).join('\n');
}

export function imagesOf(messages: ChatMessage[]) {
  const out = [];
  for (const m of messages) if (typeof m.content !== 'string') for (const p of m.content) if (p.type === 'image') out.push(p.image);
  return out;
}

export function validateMessages(messages: ChatMessage[]): void {
  if (!Array.isArray(messages) || messages.length === 0) throw new InputError('messages must be a non-empty list');
  for (const m of messages) {
    if (!m || !['system', 'user', 'assistant'].includes(m.role)) throw new InputError(`message role must be system, user or assistant (got ${JSON.stringify(m?.role)})`);
  }
  if (messages[messages.length - 1]!.role !== 'user') throw new InputError('the last message must come from the user');
}

export function samplerFor(o: GenerationOptions): Sampler {
  return new Sampler({ temperature: o.temperature, topK: o.topK, topP: o.topP, minP: o.minP, repetitionPenalty: o.repetitionPenalty, seed: o.seed });
}

export function checkMaxTokens(o: GenerationOptions, promptTokens: number, contextLength: number): number {
  const max = o.maxNewTokens ?? DEFAULT_MAX_NEW_TOKENS;
  if (!Number.isInteger(max) || max < 1) throw new InputError(`maxNewTokens must be a positive integer (got ${max})`);
  if (promptTokens >= contextLength) throw new InputError(`the prompt has ${promptTokens} tokens; this model takes at most ${contextLength}`);
  return Math.min(max, contextLength - promptTokens);
}

/** Generation from a prefilled state whose decoder takes token ids. */
export function idsGeneration(lm: DecoderLM, state: SeqState, firstLogits: Float32Array, prompt: number[], tok: Tokenizer, eos: number[], o: GenerationOptions, maxNew: number, more: Partial<GenerationLoop> = {}): ChatStream {
  return streamGeneration({
    ...more,
    firstLogits,
    step: async (t) => lm.lastLogits(await lm.forward(state, { ids: [[t]], seq: 1 }))[0]!,
    sampler: samplerFor(o),
    maxNewTokens: maxNew,
    eosIds: eos,
    stop: o.stop,
    promptIds: prompt,
    promptTokens: prompt.length,
    decoder: new TextStreamer(tok, { skipSpecialTokens: true }),
    signal: o.signal,
  });
}

export class DecoderChatModel implements ChatModel {
  readonly kind = 'chat' as const;
  /** Text only. */
  readonly maxImages: number = 0;

  private constructor(
    readonly info: ModelInfo,
    readonly lm: DecoderLM,
    readonly tokenizer: Tokenizer,
    readonly cfg: DecoderConfig,
    readonly eos: number[],
  ) {}

  static async load(folder: ModelFolder, store: WeightStore, opts: LoadOptions = {}): Promise<DecoderChatModel> {
    const cfg = parseDecoderConfig(folder.config, store);
    opts.onProgress?.({ stage: 'tokenizer', done: 0, total: 1 });
    const tok = await loadTokenizer(folder.dir);
    opts.onProgress?.({ stage: 'session', done: 0, total: 1, message: 'building the decoder graph' });
    const lm = await DecoderLM.create(store, cfg.spec, cfg.rope, { input: 'ids', device: opts.device, attention: opts.attention }, cfg.slidingWindow);
    opts.onProgress?.({ stage: 'session', done: 1, total: 1 });
    const info: ModelInfo = {
      modelType: folder.config.model_type, name: opts.name ?? basename(folder.dir), dir: folder.dir,
      device: opts.device ?? 'cpu', contextLength: cfg.maxPositions,
    };
    return new DecoderChatModel(info, lm, tok, cfg, eosIdsFor(folder, cfg, tok));
  }

  /** Prompt ids for a conversation: the checkpoint's chat template, or plain text without one. */
  promptIds(messages: ChatMessage[]): number[] {
    validateMessages(messages);
    if (imagesOf(messages).length) throw new InputError(`${this.info.name} is a text-only model: it reads no images`);
    const plain = messages.map((m) => ({ role: m.role, content: textOf(m) }));
    if (this.tokenizer.chatTemplate) {
      return this.tokenizer.encode(this.tokenizer.applyChatTemplate(plain, { addGenerationPrompt: true }), { addSpecialTokens: false });
    }
    return this.tokenizer.encode(plain.map((m) => m.content).join('\n'), { addSpecialTokens: true });
  }

  async countPromptTokens(messages: ChatMessage[]): Promise<number> {
    return this.promptIds(messages).length;
  }

  chat(messages: ChatMessage[], o: GenerationOptions = {}): ChatStream {
    return this.generateIds(this.promptIds(messages), o);
  }

  complete(prompt: string | ChatPart[], o: GenerationOptions = {}): ChatStream {
    if (typeof prompt !== 'string') {
      if (prompt.some((p) => p.type === 'image')) throw new InputError(`${this.info.name} is a text-only model: it reads no images`);
      prompt = prompt.map((p) => (p as { text: string }).text).join('');
    }
    return this.generateIds(this.tokenizer.encode(prompt, { addSpecialTokens: true }), o);
  }

  countCompletionTokens(prompt: string): number {
    return this.tokenizer.encode(prompt, { addSpecialTokens: true }).length;
  }

  /** Generation from explicit prompt ids (CLI --input-ids). */
  generateIds(prompt: number[], o: GenerationOptions = {}): ChatStream {
    if (!prompt.length) throw new InputError('empty prompt');
    for (const id of prompt) {
      if (!Number.isInteger(id) || id < 0 || id >= this.cfg.spec.vocabSize) throw new InputError(`token id ${id} is outside the vocabulary (0..${this.cfg.spec.vocabSize - 1})`);
    }
    const maxNew = checkMaxTokens(o, prompt.length, this.cfg.maxPositions);
    const state = this.lm.newState(1, undefined, prompt.length + Math.min(maxNew, 1024));
    let first: Float32Array | undefined;
    const stream = lazyPrefill(async () => {
      first = this.lm.lastLogits(await this.lm.forward(state, { ids: [prompt], seq: prompt.length }))[0]!;
      return idsGeneration(this.lm, state, first, prompt, this.tokenizer, this.eos, o, maxNew);
    }, o);
    return stream;
  }

  async dispose(): Promise<void> {
    await this.lm.release();
  }
}

/** A ChatStream whose prefill runs when first consumed (errors surface through the stream). */
export function lazyPrefill(make: () => Promise<ChatStream>, o: GenerationOptions = {}, opts: { events?: boolean } = {}): ChatStream {
  let inner: Promise<ChatStream> | undefined;
  // The prefill reports its progress to o.onProgress (see generate/progress.ts).
  const get = () => (inner ??= withProgress(o.onProgress, make));
  const stream: ChatStream = {
    get result() {
      return get().then((s) => s.result);
    },
    async *[Symbol.asyncIterator]() {
      const s = await get();
      yield* s;
    },
  };
  // Models that draw: their inner stream carries images too.
  if (opts.events) {
    stream.events = async function* () {
      const s = await get();
      if (s.events) yield* s.events();
      else for await (const text of s) yield { type: 'text' as const, text };
    };
  }
  return stream;
}

const DECODER_NAMES: Record<string, string> = { llama: 'Llama', mistral: 'Mistral', qwen2: 'Qwen2', internlm2: 'InternLM2' };

/** One registry entry per decoder model_type (text chat). */
export const decoderEntries: ModelEntry[] = Object.keys(DECODER_TYPES).map((type) => ({
  id: type,
  kind: 'chat' as const,
  describe: `${DECODER_NAMES[type] ?? type} text chat (config model_type "${type}")`,
  matches: (p: CheckpointProbe) => modelTypeOf(p) === type,
  load: (p: CheckpointProbe, opts: LoadOptions) => {
    const { folder, store } = openHfCheckpoint(p, opts);
    return DecoderChatModel.load(folder, store, opts);
  },
}));
