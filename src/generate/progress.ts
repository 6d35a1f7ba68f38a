// Progress of long work that happens deep inside a load or a generation (ORT session creation,
// prefill), reported to the caller's onProgress without threading a callback through every model:
// loadModel and each generation run their work inside a progress scope (AsyncLocalStorage).
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Progress } from '../api.js';

type Sink = (p: Progress) => void;
const scope = new AsyncLocalStorage<Sink | undefined>();

/** Runs `fn` with `sink` as the progress receiver of everything it awaits. */
export function withProgress<T>(sink: Sink | undefined, fn: () => T): T {
  return scope.run(sink, fn);
}

export function currentProgress(): Sink | undefined {
  return scope.getStore();
}

/**
 * Reports `work` as one step: done 0 at the start, then every `tickMs` with the time so far
 * (elapsedMs), and done = total at the end. For native calls that report nothing themselves.
 */
export async function tracked<T>(sink: Sink | undefined, p: Omit<Progress, 'done'>, work: () => Promise<T>, tickMs = 1000): Promise<T> {
  if (!sink) return work();
  const t0 = Date.now();
  const emit = (done: number) => {
    try {
      sink({ ...p, done, elapsedMs: Date.now() - t0 });
    } catch {
      // a failing progress callback must not fail the work
    }
  };
  emit(0);
  const timer = setInterval(() => emit(0), tickMs);
  try {
    const r = await work();
    emit(p.total);
    return r;
  } finally {
    clearInterval(timer);
  }
}
