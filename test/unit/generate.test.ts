// Sampling and the generation loop on synthetic logits: seeded determinism, each filter's effect,
// eos / stop strings (also across token boundaries) / max tokens / abort, streamed deltas.
import { describe, it, expect } from 'vitest';
import { Sampler, argmax } from '../../src/generate/sampler.js';
import { streamGeneration, type StreamDecoder } from '../../src/generate/generate.js';
import { buildMask, MASKED } from '../../src/generate/mask.js';

const logits = Float32Array.from([0.1, 2.0, 1.9, -1, 0.5, 1.95]);

describe('sampler', () => {
  it('same seed, same choices; greedy without options', () => {
    const run = (seed: number) => { const s = new Sampler({ temperature: 1.5, seed }); return Array.from({ length: 50 }, () => s.choose(logits, [])); };
    expect(run(3)).toEqual(run(3));
    expect(run(3)).not.toEqual(run(4));
    expect(new Sampler().choose(logits, [])).toBe(1);
    expect(new Sampler({ temperature: 0, topP: 0.5 }).greedy).toBe(true);
  });
  it('top-k 1, tiny top-p and min-p 1 keep only the best token', () => {
    for (const o of [{ topK: 1 }, { topP: 1e-6 }, { minP: 1 }]) {
      const s = new Sampler({ temperature: 5, seed: 1, ...o });
      expect(new Set(Array.from({ length: 40 }, () => s.choose(logits, [])))).toEqual(new Set([1]));
    }
  });
  it('top-k 3 never picks outside the three best', () => {
    const s = new Sampler({ temperature: 10, topK: 3, seed: 2 });
    const picks = new Set(Array.from({ length: 300 }, () => s.choose(logits, [])));
    expect([...picks].sort()).toEqual([1, 2, 5]);
  });
  it('repetition penalty divides positive and multiplies negative logits of seen tokens', () => {
    expect(new Sampler({ repetitionPenalty: 2 }).choose(logits, [1, 5])).toBe(2);
  });
  it('rejects out-of-range options', () => {
    expect(() => new Sampler({ topP: 2 })).toThrow(/topP/);
    expect(() => new Sampler({ topK: 1.5 })).toThrow(/topK/);
    expect(() => new Sampler({ temperature: -1 })).toThrow(/temperature/);
    expect(() => new Sampler({ repetitionPenalty: 0 })).toThrow(/repetitionPenalty must be in \(0, 100\]/);
  });
  it('argmax takes the first of equal maxima', () => {
    expect(argmax([1, 3, 3])).toBe(1);
  });
});

/** A "model" that emits a fixed token sequence; token t decodes to pieces[t]. */
function fixed(seq: number[], pieces: string[], opts: { stop?: string[]; max?: number; signal?: AbortSignal; eos?: number[] } = {}) {
  let i = 0;
  const onehot = (t: number) => Float32Array.from(pieces, (_, k) => (k === t ? 1 : 0));
  const decoder: StreamDecoder = { push: (t) => pieces[t]!, flush: () => '' };
  return streamGeneration({
    firstLogits: onehot(seq[0]!),
    step: async () => onehot(seq[++i] ?? 0),
    sampler: new Sampler(),
    maxNewTokens: opts.max ?? 100,
    eosIds: opts.eos ?? [0],
    stop: opts.stop,
    promptIds: [],
    promptTokens: 3,
    decoder,
    signal: opts.signal,
  });
}

async function collect(s: ReturnType<typeof fixed>) {
  const deltas: string[] = [];
  for await (const d of s) deltas.push(d);
  return { deltas, r: await s.result };
}

describe('generation loop', () => {
  const pieces = ['<eos>', 'Hel', 'lo', ' wor', 'ld', '!', ' END', 'x'];
  it('stops at eos; deltas concatenate to the text', async () => {
    const { deltas, r } = await collect(fixed([1, 2, 3, 4, 5, 0, 7], pieces));
    expect(r.text).toBe('Hello world!');
    expect(deltas.join('')).toBe(r.text);
    expect(r).toMatchObject({ finishReason: 'stop', tokenIds: [1, 2, 3, 4, 5], completionTokens: 5, promptTokens: 3 });
  });
  it('stops at max tokens with finish reason length', async () => {
    const { r } = await collect(fixed([1, 2, 3, 4], pieces, { max: 2 }));
    expect(r).toMatchObject({ text: 'Hello', finishReason: 'length', completionTokens: 2 });
  });
  it('cuts at a stop string spanning tokens and never streams part of it', async () => {
    const { deltas, r } = await collect(fixed([1, 2, 3, 4, 5, 7], pieces, { stop: ['o wo'] }));
    expect(r.text).toBe('Hell');
    expect(r.finishReason).toBe('stop');
    expect(deltas.join('')).toBe('Hell');
  });
  it('aborts promptly', async () => {
    const ac = new AbortController();
    const s = fixed([1, 2, 3, 4, 5, 1, 2, 3, 4, 5], pieces, { signal: ac.signal });
    const seen: string[] = [];
    for await (const d of s) { seen.push(d); if (seen.length === 2) ac.abort(); }
    const r = await s.result;
    expect(r.finishReason).toBe('abort');
    expect(r.completionTokens).toBeLessThan(5);
  });
});

describe('masks', () => {
  it('causal + left padding + bidirectional prefix + sliding window', () => {
    const m = buildMask({ batch: 1, past: 0, seq: 4, leftPad: [1], prefix: 3, slidingWindow: 2 });
    const ok = Array.from(m, (x) => (x === MASKED ? 0 : 1));
    // rows = queries; key 0 is padding (masked for all); 0..2 form the bidirectional prefix
    // (row 0 is a padding query, its output is unused); row 3 drops key 1 (window 2).
    expect(ok).toEqual([0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 0, 1, 1]);
  });
});
