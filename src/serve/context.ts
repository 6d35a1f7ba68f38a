// What every route handler needs: the models with their queues, the limits, and "jobs" that tie
// one request's work to an AbortSignal fired by a client disconnect or by server shutdown.
import type { Model } from '../api.js';
import { ApiError } from './errors.js';
import type { ImageLimits } from './images.js';
import type { Limits } from './limits.js';
import { ModelQueue, QueueClosedError, QueueFullError, type Slot } from './queue.js';

export interface ModelEntry {
  name: string;
  model: Model;
  queue: ModelQueue;
  /** Unix seconds when the model was loaded (/v1/models `created`). */
  created: number;
}

/** Why a job was aborted: the client went away, or the server is stopping. */
export type AbortCause = 'client' | 'shutdown';

export interface Job {
  readonly signal: AbortSignal;
  cause(): AbortCause | undefined;
  abort(cause: AbortCause): void;
  /** Unregisters the job (call once its work has stopped). */
  end(): void;
}

export class ServeContext {
  readonly models = new Map<string, ModelEntry>();
  private readonly jobs = new Set<{ abort: (c: AbortCause) => void }>();
  private idleWaiters: Array<() => void> = [];
  closing = false;

  constructor(
    readonly limits: Limits,
    readonly imageLimits: ImageLimits,
    models: Array<{ name: string; model: Model; loadedAt?: Date }>,
  ) {
    const now = new Date();
    for (const { name, model, loadedAt } of models) {
      if (!name) throw new Error('createServer: every model needs a non-empty name');
      if (this.models.has(name)) throw new Error(`createServer: two models are named "${name}"; names must be unique`);
      this.models.set(name, { name, model, queue: new ModelQueue(limits.queueSize), created: Math.floor((loadedAt ?? now).getTime() / 1000) });
    }
  }

  lookup(name: string): ModelEntry {
    const entry = this.models.get(name);
    if (!entry) {
      const known = [...this.models.keys()].join(', ') || '(none)';
      throw new ApiError(404, `The model "${name}" does not exist on this server (available: ${known})`, 'model_not_found', 'model');
    }
    return entry;
  }

  /** Starts a job for one request; `clientSignal` is the request's own signal (fires on disconnect). */
  begin(clientSignal: AbortSignal): Job {
    if (this.closing) throw new ApiError(503, 'server is shutting down', 'shutting_down');
    const controller = new AbortController();
    let cause: AbortCause | undefined;
    const handle = {
      abort: (c: AbortCause) => {
        if (controller.signal.aborted) return;
        cause = c;
        controller.abort(new DOMException(c === 'client' ? 'client disconnected' : 'server is shutting down', 'AbortError'));
      },
    };
    const onClientAbort = () => handle.abort('client');
    if (clientSignal.aborted) handle.abort('client');
    else clientSignal.addEventListener('abort', onClientAbort, { once: true });
    this.jobs.add(handle);
    let ended = false;
    return {
      signal: controller.signal,
      cause: () => cause,
      abort: handle.abort,
      end: () => {
        if (ended) return;
        ended = true;
        clientSignal.removeEventListener('abort', onClientAbort);
        this.jobs.delete(handle);
        if (this.jobs.size === 0) for (const w of this.idleWaiters.splice(0)) w();
      },
    };
  }

  /** The error to answer for a job that was aborted (the client is gone, or the server is stopping). */
  static abortedError(job: Job): ApiError | undefined {
    const cause = job.cause();
    if (cause === 'shutdown') return new ApiError(503, 'server is shutting down; the request was stopped', 'shutting_down');
    // Nobody reads this answer; it only keeps a disconnect from being logged as a server bug.
    if (cause === 'client') return new ApiError(499, 'client closed the request', 'client_closed');
    return undefined;
  }

  /** Joins the model's queue, mapping a full queue to 429 + Retry-After. */
  enter(entry: ModelEntry, signal: AbortSignal): Slot {
    try {
      return entry.queue.enter(signal);
    } catch (err) {
      if (err instanceof QueueFullError) {
        const s = err.retryAfterSeconds;
        throw new ApiError(
          429,
          `model "${entry.name}" is busy: its queue is full (${entry.queue.maxWaiting} waiting); retry in about ${s} s`,
          'queue_full',
          null,
          undefined,
          { 'Retry-After': String(s) },
        );
      }
      if (err instanceof QueueClosedError) throw new ApiError(503, 'server is shutting down', 'shutting_down');
      throw err;
    }
  }

  /** Stops admitting work and aborts every running job; resolves when all have ended (or after graceMs). */
  async shutdown(graceMs: number): Promise<void> {
    this.closing = true;
    for (const e of this.models.values()) e.queue.close();
    for (const j of [...this.jobs]) j.abort('shutdown');
    if (this.jobs.size === 0) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, graceMs);
      timer.unref?.();
      this.idleWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}
