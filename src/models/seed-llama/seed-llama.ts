// SEED-LLaMA (AILab-CVC): a LLaMA whose vocabulary holds SEED's image codes, so it reads images
// as `<img>`+32 codes+`</img>` and writes them the same way. Three folders in the real world:
// the LLaMA checkpoint, the SEED image tokenizer (whose LLaMA tokenizer files carry the image
// tokens) and, to see drawn images, an image renderer (unCLIP). The LLaMA itself is tsvlm's
// decoder; this file holds the prompt, the image spans and the composition.
import { basename } from 'node:path';
import { existsSync } from 'node:fs';
import { MAX_TOKENIZER_BYTES, readRegularTextFile } from '../../io/files.js';
import { join } from 'node:path';
import type { ChatMessage, ChatModel, ChatPart, ChatStream, GeneratedImage, GenerationOptions, ImageRenderer, ImageTokenizer, LoadOptions, Model, ModelInfo } from '../../api.js';
import { InputError } from '../../api.js';
import { CheckpointError, type ModelFolder, type WeightStore } from '../../io/checkpoint.js';
import { DecoderLM } from '../../generate/decoder-lm.js';
import type { ImageSpans } from '../../generate/generate.js';
import { loadTokenizer, type Tokenizer } from '../../tokenizers/index.js';
import { parseDecoderConfig } from '../decoders.js';
import type { DecoderConfig } from '../llama.js';
import { checkMaxTokens, eosIdsFor, idsGeneration, lazyPrefill, validateMessages } from '../causal-lm.js';
import { modelTypeOf, openHfCheckpoint, probeCheckpoint, type CheckpointProbe, type ModelEntry } from '../entry.js';
import { hasImageTokens, imageTokenLayout, spanCodes, spanText, checkCodes, BOI_TOKEN, type ImageTokenLayout } from './image-tokens.js';
import { promptFormatOf, seedPromptText, type SeedPromptFormat } from './prompt.js';

/** SEED's images are 32 codes; the real codebook has 8192. */
const CODES_PER_IMAGE = 32;

export interface SeedLlamaParts {
  /** Reads user images (encode) and turns drawn codes into embeddings (decode). */
  imageTokenizer?: ImageTokenizer;
  /** Turns embeddings into pixels; without it drawn images come back as codes only. */
  renderer?: ImageRenderer;
}

export class SeedLlamaChatModel implements ChatModel {
  readonly kind = 'chat' as const;
  readonly drawsImages = true;

  get rendersImages(): boolean {
    return !!(this.parts.imageTokenizer && this.parts.renderer);
  }

  private constructor(
    readonly info: ModelInfo,
    readonly lm: DecoderLM,
    readonly tokenizer: Tokenizer,
    readonly cfg: DecoderConfig,
    readonly eos: number[],
    readonly layout: ImageTokenLayout,
    readonly format: SeedPromptFormat,
    readonly parts: SeedLlamaParts,
    /** Parts this model loaded itself (from folders): disposed with it. */
    private readonly owned: Array<{ dispose?(): Promise<void> }>,
  ) {}

  static async load(folder: ModelFolder, store: WeightStore, parts: SeedLlamaParts, opts: LoadOptions = {}, owned: Array<{ dispose?(): Promise<void> }> = []): Promise<SeedLlamaChatModel> {
    const cfg = parseDecoderConfig(folder.config, store);
    opts.onProgress?.({ stage: 'tokenizer', done: 0, total: 1 });
    const tok = await seedTextTokenizer(folder.dir, parts.imageTokenizer);
    const layout = imageTokenLayout(tok, folder.dir, parts.imageTokenizer?.codesPerImage ?? CODES_PER_IMAGE, parts.imageTokenizer?.codebookSize);
    if (layout.firstCode + layout.codebookSize > cfg.spec.vocabSize || layout.boi >= cfg.spec.vocabSize || layout.eoi >= cfg.spec.vocabSize) {
      throw new CheckpointError(`${folder.dir}: the tokenizer's image tokens (up to id ${Math.max(layout.firstCode + layout.codebookSize - 1, layout.boi, layout.eoi)}) do not fit the model's vocabulary of ${cfg.spec.vocabSize}`);
    }
    opts.onProgress?.({ stage: 'session', done: 0, total: 1, message: 'building the decoder graph' });
    const lm = await DecoderLM.create(store, cfg.spec, cfg.rope, { input: 'ids', device: opts.device, attention: opts.attention }, cfg.slidingWindow);
    opts.onProgress?.({ stage: 'session', done: 1, total: 1 });
    const info: ModelInfo = {
      modelType: 'seed_llama', name: opts.name ?? basename(folder.dir), dir: folder.dir,
      device: opts.device ?? 'cpu', contextLength: cfg.maxPositions,
    };
    return new SeedLlamaChatModel(info, lm, tok, cfg, eosIdsFor(folder, cfg, tok), layout, promptFormatOf(folder.config), parts, owned);
  }

  /** Reads user images only through the image tokenizer; images given as codes need none. */
  get maxImages(): number | undefined {
    return undefined;
  }

  /** A raw prompt (the demo's /generate): BOS + the parts with images as spans, no role markup. */
  complete(raw: string | ChatPart[], o: GenerationOptions = {}): ChatStream {
    const prompt: ChatPart[] = typeof raw === 'string' ? [{ type: 'text', text: raw }] : raw;
    return lazyPrefill(async () => {
      const msgs: ChatMessage[] = [{ role: 'user', content: prompt }];
      const codes = await this.imageCodes(msgs);
      let i = 0;
      const text = (this.tokenizer.bosToken ?? '<s>') + prompt.map((p) => (p.type === 'text' ? p.text : spanText(this.layout, codes[i++]!))).join('') + (o.forceImage ? BOI_TOKEN : '');
      return this.run(this.tokenizer.encode(text, { addSpecialTokens: false }), o, codes);
    }, o, { events: true });
  }

  /** Tokens a text-only raw prompt takes (BOS written as text, as the reference does). */
  countCompletionTokens(prompt: string): number {
    return this.tokenizer.encode((this.tokenizer.bosToken ?? '<s>') + prompt, { addSpecialTokens: false }).length;
  }

  /** Codes of every image part, in message order: given codes as they are, the rest encoded. */
  private async imageCodes(messages: ChatMessage[]): Promise<number[][]> {
    const parts = [];
    for (const m of messages) {
      if (typeof m.content === 'string') continue;
      for (const p of m.content) {
        if (p.type !== 'image') continue;
        if (m.role === 'system') throw new InputError('SEED-LLaMA reads images in user and assistant messages, not in the system message');
        parts.push(p);
      }
    }
    const toEncode = parts.filter((p) => !p.codes);
    if (toEncode.length && !this.parts.imageTokenizer) {
      throw new InputError(`${this.info.name} reads images through the SEED image tokenizer, which was not loaded (give its folder: --image-tokenizer DIR / loadModel(dir, { imageTokenizer }))`);
    }
    const encoded = toEncode.length ? await this.parts.imageTokenizer!.encode(toEncode.map((p) => p.image)) : [];
    let k = 0;
    return parts.map((p, i) => {
      const codes = p.codes ?? encoded[k++]!;
      checkCodes(this.layout, codes, `image ${i + 1} of the conversation`);
      return codes;
    });
  }

  /** Prompt ids as the reference builds them (prompt text with spans, no added special tokens). */
  async promptIds(messages: ChatMessage[], drawNow = false, knownCodes?: number[][]): Promise<number[]> {
    validateMessages(messages);
    const codes = knownCodes ?? (await this.imageCodes(messages));
    const bos = this.tokenizer.bosToken ?? '<s>';
    const text = seedPromptText(messages, this.format, bos, (i) => spanText(this.layout, codes[i]!), BOI_TOKEN, drawNow);
    return this.tokenizer.encode(text, { addSpecialTokens: false });
  }

  async countPromptTokens(messages: ChatMessage[]): Promise<number> {
    return (await this.promptIds(messages)).length;
  }

  chat(messages: ChatMessage[], o: GenerationOptions = {}): ChatStream {
    return lazyPrefill(async () => {
      validateMessages(messages);
      const codes = await this.imageCodes(messages);
      return this.run(await this.promptIds(messages, o.forceImage === true, codes), o, codes);
    }, o, { events: true });
  }

  /** Generation from explicit prompt ids (CLI --input-ids), image spans handled as in chat. */
  generateIds(prompt: number[], o: GenerationOptions = {}): ChatStream {
    if (!prompt.length) throw new InputError('empty prompt');
    for (const id of prompt) {
      if (!Number.isInteger(id) || id < 0 || id >= this.cfg.spec.vocabSize) throw new InputError(`token id ${id} is outside the vocabulary (0..${this.cfg.spec.vocabSize - 1})`);
    }
    return lazyPrefill(async () => this.run(prompt, o), o, { events: true });
  }

  private async run(prompt: number[], o: GenerationOptions, promptImageCodes?: number[][]): Promise<ChatStream> {
    const maxNew = checkMaxTokens(o, prompt.length, this.cfg.maxPositions);
    const state = this.lm.newState(1, undefined, prompt.length + Math.min(maxNew, 1024));
    const first = this.lm.lastLogits(await this.lm.forward(state, { ids: [prompt], seq: prompt.length }))[0]!;
    const inSpan = prompt[prompt.length - 1] === this.layout.boi;
    const s = idsGeneration(this.lm, state, first, prompt, this.tokenizer, this.eos, o, maxNew, { imageSpans: seedImageSpans(this.layout, this.parts, o, inSpan) });
    if (!promptImageCodes) return s;
    const result = s.result.then((r) => ({ ...r, promptImageCodes }));
    result.catch(() => {});
    return { get result() { return result; }, [Symbol.asyncIterator]: () => s[Symbol.asyncIterator](), events: s.events && (() => s.events!()) };
  }

  async dispose(): Promise<void> {
    await this.lm.release();
    for (const part of this.owned) await part.dispose?.();
  }
}

/** Generated spans → codes → (with an image tokenizer and a renderer) pixels, while the text goes on. */
export function seedImageSpans(layout: ImageTokenLayout, parts: SeedLlamaParts, o: GenerationOptions, startInSpan: boolean): ImageSpans {
  return {
    boi: layout.boi,
    eoi: layout.eoi,
    startInSpan,
    stopAfter: o.stopAfterImages,
    finish: async (ids, index, closed): Promise<GeneratedImage> => {
      const { codes, error } = spanCodes(layout, ids, index, closed);
      if (error) return { index, codes, error };
      const { imageTokenizer, renderer } = parts;
      if (!imageTokenizer || !renderer) return { index, codes };
      if (o.maxImages !== undefined && index >= o.maxImages) {
        return { index, codes, error: `image ${index + 1} of the reply was not rendered: at most ${o.maxImages} images are rendered per request` };
      }
      try {
        const emb = await imageTokenizer.decode([codes]);
        const [image] = await renderer.render(emb, { signal: o.signal, onProgress: o.onProgress, seed: o.seed });
        return { index, codes, image };
      } catch (e) {
        return { index, codes, error: `image ${index + 1} of the reply could not be rendered: ${(e as Error).message}` };
      }
    },
  };
}

/** The LLaMA folder's tokenizer when it carries the image tokens, else the image tokenizer folder's. */
async function seedTextTokenizer(dir: string, imageTokenizer?: ImageTokenizer): Promise<Tokenizer> {
  const tried: string[] = [];
  for (const d of [dir, imageTokenizer?.info.dir]) {
    if (!d || !hasTokenizerFiles(d)) continue;
    const tok = await loadTokenizer(d);
    if (hasImageTokens(tok)) return tok;
    tried.push(d);
  }
  throw new CheckpointError(`no tokenizer with SEED's image tokens (${BOI_TOKEN}, <img_00000>…) in ${tried.length ? tried.join(' or ') : dir}; ` +
    'SEED-LLaMA uses the LLaMA tokenizer of the SEED image tokenizer folder (--image-tokenizer DIR)');
}

function hasTokenizerFiles(dir: string): boolean {
  return ['tokenizer.json', 'tokenizer.model'].some((f) => existsSync(join(dir, f)));
}

/** A LLaMA folder whose tokenizer files name SEED's image tokens (cheap text check, no parsing). */
function folderHasImageTokens(p: CheckpointProbe): boolean {
  for (const f of ['added_tokens.json', 'tokenizer.json']) {
    if (!p.files.includes(f)) continue;
    try {
      // Regular files only (a FIFO would block the probe), bounded like every tokenizer file.
      if (readRegularTextFile(join(p.dir, f), MAX_TOKENIZER_BYTES).includes('"<img_00000>"')) return true;
    } catch {
      /* unreadable: not ours to judge here; the loader reports it */
    }
  }
  return false;
}

async function loadImageTokenizer(src: ImageTokenizer | string, opts: LoadOptions): Promise<{ model: ImageTokenizer; owned: boolean }> {
  if (typeof src !== 'string') return { model: src, owned: false };
  const { findModelEntry } = await import('../registry.js');
  const probe = probeCheckpoint(src);
  const entry = findModelEntry(probe);
  if (!entry || entry.kind !== 'image-tokenizer') throw new CheckpointError(`${src}: not an image tokenizer checkpoint (expected the SEED tokenizer folder)`);
  const model = (await entry.load(probe, { device: opts.device, onProgress: opts.onProgress })) as Model;
  return { model: model as ImageTokenizer, owned: true };
}

export const seedLlamaEntry: ModelEntry = {
  id: 'seed_llama',
  kind: 'chat',
  describe: 'SEED-LLaMA: a LLaMA that reads and draws images as SEED codes (with --image-tokenizer DIR, or image tokens in its tokenizer)',
  matches: (p, opts) => modelTypeOf(p) === 'llama' && (opts?.imageTokenizer !== undefined || folderHasImageTokens(p)),
  load: async (p, opts) => {
    const { folder, store } = openHfCheckpoint(p, opts);
    const owned: Array<{ dispose?(): Promise<void> }> = [];
    try {
      const it = opts.imageTokenizer === undefined ? undefined : await loadImageTokenizer(opts.imageTokenizer, opts);
      if (it?.owned) owned.push(it.model);
      let renderer = opts.imageRenderer;
      if (typeof renderer === 'string') {
        // A diffusers folder (engine code for diffusion is loaded only when one is given).
        const { SeedImageRenderer } = await import('../diffusion/image-renderer.js');
        renderer = await SeedImageRenderer.load(renderer, { device: opts.device, onProgress: opts.onProgress });
        owned.push(renderer);
      }
      return await SeedLlamaChatModel.load(folder, store, { imageTokenizer: it?.model, renderer }, opts, owned);
    } catch (e) {
      for (const part of owned) await part.dispose?.();
      throw e;
    }
  },
};
