// Honest progress: bytes while reading the weights, each ONNX Runtime session being created
// (ticking while it runs), prefill tokens during generation, through the library's onProgress,
// as plain lines from the CLI when stderr is not a terminal, and as SSE comments from the server.
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatModel, Progress } from '../../src/api.js';
import { loadModel } from '../../src/index.js';
import { tracked } from '../../src/generate/progress.js';
import { createServer } from '../../src/serve/server.js';
import { BUILT, IMAGES, assemble, haveFixtures, tsvlm, workDir } from '../helpers/cli.js';

describe('tracked', () => {
  it('reports start, ticks with the elapsed time while the work runs, and the end', async () => {
    const seen: Progress[] = [];
    const r = await tracked((p) => seen.push(p), { stage: 'session', total: 1, message: 'x' }, () => new Promise((res) => setTimeout(() => res(7), 130)), 30);
    expect(r).toBe(7);
    expect(seen[0]).toMatchObject({ stage: 'session', done: 0, total: 1 });
    expect(seen.at(-1)).toMatchObject({ done: 1, total: 1 });
    const ticks = seen.slice(1, -1);
    expect(ticks.length).toBeGreaterThanOrEqual(2);
    expect(ticks.every((t, i) => t.done === 0 && t.elapsedMs! >= (i ? ticks[i - 1]!.elapsedMs! : 0))).toBe(true);
  });
});

describe.skipIf(!haveFixtures('sail-tiny'))('progress of a real model', () => {
  const work = workDir('tsvlm-progress-');
  let dir: string;
  let model: ChatModel;
  const events: Progress[] = [];
  beforeAll(async () => {
    dir = assemble(work, 'sail-tiny');
    model = (await loadModel(dir, { onProgress: (p) => events.push(p) })) as ChatModel;
  });
  afterAll(() => model?.dispose());

  it('loading reports the weight bytes read and each session created', () => {
    const weights = events.filter((e) => e.stage === 'weights');
    expect(weights.every((e) => e.unit === 'bytes')).toBe(true);
    expect(weights.at(-1)).toMatchObject({ done: statSync(join(dir, 'model.safetensors')).size, total: statSync(join(dir, 'model.safetensors')).size });
    const created = events.filter((e) => e.stage === 'session' && /^creating /.test(e.message ?? ''));
    expect(created.filter((e) => e.done === 0).map((e) => e.message)).toEqual([expect.stringMatching(/^creating sail_embed \(.* MiB of weights\)$/), expect.stringMatching(/^creating decoder/)]);
    expect(created.filter((e) => e.done === 1)).toHaveLength(2);
  });

  it('generation reports the prompt tokens it processes (prefill)', async () => {
    const seen: Progress[] = [];
    const image = new Uint8Array(readFileSync(join(IMAGES, 'gray.png')));
    const r = await model.chat([{ role: 'user', content: [{ type: 'image', image }, { type: 'text', text: 'What is it?' }] }], { maxNewTokens: 2, onProgress: (p) => seen.push(p) }).result;
    const done = seen.filter((p) => p.stage === 'prefill' && p.done === p.total);
    expect(seen.every((p) => p.stage === 'prefill' && p.unit === 'tokens')).toBe(true);
    // The image prefix and the text: together the whole prompt.
    expect(done.reduce((n, p) => n + p.total, 0)).toBe(r.promptTokens);
  });

  it('the server sends prefill progress as SSE comments before the answer', async () => {
    const server = createServer({ models: [{ name: 'sail', model }] });
    const { url } = await server.listen('127.0.0.1', 0);
    try {
      const img = `data:image/png;base64,${readFileSync(join(IMAGES, 'gray.png')).toString('base64')}`;
      const res = await fetch(`${url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'sail', stream: true, max_tokens: 2, messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: img } }, { type: 'text', text: 'Hi' }] }] }),
      });
      const text = await res.text();
      const comments = text.split('\n\n').filter((e) => e.startsWith(': progress '));
      expect(comments.length).toBeGreaterThanOrEqual(2);
      const first = JSON.parse(comments[0]!.slice(': progress '.length));
      expect(first).toMatchObject({ stage: 'prefill', done: 0, unit: 'tokens' });
      expect(text.indexOf(': progress ')).toBeLessThan(text.indexOf('"content":"', text.indexOf('"role":"assistant"') + 30));
    } finally {
      await server.close();
    }
  });

  it.skipIf(!BUILT)('the CLI prints plain progress lines when stderr is not a terminal (-q: none)', () => {
    const r = tsvlm(['chat', '--model', dir, 'Hello', '--max-new-tokens', '2']);
    expect(r.code, r.err).toBe(0);
    expect(r.err).toMatch(/^\[tsvlm\] weights reading 100% .*MiB\/.*MiB/m);
    expect(r.err).toMatch(/^\[tsvlm\] session creating decoder .*100% 1\/1/m);
    expect(r.err.split('\n').every((l) => !l.includes('\r'))).toBe(true);
    const q = tsvlm(['chat', '--model', dir, 'Hello', '--max-new-tokens', '2', '-q']);
    expect(q.err).toBe('');
  });
});
