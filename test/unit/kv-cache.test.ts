// KV caches: the time-major cache of the plain-op decoder and the head-major cache of the
// GroupQueryAttention decoder hold the same entries through appends, growth, forks and truncation.
import { describe, it, expect } from 'vitest';
import { HeadMajorKvCache, KvCache } from '../../src/generate/kv-cache.js';
import { ort } from '../../src/graph/session.js';

const L = 2, B = 2, KV = 3, hd = 4;
/** Value of entry (layer, kind, b, h, t, d): distinct everywhere. */
const val = (l: number, kind: number, b: number, h: number, t: number, d: number) => ((((l * 2 + kind) * B + b) * KV + h) * 100 + t) * 10 + d;

/** new_key.i / new_value.i outputs for slots [t0, t0 + S) in the layout each cache expects. */
function outputs(t0: number, S: number, headMajor: boolean): Record<string, ort.Tensor> {
  const out: Record<string, ort.Tensor> = {};
  for (let l = 0; l < L; l++) {
    for (const [kind, name] of [[0, 'key'], [1, 'value']] as const) {
      const data = new Float32Array(S * B * KV * hd);
      for (let s = 0; s < S; s++) for (let b = 0; b < B; b++) for (let h = 0; h < KV; h++) for (let d = 0; d < hd; d++) {
        const i = headMajor ? (((b * KV + h) * S + s) * hd + d) : (((s * B + b) * KV + h) * hd + d);
        data[i] = val(l, kind, b, h, t0 + s, d);
      }
      out[`new_${name}.${l}`] = new ort.Tensor('float32', data, headMajor ? [B, KV, S, hd] : [S, B, KV, hd]);
    }
  }
  return out;
}

/** Every valid entry read back from the feeds of either cache. */
function entries(c: KvCache | HeadMajorKvCache): number[] {
  const f = c.feeds();
  const got: number[] = [];
  for (let l = 0; l < L; l++) for (const [kind, name] of [[0, 'key'], [1, 'value']] as const) {
    const t = f[`past_${name}.${l}`]!;
    const data = t.data as Float32Array;
    const headMajor = c instanceof HeadMajorKvCache;
    const cap = headMajor ? t.dims[2]! : t.dims[0]!;
    if (!headMajor) expect(cap).toBe(c.length);
    for (let b = 0; b < B; b++) for (let h = 0; h < KV; h++) for (let s = 0; s < c.length; s++) for (let d = 0; d < hd; d++) {
      const i = headMajor ? (((b * KV + h) * cap + s) * hd + d) : (((s * B + b) * KV + h) * hd + d);
      got.push(data[i]! - val(l, kind, b, h, s, d));
    }
  }
  return got;
}

describe.each([['time-major', false], ['head-major', true]] as const)('%s KV cache', (_n, headMajor) => {
  const make = (cap: number) => (headMajor ? new HeadMajorKvCache(L, B, KV, hd, cap) : new KvCache(L, B, KV, hd, cap));

  it('keeps every entry through a prefill, single steps and growth past the capacity', () => {
    const c = make(4);
    c.append(outputs(0, 3, headMajor), 3);
    for (let t = 3; t < 11; t++) c.append(outputs(t, 1, headMajor), 1); // grows 4 → 8 → 16
    expect(c.length).toBe(11);
    expect(entries(c).every((x) => x === 0)).toBe(true);
  });

  it('forks an independent copy and truncates back to a shared prefix', () => {
    const c = make(4);
    c.append(outputs(0, 5, headMajor), 5);
    const f = c.fork(2);
    f.append(outputs(5, 3, headMajor), 3);
    expect(c.length).toBe(5);
    expect(entries(c).every((x) => x === 0)).toBe(true);
    expect(entries(f).every((x) => x === 0)).toBe(true);
    f.truncate(2);
    expect(f.length).toBe(2);
    expect(() => f.truncate(3)).toThrow(/cannot truncate a cache of 2 to 3/);
  });
});

describe('head-major KV cache rows', () => {
  it('rowFeeds(b) is row b of the whole buffer, as a view', () => {
    const c = new HeadMajorKvCache(L, B, KV, hd, 8);
    c.append(outputs(0, 3, true), 3);
    const all = c.feeds()['past_key.1']!;
    const row = c.rowFeeds(1, 2)['past_key.1']!;
    expect(row.dims).toEqual([1, KV, 8, hd]);
    const n = KV * 8 * hd;
    expect(Array.from(row.data as Float32Array)).toEqual(Array.from((all.data as Float32Array).subarray(n, 2 * n)));
    expect((row.data as Float32Array).buffer).toBe((all.data as Float32Array).buffer);
  });
});
