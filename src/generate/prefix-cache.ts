// LRU cache of computed prefixes (e.g. a SAIL image prefix, a HoVLE system + image prefix): the
// KV entries and position state after the prefix, keyed by content hash, bounded by a byte budget.
// Entries are never handed out directly: callers get a fork, so a request can never corrupt a
// cached prefix. A state is one SeqState by default; models with several stacks (HoVLE) pass
// their own fork/bytes operations.
import type { SeqState } from './decoder-lm.js';

/** How to copy a state (with room for more tokens) and what it costs to keep. */
export interface PrefixStateOps<S> {
  fork(state: S, extraCapacity: number): Promise<S>;
  bytes(state: S): number;
}

export async function forkSeqState(s: SeqState, extraCapacity: number): Promise<SeqState> {
  return { cache: await s.cache.fork(extraCapacity), leftPad: [...s.leftPad], nextPos: [...s.nextPos] };
}

export const seqStateOps: PrefixStateOps<SeqState> = { fork: forkSeqState, bytes: (s) => s.cache.bytes };

interface Entry<S> {
  state: S;
  bytes: number;
  extra: unknown;
}

export class PrefixCache<S = SeqState> {
  private map = new Map<string, Entry<S>>();
  private used = 0;
  hits = 0;
  misses = 0;

  constructor(readonly budgetBytes: number, private readonly ops: PrefixStateOps<S> = seqStateOps as unknown as PrefixStateOps<S>) {}

  get size(): number {
    return this.map.size;
  }

  get bytes(): number {
    return this.used;
  }

  /** A private copy of the cached state (with room for `extra` more tokens), or undefined. */
  async fork<T = unknown>(key: string, extraCapacity = 256): Promise<{ state: S; extra: T } | undefined> {
    const e = this.map.get(key);
    if (!e) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    this.map.delete(key);
    this.map.set(key, e); // most recently used last
    return { state: await this.ops.fork(e.state, extraCapacity), extra: e.extra as T };
  }

  /** Stores a copy of `state` (trimmed to its length) under `key`, evicting least recently used. */
  async put(key: string, state: S, extra?: unknown): Promise<void> {
    const copy = await this.ops.fork(state, 0);
    const bytes = this.ops.bytes(copy);
    if (bytes > this.budgetBytes) return; // larger than the whole budget: not cached
    const old = this.map.get(key);
    if (old) {
      this.used -= old.bytes;
      this.map.delete(key);
    }
    while (this.used + bytes > this.budgetBytes && this.map.size) {
      const [k, e] = this.map.entries().next().value as [string, Entry<S>];
      this.map.delete(k);
      this.used -= e.bytes;
    }
    this.map.set(key, { state: copy, bytes, extra });
    this.used += bytes;
  }

  clear(): void {
    this.map.clear();
    this.used = 0;
  }
}
