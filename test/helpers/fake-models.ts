// Fake models for server tests: deterministic, fast, and observable. The chat model echoes the
// last user message token by token (with small delays), describes every image it got (decoded with
// sharp, so the test proves the pixels arrived), honours maxNewTokens, stop strings and the
// AbortSignal, and records each call. The embedding model returns hash-seeded unit vectors.
import sharp from 'sharp';
import { AsyncQueue } from '../../src/generate/async-queue.js';
import { decodeImage } from '../../src/processors/image.js';
import type {
  ChatMessage,
  ChatModel,
  ChatStream,
  DecodedImage,
  EmbeddingModel,
  FinishReason,
  GenerationOptions,
  GenerationResult,
  ImageInput,
  ImageTokenizer,
  LabelScore,
  ModelInfo,
} from '../../src/api.js';

export interface SeenImage {
  width: number;
  height: number;
  /** Mean of each RGB channel, rounded (proves the pixels, not just a header, arrived). */
  mean: [number, number, number];
}

/** Decodes any ImageInput with sharp. */
export async function inspectImage(image: ImageInput): Promise<SeenImage> {
  const s =
    typeof image === 'string' || image instanceof Uint8Array
      ? sharp(image)
      : sharp(image.data, { raw: { width: image.width, height: image.height, channels: image.channels } });
  const [meta, stats] = await Promise.all([s.clone().metadata(), s.clone().removeAlpha().stats()]);
  const mean = stats.channels.slice(0, 3).map((c) => Math.round(c.mean));
  while (mean.length < 3) mean.push(mean[0]!);
  return { width: meta.width!, height: meta.pageHeight ?? meta.height!, mean: mean as [number, number, number] };
}

function lastUserText(messages: ChatMessage[]): string {
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i]!;
    if (m.role !== 'user') continue;
    if (typeof m.content === 'string') return m.content;
    return m.content.flatMap((p) => (p.type === 'text' ? [p.text] : [])).join(' ');
  }
  return '';
}

function imagesOf(messages: ChatMessage[]): ImageInput[] {
  return messages.flatMap((m) => (typeof m.content === 'string' ? [] : m.content.flatMap((p) => (p.type === 'image' ? [p.image] : []))));
}

/** The text the fake chat model answers (before maxNewTokens / stop cut it). */
export function fakeReply(messages: ChatMessage[], images: SeenImage[]): string {
  const seen = images.map((im) => ` I see a ${im.width}x${im.height} image.`).join('');
  return `You said: ${lastUserText(messages).trim()}.${seen}`;
}

/** Splits text into "tokens": words with their leading space. */
export function fakeTokens(text: string): string[] {
  return text.match(/\s*\S+/g) ?? [];
}

export interface FakeChatCall {
  messages: ChatMessage[];
  opts: GenerationOptions;
  images: SeenImage[];
  /** The AbortSignal fired while this call was generating. */
  aborted: boolean;
  finishReason?: FinishReason;
  text?: string;
}

export interface FakeChatOptions {
  name?: string;
  /** Delay before each token (ms). */
  tokenDelayMs?: number;
  maxImages?: number;
  contextLength?: number;
}

function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * Last user text starting with "/long" → after the echo it keeps emitting " tokN" until
 * maxNewTokens, so a test can hold a generation open for as long as it likes.
 */
export class FakeChatModel implements ChatModel {
  readonly kind = 'chat' as const;
  readonly info: ModelInfo;
  readonly maxImages?: number;
  readonly calls: FakeChatCall[] = [];
  /** Generations running right now, and the most ever at once (the server must keep this at 1). */
  active = 0;
  maxActive = 0;
  disposed = false;
  private readonly tokenDelayMs: number;

  constructor(opts: FakeChatOptions = {}) {
    this.info = {
      modelType: 'fake-chat',
      name: opts.name ?? 'fake-chat',
      dir: '/nonexistent/fake-chat',
      device: 'cpu',
      ...(opts.contextLength ? { contextLength: opts.contextLength } : {}),
    };
    if (opts.maxImages !== undefined) this.maxImages = opts.maxImages;
    this.tokenDelayMs = opts.tokenDelayMs ?? 2;
  }

  async countPromptTokens(messages: ChatMessage[]): Promise<number> {
    let n = 0;
    for (const m of messages) {
      const text = typeof m.content === 'string' ? m.content : m.content.map((p) => (p.type === 'text' ? p.text : '')).join(' ');
      n += 2 + fakeTokens(text).length;
    }
    return n + 16 * imagesOf(messages).length;
  }

  chat(messages: ChatMessage[], opts: GenerationOptions = {}): ChatStream {
    if (this.disposed) throw new Error('fake-chat: used after dispose()');
    const call: FakeChatCall = { messages, opts, images: [], aborted: false };
    this.calls.push(call);
    const queue = new AsyncQueue<string>();
    const result = this.run(call, (d) => queue.push(d)).finally(() => queue.close());
    // Nobody may await `result` (a test that only iterates); a rejection must not go unhandled.
    result.catch(() => {});
    return {
      result,
      async *[Symbol.asyncIterator]() {
        yield* queue.drain();
        await result;
      },
    };
  }

  private async run(call: FakeChatCall, push: (delta: string) => void): Promise<GenerationResult> {
    const { opts } = call;
    const signal = opts.signal;
    this.active++;
    this.maxActive = Math.max(this.maxActive, this.active);
    try {
      for (const image of imagesOf(call.messages)) call.images.push(await inspectImage(image));
      const tokens = fakeTokens(fakeReply(call.messages, call.images));
      const long = lastUserText(call.messages).trim().startsWith('/long');
      const maxNew = opts.maxNewTokens ?? 256;
      const stops = opts.stop ?? [];
      let text = '';
      let emitted = 0;
      let count = 0;
      let finish: FinishReason = 'stop';
      for (;;) {
        if (count >= maxNew) {
          finish = 'length';
          break;
        }
        const tok = count < tokens.length ? tokens[count] : long ? ` tok${count - tokens.length}` : undefined;
        if (tok === undefined) break;
        await delay(this.tokenDelayMs, signal);
        if (signal?.aborted) {
          call.aborted = true;
          finish = 'abort';
          break;
        }
        text += tok;
        count++;
        const hit = stops.map((s) => text.indexOf(s)).filter((i) => i >= 0);
        if (hit.length) {
          text = text.slice(0, Math.min(...hit));
          if (text.length > emitted) push(text.slice(emitted));
          emitted = text.length;
          finish = 'stop';
          break;
        }
        // Hold back a tail that could be the start of a stop string.
        const hold = stops.reduce((h, s) => Math.max(h, s.length - 1), 0);
        const safe = Math.max(emitted, text.length - hold);
        if (safe > emitted) {
          push(text.slice(emitted, safe));
          emitted = safe;
        }
      }
      if (text.length > emitted) push(text.slice(emitted));
      call.finishReason = finish;
      call.text = text;
      return {
        text,
        tokenIds: Array.from({ length: count }, (_, i) => i + 1),
        promptTokens: await this.countPromptTokens(call.messages),
        completionTokens: count,
        finishReason: finish,
      };
    } finally {
      this.active--;
    }
  }

  async dispose(): Promise<void> {
    this.disposed = true;
  }
}

// ---- embeddings ----

function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** A unit vector drawn from a PRNG seeded by `key` (mulberry32). */
export function seededUnitVector(key: string, dims: number): Float32Array {
  let a = fnv1a(key);
  const v = new Float32Array(dims);
  let norm = 0;
  for (let i = 0; i < dims; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const x = ((t ^ (t >>> 14)) >>> 0) / 4294967296 - 0.5;
    v[i] = x;
    norm += x * x;
  }
  norm = Math.sqrt(norm);
  for (let i = 0; i < dims; i++) v[i]! /= norm;
  return v;
}

export const imageKey = (im: SeenImage) => `image:${im.width}x${im.height}:${im.mean.join(',')}`;

export interface FakeEmbeddingOptions {
  name?: string;
  dimensions?: number;
  /** Delay of every call (ms). */
  delayMs?: number;
}

export class FakeEmbeddingModel implements EmbeddingModel {
  readonly kind = 'embedding' as const;
  readonly info: ModelInfo;
  readonly dimensions: number;
  readonly seenImages: SeenImage[] = [];
  readonly seenTexts: string[] = [];
  active = 0;
  maxActive = 0;
  disposed = false;
  private readonly delayMs: number;

  constructor(opts: FakeEmbeddingOptions = {}) {
    this.info = { modelType: 'fake-embedding', name: opts.name ?? 'fake-embed', dir: '/nonexistent/fake-embed', device: 'cpu' };
    this.dimensions = opts.dimensions ?? 16;
    this.delayMs = opts.delayMs ?? 1;
  }

  private async busy<T>(f: () => Promise<T>): Promise<T> {
    this.active++;
    this.maxActive = Math.max(this.maxActive, this.active);
    try {
      await delay(this.delayMs);
      return await f();
    } finally {
      this.active--;
    }
  }

  embedTexts(texts: string[]): Promise<Float32Array[]> {
    return this.busy(async () => {
      this.seenTexts.push(...texts);
      return texts.map((t) => seededUnitVector(`text:${t}`, this.dimensions));
    });
  }

  embedImages(images: ImageInput[]): Promise<Float32Array[]> {
    return this.busy(async () => {
      const out: Float32Array[] = [];
      for (const image of images) {
        const seen = await inspectImage(image);
        this.seenImages.push(seen);
        out.push(seededUnitVector(imageKey(seen), this.dimensions));
      }
      return out;
    });
  }

  /** logit = 10·cos(image, label) − 1, score = sigmoid(logit), highest first (SigLIP's shape of output). */
  async classify(image: ImageInput, labels: string[]): Promise<LabelScore[]> {
    const [img] = await this.embedImages([image]);
    const scores = labels.map((label) => {
      const t = seededUnitVector(`text:${label}`, this.dimensions);
      let dot = 0;
      for (let i = 0; i < t.length; i++) dot += t[i]! * img![i]!;
      const logit = 10 * dot - 1;
      return { label, logit, score: 1 / (1 + Math.exp(-logit)) };
    });
    return scores.sort((a, b) => b.score - a.score);
  }

  async dispose(): Promise<void> {
    this.disposed = true;
  }
}

export interface FakeImageTokenizerOptions {
  codesPerImage?: number;
  codebookSize?: number;
  /** Images of this width make encode() throw (a model-side failure on one image). */
  failWidth?: number;
}

/**
 * An ImageTokenizer whose codes are a pure function of the decoded pixels (FNV-1a of the RGB bytes
 * seeds the code stream), so a test can recompute the codes of any image; it records batch sizes.
 */
export class FakeImageTokenizer implements ImageTokenizer {
  readonly kind = 'image-tokenizer' as const;
  readonly info: ModelInfo = { modelType: 'fake-image-tokenizer', name: 'fake-tokenizer', dir: '/nonexistent/fake-tokenizer', device: 'cpu' };
  readonly codesPerImage: number;
  readonly codebookSize: number;
  readonly embeddingShape = [4] as const;
  readonly batchSizes: number[] = [];
  private readonly failWidth?: number;

  constructor(opts: FakeImageTokenizerOptions = {}) {
    this.codesPerImage = opts.codesPerImage ?? 32;
    this.codebookSize = opts.codebookSize ?? 8192;
    this.failWidth = opts.failWidth;
  }

  /** The codes of decoded RGB pixels. */
  codesOf(img: DecodedImage): number[] {
    let h = 0x811c9dc5;
    for (let i = 0; i < img.data.length; i++) h = Math.imul(h ^ img.data[i]!, 0x01000193);
    h = (h ^ img.width ^ (img.height << 16)) >>> 0;
    return Array.from({ length: this.codesPerImage }, () => {
      h = Math.imul(h ^ (h >>> 13), 0x5bd1e995) >>> 0;
      return h % this.codebookSize;
    });
  }

  async encode(images: ImageInput[]): Promise<number[][]> {
    this.batchSizes.push(images.length);
    const out: number[][] = [];
    for (const im of images) {
      const img = await decodeImage(im);
      if (img.width === this.failWidth) throw new Error(`fake tokenizer cannot take width ${img.width}`);
      out.push(this.codesOf(img));
    }
    return out;
  }

  async decode(codes: number[][]): Promise<Float32Array[]> {
    return codes.map((c) => seededUnitVector(c.join(','), 4));
  }

  async dispose(): Promise<void> {}
}

/**
 * A stand-in SEED image tokenizer (32 codes of 64) for tests of models that draw: every image
 * encodes to `codes`; decode returns the codes as floats (observable in a stand-in renderer). `dir`
 * is where its tokenizer files are looked for (a folder whose tokenizer has the image tokens).
 */
export function standInImageTokenizer(dir: string, codes: number[]): import('../../src/api.js').ImageTokenizer {
  return {
    kind: 'image-tokenizer',
    info: { modelType: 'seed_tokenizer', name: 'stand-in', dir, device: 'cpu' },
    codesPerImage: 32,
    codebookSize: 64,
    embeddingShape: [32],
    async encode(images) { return images.map(() => codes); },
    async decode(list) { return list.map((c) => Float32Array.from(c)); },
    async dispose() {},
  };
}
