// A model loaded and run on its own worker thread, behind the same Model interface (the server and
// the CLI cannot tell the difference). Each model has one thread: requests to one model are
// serialised by the server's queue anyway, and everything CPU-heavy (tokenizing, image decoding,
// ONNX Runtime runs) stays off the event loop, so /health and other clients are answered while a
// big request runs. Aborts cross the thread through a message; errors keep their name
// (InputError stays a 400).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { ChatEvent, ChatStream, GenerationOptions, GenerationResult, LoadOptions, Model, Progress } from '../api.js';
import { AsyncQueue } from '../generate/async-queue.js';
import { STREAM_METHODS, type SerializedError } from './worker-protocol.js';

/** The compiled worker entry; under the TypeScript sources (tests) the one in dist/ is used. */
function workerUrl(): URL {
  const sibling = new URL('./model-worker.js', import.meta.url);
  if (existsSync(fileURLToPath(sibling))) return sibling;
  const built = new URL('../../dist/serve/model-worker.js', import.meta.url);
  if (existsSync(fileURLToPath(built))) return built;
  throw new Error('the model worker (model-worker.js) was not found; run npm run build');
}

export function workerModelAvailable(): boolean {
  try {
    workerUrl();
    return true;
  } catch {
    return false;
  }
}

function revive(e: SerializedError): Error {
  const err = new Error(e.message);
  err.name = e.name;
  return err;
}

type Pending = { resolve: (v: unknown) => void; reject: (e: Error) => void; onEvent?: (e: ChatEvent) => void; onProgress?: (p: Progress) => void };

/** Loads `dir` on a new worker thread; resolves once the model is ready (load errors reject). */
export function loadModelInWorker(dir: string, opts: LoadOptions = {}): Promise<Model> {
  const { onProgress, ...plain } = opts;
  const worker = new Worker(workerUrl(), { workerData: { dir, opts: plain } });
  const pending = new Map<number, Pending>();
  let nextId = 1;
  let dead: Error | undefined;
  const fail = (err: Error) => {
    dead ??= err;
    for (const p of pending.values()) p.reject(dead);
    pending.clear();
  };
  const call = (msg: Record<string, unknown>, on: Pick<Pending, 'onEvent' | 'onProgress'> = {}): Promise<unknown> & { id: number } => {
    const id = nextId++;
    const p = new Promise<unknown>((resolve, reject) => {
      if (dead) return reject(dead);
      pending.set(id, { resolve, reject, ...on });
      worker.postMessage({ ...msg, id });
    }) as Promise<unknown> & { id: number };
    p.id = id;
    return p;
  };

  // Token counts of recently embedded texts (the worker sends them with the vectors), so that the
  // synchronous countTokens(texts, images) can answer for texts just embedded; bounded.
  const counts = new Map<string, number>();
  const textsOf = new Map<number, string[]>();
  function rememberCounts(texts: string[], list: number[]): void {
    if (counts.size > 4096) counts.clear();
    list.forEach((n, i) => counts.set(texts[i]!, n));
  }

  return new Promise<Model>((resolveLoad, rejectLoad) => {
    worker.on('error', (e) => {
      fail(new Error(`model worker for ${dir} failed: ${e.message}`));
      rejectLoad(dead);
    });
    worker.on('exit', (code) => {
      fail(new Error(`model worker for ${dir} exited (code ${code})`));
      rejectLoad(dead);
    });
    worker.on('message', (msg: any) => {
      if (msg.type === 'progress') return onProgress?.(msg.p);
      if (msg.type === 'load-error') {
        void worker.terminate();
        return rejectLoad(revive(msg.error));
      }
      if (msg.type === 'ready') return resolveLoad(makeProxy(msg.props, msg.methods));
      const p = pending.get(msg.id);
      if (!p) return;
      if ('event' in msg) return p.onEvent?.(msg.event);
      if ('progress' in msg) return p.onProgress?.(msg.progress);
      pending.delete(msg.id);
      setImmediate(() => textsOf.delete(msg.id));
      if ('error' in msg) p.reject(revive(msg.error));
      else {
        const texts = textsOf.get(msg.id);
        if (texts && msg.tokenCounts) rememberCounts(texts, msg.tokenCounts);
        p.resolve(msg.result);
      }
    });
  });

  function makeProxy(props: Record<string, unknown>, methods: string[]): Model {
    const { imageTokenCount, ...data } = props;
    const model: Record<string, unknown> = { ...data };
    if (typeof imageTokenCount === 'number') {
      model.countTokens = (texts: string[], images: number) => texts.reduce((a, t) => a + (counts.get(t) ?? 0), 0) + images * imageTokenCount;
    }
    for (const method of methods) {
      model[method] = STREAM_METHODS.includes(method)
        ? (first: unknown, o: GenerationOptions = {}) => stream(method, first, o, props.drawsImages === true)
        : (...args: unknown[]) => {
            const p = call({ op: 'call', method, args });
            if (method === 'embedTexts') textsOf.set(p.id, args[0] as string[]);
            return p;
          };
    }
    model.dispose = async () => {
      if (!dead) await call({ op: 'call', method: 'dispose', args: [] }).catch(() => {});
      await worker.terminate();
    };
    return model as unknown as Model;
  }

  /** chat / complete across the thread: events in order, progress to the caller's onProgress, aborts as messages. */
  function stream(method: string, first: unknown, o: GenerationOptions, withEvents: boolean): ChatStream {
    const { signal, onProgress, ...gen } = o;
    const queue = new AsyncQueue<ChatEvent>();
    const result = call(
      { op: 'stream', method, messages: first, opts: gen },
      {
        onEvent: (e) => queue.push(e),
        ...(onProgress ? { onProgress } : {}),
      },
    ) as Promise<GenerationResult> & { id: number };
    const id = result.id;
    const onAbort = () => worker.postMessage({ op: 'abort', id });
    if (signal?.aborted) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
    const settled = result.finally(() => {
      signal?.removeEventListener('abort', onAbort);
      queue.close();
    });
    settled.catch(() => {});
    async function* events(): AsyncGenerator<ChatEvent> {
      yield* queue.drain();
      await result;
    }
    return {
      result,
      async *[Symbol.asyncIterator]() {
        for await (const e of events()) if (e.type === 'text') yield e.text;
      },
      ...(withEvents ? { events } : {}),
    };
  }
}
