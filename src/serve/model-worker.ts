// Worker-thread side of worker-model.ts: loads one model with the engine and runs what the main
// thread asks for. Tokenizing, image decoding and ONNX Runtime runs all happen on this thread, so
// the server's event loop stays free for other clients.
// Protocol (main → worker): {op: 'call', id, method, args} | {op: 'stream', id, method, messages,
// opts} (chat / complete; `messages` is the first argument) | {op: 'abort', id}. Worker → main:
// {type: 'ready', props, methods} | {type: 'progress', p} | {type: 'load-error', error} |
// {id, event} (a ChatEvent) | {id, progress} | {id, result} | {id, error}.
import { parentPort, workerData } from 'node:worker_threads';
import type { ChatStream, GenerationOptions, LoadOptions, Model } from '../api.js';

import { MODEL_PROPS, serializeError, STREAM_METHODS, SYNC_METHODS } from './worker-protocol.js';

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
      if (k !== 'constructor' && typeof m[k] === 'function' && !methods.includes(k) && !SYNC_METHODS.includes(k)) methods.push(k);
    }
  }
  const count = m.countTokens as ((t: string[], i: number) => number) | undefined;
  if (typeof count === 'function') props.imageTokenCount = count.call(model, [], 1);
  port.postMessage({ type: 'ready', props, methods });

  const aborts = new Map<number, AbortController>();
  port.on('message', async (msg: { op: string; id: number; method?: string; args?: unknown[]; messages?: unknown; opts?: GenerationOptions }) => {
    if (msg.op === 'abort') {
      aborts.get(msg.id)?.abort();
      return;
    }
    if (msg.op === 'stream') {
      const ac = new AbortController();
      aborts.set(msg.id, ac);
      try {
        const fn = m[msg.method!];
        if (!STREAM_METHODS.includes(msg.method!) || typeof fn !== 'function') throw new Error(`model has no method ${msg.method}`);
        const onProgress = (p: unknown) => port.postMessage({ id: msg.id, progress: p });
        const stream = (fn as (...a: unknown[]) => ChatStream).call(model, msg.messages, { ...msg.opts, signal: ac.signal, onProgress });
        // Events carry text deltas and drawn images in order; plain streams only text.
        if (stream.events) for await (const event of stream.events()) port.postMessage({ id: msg.id, event });
        else for await (const text of stream) port.postMessage({ id: msg.id, event: { type: 'text', text } });
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
      if (typeof fn !== 'function' || !methods.includes(msg.method!)) throw new Error(`model has no method ${msg.method}`);
      const result = await (fn as (...a: unknown[]) => unknown).apply(model, msg.args ?? []);
      // countTokens is synchronous, so it cannot be asked across the thread: the token count of
      // each embedded text travels with the vectors and the proxy answers from it.
      const count = m.countTokens as ((t: string[], i: number) => number) | undefined;
      if (msg.method === 'embedTexts' && typeof count === 'function') {
        const texts = (msg.args?.[0] ?? []) as string[];
        port.postMessage({ id: msg.id, result, tokenCounts: texts.map((t) => count.call(model, [t], 0)) });
      } else port.postMessage({ id: msg.id, result });
      if (msg.method === 'dispose') port.close();
    } catch (e) {
      port.postMessage({ id: msg.id, error: serializeError(e) });
    }
  });
}

if (parentPort) void main();
