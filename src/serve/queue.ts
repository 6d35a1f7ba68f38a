// Per-model bounded FIFO: models are not re-entrant, so one request runs at a time and at most
// `maxWaiting` wait behind it. A full queue refuses at once (the server answers 429 + Retry-After)
// instead of letting latency grow without bound.

export class QueueFullError extends Error {
  constructor(readonly retryAfterSeconds: number) {
    super('queue full');
    this.name = 'QueueFullError';
  }
}

export class QueueClosedError extends Error {
  constructor() {
    super('server is shutting down');
    this.name = 'QueueClosedError';
  }
}

/** A place in the queue. `ready` resolves when it is this request's turn. */
export interface Slot {
  readonly ready: Promise<void>;
  /** Frees the place (running or still waiting). Safe to call more than once. */
  release(): void;
}

interface Waiter {
  start: () => void;
  fail: (err: Error) => void;
}

export class ModelQueue {
  private running = false;
  private readonly waiting: Waiter[] = [];
  private closed = false;
  /** Moving average of how long a slot is held, for Retry-After. */
  private avgHoldMs = 2000;

  constructor(readonly maxWaiting: number) {}

  get busy(): boolean {
    return this.running;
  }

  get waitingCount(): number {
    return this.waiting.length;
  }

  /** Seconds until a place is likely free: the average hold time × the requests ahead. */
  retryAfterSeconds(): number {
    const ahead = this.waiting.length + (this.running ? 1 : 0);
    return Math.max(1, Math.ceil((this.avgHoldMs * ahead) / 1000));
  }

  /**
   * Takes a place synchronously (so admission is decided before any slow work), or throws
   * QueueFullError. An abort of `signal` while waiting removes the request and rejects `ready`.
   */
  enter(signal?: AbortSignal): Slot {
    if (this.closed) throw new QueueClosedError();
    if (this.running && this.waiting.length >= this.maxWaiting) {
      throw new QueueFullError(this.retryAfterSeconds());
    }
    let state: 'waiting' | 'running' | 'done' = 'waiting';
    let startedAt = 0;
    let waiter: Waiter | undefined;
    const onAbort = () => {
      if (state !== 'waiting' || !waiter) return;
      this.remove(waiter);
      state = 'done';
      waiter.fail(abortError(signal));
    };
    const ready = new Promise<void>((resolve, reject) => {
      waiter = {
        start: () => {
          signal?.removeEventListener('abort', onAbort);
          state = 'running';
          startedAt = Date.now();
          resolve();
        },
        fail: (err) => {
          signal?.removeEventListener('abort', onAbort);
          reject(err);
        },
      };
    });
    // A rejected `ready` that nobody awaited (the caller already gave up) must not crash the process.
    ready.catch(() => {});
    const w = waiter!;
    if (signal?.aborted) {
      state = 'done';
      w.fail(abortError(signal));
    } else if (!this.running) {
      this.running = true;
      w.start();
    } else {
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(w);
    }
    return {
      ready,
      release: () => {
        if (state === 'running') {
          state = 'done';
          this.avgHoldMs = 0.8 * this.avgHoldMs + 0.2 * (Date.now() - startedAt);
          this.next();
        } else if (state === 'waiting') {
          state = 'done';
          this.remove(w);
          w.fail(abortError(undefined));
        }
      },
    };
  }

  /** Refuses new requests and fails every waiting one; the running one finishes or is aborted by its owner. */
  close(): void {
    this.closed = true;
    for (const w of this.waiting.splice(0)) w.fail(new QueueClosedError());
  }

  private next(): void {
    const w = this.waiting.shift();
    if (w) w.start();
    else this.running = false;
  }

  private remove(w: Waiter): void {
    const i = this.waiting.indexOf(w);
    if (i >= 0) this.waiting.splice(i, 1);
  }
}

function abortError(signal: AbortSignal | undefined): Error {
  const reason = signal?.reason;
  if (reason instanceof Error) return reason;
  const err = new Error(typeof reason === 'string' ? reason : 'request aborted');
  err.name = 'AbortError';
  return err;
}
