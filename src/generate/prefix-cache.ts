// LRU cache of computed prefixes (e.g. a SAIL image prefix): the KV entries and the position
// state after the prefix, keyed by content hash, bounded by a byte budget. Entries are never
// handed out directly: callers get a fork, so a request can never corrupt a cached prefix.
import type { SeqState } from './decoder-lm.js';

interface Entry {
  state: SeqState;
  bytes: number;
  extra: unknown;
}

export class PrefixCache {
  private map = new Map<string, Entry>();
  private used = 0;
  hits = 0;
  misses = 0;

  constructor(readonly budgetBytes: number) {}

  get size(): number {
    return this.map.size;
  }

  get bytes(): number {
    return this.used;
  }

  /** A private copy of the cached state (with room for `extra` more tokens), or undefined. */
  async fork<T = unknown>(key: string, extraCapacity = 256): Promise<{ state: SeqState; extra: T } | undefined> {
    const e = this.map.get(key);
    if (!e) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    this.map.delete(key);
    this.map.set(key, e); // most recently used last
    return {
      state: { cache: await e.state.cache.fork(extraCapacity), leftPad: [...e.state.leftPad], nextPos: [...e.state.nextPos] },
      extra: e.extra as T,
    };
  }

  /** Stores a copy of `state` (trimmed to its length) under `key`, evicting least recently used. */
  async put(key: string, state: SeqState, extra?: unknown): Promise<void> {
    const copy: SeqState = { cache: await state.cache.fork(0), leftPad: [...state.leftPad], nextPos: [...state.nextPos] };
    const bytes = copy.cache.bytes;
    if (bytes > this.budgetBytes) return; // larger than the whole budget: not cached
    const old = this.map.get(key);
    if (old) {
      this.used -= old.bytes;
      this.map.delete(key);
    }
    while (this.used + bytes > this.budgetBytes && this.map.size) {
      const [k, e] = this.map.entries().next().value as [string, Entry];
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
