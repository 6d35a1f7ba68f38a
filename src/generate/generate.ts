// The generation loop: sample, stop on eos / stop strings / max tokens / abort, and stream text
// deltas. Model-agnostic: the caller supplies the first logits (after prefill) and how to feed
// one chosen token back (ids or embeddings).
import type { ChatEvent, ChatStream, FinishReason, GeneratedImage, GenerationResult } from '../api.js';
import { Sampler } from './sampler.js';
import { AsyncQueue } from './async-queue.js';

export interface StreamDecoder {
  /** Text made complete by this token ('' while a multi-byte character is pending). */
  push(id: number): string;
  flush(): string;
}

export interface GenerationLoop {
  /** Logits of the last prompt position (after prefill). */
  firstLogits: Float32Array;
  /** Feeds one token and returns the next logits. */
  step(token: number): Promise<Float32Array>;
  sampler: Sampler;
  maxNewTokens: number;
  eosIds: Iterable<number>;
  stop?: string[];
  promptIds: number[];
  promptTokens: number;
  decoder: StreamDecoder;
  signal?: AbortSignal;
  /** Called when the loop ends, whatever the reason (release caches, queue slots). */
  onEnd?: () => void;
  /** Models that write images as tokens: ids between `boi` and `eoi` are an image, not text. */
  imageSpans?: ImageSpans;
}

export interface ImageSpans {
  boi: number;
  eoi: number;
  /**
   * One span's ids (without boi/eoi) → the image. `closed` is false for a span cut off by the end
   * of generation. Runs while generation goes on; must not throw (errors go in `error`).
   */
  finish(ids: number[], index: number, closed: boolean): Promise<GeneratedImage>;
  /** The prompt ends with `boi` (the model was told to draw now): the first ids are a span's. */
  startInSpan?: boolean;
  /** End generation (finish 'stop') once this many spans are closed. */
  stopAfter?: number;
}

type Queued = { type: 'text'; text: string } | { type: 'image'; image: Promise<GeneratedImage> };

/** Runs the loop lazily as the stream is consumed; `result` also drives it if nobody iterates. */
export function streamGeneration(loop: GenerationLoop): ChatStream {
  const queue = new AsyncQueue<Queued>();
  const images: Promise<GeneratedImage>[] = [];
  let failure: unknown;
  let resolveResult!: (r: GenerationResult) => void;
  let rejectResult!: (e: unknown) => void;
  const result = new Promise<GenerationResult>((res, rej) => { resolveResult = res; rejectResult = rej; });
  result.catch(() => {}); // consumers that only iterate still see the error there

  const push = (d: string) => {
    if (!d) return;
    queue.push({ type: 'text', text: d });
  };
  const pushImage = (spanIds: number[], closed: boolean) => {
    const p = loop.imageSpans!.finish(spanIds, images.length, closed);
    images.push(p);
    queue.push({ type: 'image', image: p });
  };

  const run = async () => {
    const eos = new Set(loop.eosIds);
    const stops = (loop.stop ?? []).filter((s) => s.length > 0);
    const hold = stops.reduce((m, s) => Math.max(m, s.length - 1), 0);
    const ids: number[] = [];
    const seen = [...loop.promptIds];
    let text = '';
    let emitted = 0;
    let finish: FinishReason = 'length';
    let logits = loop.firstLogits;
    const spans = loop.imageSpans;
    let span: number[] | undefined = spans?.startInSpan ? [] : undefined; // ids of the image span being written
    try {
      for (let n = 0; n < loop.maxNewTokens; n++) {
        if (loop.signal?.aborted) { finish = 'abort'; break; }
        const tok = loop.sampler.choose(logits, seen);
        if (eos.has(tok)) { finish = 'stop'; break; }
        ids.push(tok);
        seen.push(tok);
        if (spans && (span || tok === spans.boi)) {
          if (!span) {
            // A stop string cannot run across an image: the held-back text goes out first.
            push(text.slice(emitted));
            emitted = text.length;
            span = [];
          } else if (tok === spans.eoi) {
            pushImage(span, true);
            span = undefined;
            if (spans.stopAfter !== undefined && images.length >= spans.stopAfter) { finish = 'stop'; break; }
          } else {
            span.push(tok);
          }
        } else {
          text += loop.decoder.push(tok);
        }
        if (stops.length && !span) {
          const hit = firstStop(text, stops, Math.max(0, emitted - hold - 1));
          if (hit >= 0) {
            text = text.slice(0, hit);
            finish = 'stop';
            break;
          }
        }
        // Hold back a tail that could still become a stop string.
        const safe = Math.max(emitted, text.length - hold);
        push(text.slice(emitted, safe));
        emitted = safe;
        if (n + 1 === loop.maxNewTokens) break;
        // Yield to the event loop between steps so aborts and other requests get through.
        await new Promise((r) => setImmediate(r));
        if (loop.signal?.aborted) { finish = 'abort'; break; }
        logits = await loop.step(tok);
      }
      if (finish !== 'stop' || !stops.length) {
        text += loop.decoder.flush();
        if (stops.length) {
          const hit = firstStop(text, stops, 0);
          if (hit >= 0) { text = text.slice(0, hit); finish = 'stop'; }
        }
      }
      push(text.slice(emitted));
      if (span) pushImage(span, false);
      const res: GenerationResult = { text, tokenIds: ids, promptTokens: loop.promptTokens, completionTokens: ids.length, finishReason: finish };
      if (spans) res.images = await Promise.all(images);
      resolveResult(res);
    } catch (e) {
      failure = e;
      rejectResult(e);
    } finally {
      queue.close();
      loop.onEnd?.();
    }
  };

  let started = false;
  const start = () => {
    if (!started) { started = true; void run(); }
  };

  async function* drain(): AsyncGenerator<Queued> {
    start();
    yield* queue.drain();
    if (failure) throw failure;
  }

  const stream: ChatStream = {
    get result() {
      start();
      return result;
    },
    async *[Symbol.asyncIterator]() {
      for await (const q of drain()) if (q.type === 'text') yield q.text;
    },
  };
  if (loop.imageSpans) {
    stream.events = async function* (): AsyncGenerator<ChatEvent> {
      for await (const q of drain()) {
        if (q.type === 'text') yield q;
        else yield { type: 'image', image: await q.image };
      }
    };
  }
  return stream;
}

function firstStop(text: string, stops: string[], from: number): number {
  let best = -1;
  for (const s of stops) {
    const i = text.indexOf(s, from);
    if (i >= 0 && (best < 0 || i < best)) best = i;
  }
  return best;
}

/** The events of a chat stream: its own (text and images) when it has them, else its text deltas. */
export async function* chatEvents(s: ChatStream): AsyncGenerator<ChatEvent> {
  if (s.events) yield* s.events();
  else for await (const text of s) yield { type: 'text', text };
}
