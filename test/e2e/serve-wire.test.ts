// Wire-format details of `tsvlm serve` against real fixture checkpoints and the official openai
// client: /v1/models `created` is the load time, embeddings `usage` counts tokens, 405 for a
// wrong method, /v1/completions (prompt strings, plain and streamed) with the same max_tokens
// rules as chat.
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatModel, EmbeddingModel } from '../../src/api.js';
import { loadModel } from '../../src/index.js';
import { DEFAULT_LIMITS } from '../../src/serve/limits.js';
import { createServer, type TsvlmServer } from '../../src/serve/server.js';
import { FakeChatModel } from '../helpers/fake-models.js';
import { assemble, haveFixtures, workDir } from '../helpers/cli.js';

const have = haveFixtures('llama-tiny', 'siglip-tiny');

describe.skipIf(!have)('tsvlm serve: wire format', () => {
  let server: TsvlmServer;
  let base: string;
  let api: OpenAI;
  let llama: ChatModel;
  let siglip: EmbeddingModel;
  const loadedAt = new Date(Date.UTC(2026, 0, 2, 3, 4, 5));

  beforeAll(async () => {
    const work = workDir('tsvlm-wire-');
    llama = (await loadModel(assemble(work, 'llama-tiny'))) as ChatModel;
    siglip = (await loadModel(assemble(work, 'siglip-tiny'))) as EmbeddingModel;
    server = createServer({
      models: [
        { name: 'llama', model: llama, loadedAt },
        { name: 'siglip', model: siglip },
        { name: 'chat-only', model: new FakeChatModel() },
      ],
    });
    base = (await server.listen('127.0.0.1', 0)).url;
    api = new OpenAI({ baseURL: `${base}/v1`, apiKey: 'unused', maxRetries: 0 });
  });
  afterAll(async () => {
    await server?.close();
    await llama?.dispose();
    await siglip?.dispose();
  });

  it('/v1/models reports when each model was loaded', async () => {
    const before = Math.floor(Date.now() / 1000);
    const list = await api.models.list();
    const created = Object.fromEntries(list.data.map((m) => [m.id, m.created]));
    expect(created.llama).toBe(loadedAt.getTime() / 1000);
    expect(created.siglip).toBeGreaterThan(before - 600); // default: when the server was created
    expect(created.siglip).toBeLessThanOrEqual(before);
  });

  it('embeddings usage counts the tokens of the texts (and the patches of images)', async () => {
    const one = await api.embeddings.create({ model: 'siglip', input: 'a cat' });
    const two = await api.embeddings.create({ model: 'siglip', input: ['a cat', 'a photo of a big dog on a sofa'] });
    expect(one.usage.prompt_tokens).toBeGreaterThan(0);
    expect(two.usage.prompt_tokens).toBeGreaterThan(2 * one.usage.prompt_tokens);
    expect(two.usage.total_tokens).toBe(two.usage.prompt_tokens);
    expect(one.usage.prompt_tokens).toBe(siglip.countTokens!(['a cat'], 0));
  });

  it('a known route asked with the wrong method is a 405 with an Allow header', async () => {
    for (const [method, path, allow] of [
      ['GET', '/v1/chat/completions', 'POST'],
      ['PUT', '/v1/embeddings', 'POST'],
      ['POST', '/v1/models', 'GET'],
      ['GET', '/v1/completions', 'POST'],
      ['DELETE', '/health', 'GET'],
    ] as const) {
      const r = await fetch(`${base}${path}`, { method });
      expect(r.status, `${method} ${path}`).toBe(405);
      expect(r.headers.get('allow')).toMatch(new RegExp(`^${allow}\\b`));
      const body = await r.json();
      expect(body.error.code).toBe('method_not_allowed');
      expect(body.error.message).toContain(`use ${allow}`);
    }
    expect((await fetch(`${base}/v1/nothing-here`)).status).toBe(404);
  });

  it('/v1/completions continues a prompt string, plain and streamed, like the library', async () => {
    const prompt = 'Once upon a time';
    const want = await llama.complete!(prompt, { maxNewTokens: 6 }).result;
    const res = await api.completions.create({ model: 'llama', prompt, max_tokens: 6, temperature: 0 });
    expect(res.object).toBe('text_completion');
    expect(res.id).toMatch(/^cmpl-/);
    expect(res.choices[0]!.text).toBe(want.text);
    expect(res.choices[0]!.finish_reason).toBe(want.finishReason === 'stop' ? 'stop' : 'length');
    expect(res.usage).toEqual({ prompt_tokens: want.promptTokens, completion_tokens: want.completionTokens, total_tokens: want.promptTokens + want.completionTokens });
    let text = '';
    let finish: string | null = null;
    let usage: unknown;
    const stream = await api.completions.create({ model: 'llama', prompt: [prompt], max_tokens: 6, stream: true, stream_options: { include_usage: true } });
    for await (const chunk of stream) {
      expect(chunk.object).toBe('text_completion');
      if (chunk.choices[0]) {
        text += chunk.choices[0].text;
        finish = chunk.choices[0].finish_reason ?? finish;
      }
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text).toBe(want.text);
    expect(finish).toBe(res.choices[0]!.finish_reason);
    expect(usage).toEqual(res.usage);
  });

  it('/v1/completions refuses what it cannot do, with the chat route\'s max_tokens rules', async () => {
    const err = async (body: Record<string, unknown>) => {
      const r = await fetch(`${base}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      return { status: r.status, error: (await r.json()).error };
    };
    expect(await err({ model: 'chat-only', prompt: 'hi' })).toMatchObject({ status: 400, error: { code: 'wrong_model_kind' } });
    expect((await err({ model: 'chat-only', prompt: 'hi' })).error.message).toMatch(/use \/v1\/chat\/completions/);
    expect(await err({ model: 'siglip', prompt: 'hi' })).toMatchObject({ status: 400, error: { code: 'wrong_model_kind' } });
    expect(await err({ model: 'llama', prompt: 'hi', echo: true })).toMatchObject({ status: 400, error: { param: 'echo' } });
    expect(await err({ model: 'llama', prompt: ['a', 'b'] })).toMatchObject({ status: 400, error: { param: 'prompt' } });
    expect(await err({ model: 'nope', prompt: 'hi' })).toMatchObject({ status: 404, error: { code: 'model_not_found' } });
    const over = DEFAULT_LIMITS.maxTokensCap + 1;
    for (const path of ['/v1/completions', '/v1/chat/completions']) {
      const body = path === '/v1/completions' ? { model: 'llama', prompt: 'hi', max_tokens: over } : { model: 'llama', messages: [{ role: 'user', content: 'hi' }], max_tokens: over };
      const r = await fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      expect(r.status, path).toBe(400);
      expect((await r.json()).error.code).toBe('max_tokens_exceeded');
    }
  });
});
