// Worker-thread side of worker-model.ts: loads one model with the engine and runs what the main
// thread asks for. Tokenizing, image decoding and ONNX Runtime runs all happen on this thread, so
// the server's event loop stays free for other clients.
// Protocol (main → worker): {op: 'call', id, method, args} | {op: 'stream', id, method: 'chat' |
// 'complete', input, opts} | {op: 'abort', id}. Worker → main: {type: 'ready', props, methods} |
// {type: 'progress', p} | {type: 'load-error', error} | {id, event} (text or a drawn image, in
// order) | {id, progress} | {id, result} | {id, error}.
import { parentPort, workerData } from 'node:worker_threads';
import type { GenerationOptions, LoadOptions, Model } from '../api.js';
import { chatEvents } from '../generate/generate.js';

export interface SerializedError {
  name: string;
  message: string;
}

export const serializeError = (e: unknown): SerializedError =>
  e instanceof Error ? { name: e.name, message: e.message } : { name: 'Error', message: String(e) };

/** The data properties of a model a caller can read (functions are proxied separately). */
export const MODEL_PROPS = ['kind', 'info', 'dimensions', 'maxImages', 'drawsImages', 'rendersImages', 'codesPerImage', 'codebookSize', 'embeddingShape'] as const;

/** Methods that return a ChatStream: streamed over the port instead of returned. */
export const STREAM_METHODS = ['chat', 'complete'] as const;

async function main(): Promise<void> {
  const port = parentPort!;
  const { dir, opts } = workerData as { dir: string; opts: Omit<LoadOptions, 'onProgress'> };
  let model: Model;
  try {
    const { loadModel } = await import('../index.js');
    model = await loadModel(dir, { ...opts, onProgress: (p) => port.postMessage({ type: 'progress', p }) });
  } catch (e) {
    port.postMessage({ type: 'load-error', error: serializeError(e) });
    return;
  }
  const m = model as unknown as Record<string, unknown>;
  const props: Record<string, unknown> = {};
  for (const k of MODEL_PROPS) if (m[k] !== undefined) props[k] = m[k];
  const methods: string[] = [];
  for (let o: object | null = model; o && o !== Object.prototype; o = Object.getPrototypeOf(o)) {
    for (const k of Object.getOwnPropertyNames(o)) {
      if (k !== 'constructor' && typeof m[k] === 'function' && !methods.includes(k)) methods.push(k);
    }
  }
  port.postMessage({ type: 'ready', props, methods });

  const aborts = new Map<number, AbortController>();
  port.on('message', async (msg: { op: string; id: number; method?: string; args?: unknown[]; input?: unknown; opts?: GenerationOptions }) => {
    if (msg.op === 'abort') {
      aborts.get(msg.id)?.abort();
      return;
    }
    if (msg.op === 'stream') {
      const ac = new AbortController();
      aborts.set(msg.id, ac);
      try {
        const fn = model.kind === 'chat' && (STREAM_METHODS as readonly string[]).includes(msg.method!) ? m[msg.method!] : undefined;
        if (typeof fn !== 'function') throw new Error(`${model.info.name} has no ${msg.method}()`);
        const opts: GenerationOptions = { ...msg.opts, signal: ac.signal, onProgress: (progress) => port.postMessage({ id: msg.id, progress }) };
        const stream = (fn as (input: unknown, o: GenerationOptions) => import('../api.js').ChatStream).call(model, msg.input, opts);
        for await (const event of chatEvents(stream)) port.postMessage({ id: msg.id, event });
        port.postMessage({ id: msg.id, result: await stream.result });
      } catch (e) {
        port.postMessage({ id: msg.id, error: serializeError(e) });
      } finally {
        aborts.delete(msg.id);
      }
      return;
    }
    try {
      const fn = m[msg.method!];
      if (typeof fn !== 'function' || !methods.includes(msg.method!) || (STREAM_METHODS as readonly string[]).includes(msg.method!)) throw new Error(`model has no method ${msg.method}`);
      const result = await (fn as (...a: unknown[]) => unknown).apply(model, msg.args ?? []);
      port.postMessage({ id: msg.id, result });
      if (msg.method === 'dispose') port.close();
    } catch (e) {
      port.postMessage({ id: msg.id, error: serializeError(e) });
    }
  });
}

if (parentPort) void main();
