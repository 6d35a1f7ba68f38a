// End-to-end tests of `tsvlm serve` with the official `openai` client against a server on an
// ephemeral loopback port: chat (plain and streamed, with images), embeddings (text and image),
// classify, every error path, auth, the queue bound (429) and cancellation on disconnect.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import zlib from 'node:zlib';
import OpenAI from 'openai';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatModel, EmbeddingModel } from '../../src/api.js';
import { decodeImage } from '../../src/serve/image-codec.js';
import { DEFAULT_LIMITS } from '../../src/serve/limits.js';
import { createServer, type TsvlmServer } from '../../src/serve/server.js';
import { FakeChatModel, FakeEmbeddingModel, fakeReply, imageKey, inspectImage, seededUnitVector } from '../helpers/fake-models.js';
import { FIXTURES_ROOT } from '../helpers/fixtures.js';

// ---- the models under test: fakes, or real checkpoints with TSVLM_SERVE_TEST_MODELS=chat=DIR,embed=DIR
// (either one may be left out; the other stays a fake). Assertions that need the fake's known
// behaviour are guarded with `instanceof Fake...`.
async function modelsUnderTest(): Promise<{ chat: ChatModel; embed: EmbeddingModel }> {
  const spec = Object.fromEntries(
    (process.env.TSVLM_SERVE_TEST_MODELS ?? '')
      .split(',')
      .filter(Boolean)
      .map((kv) => kv.split('=').map((x) => x.trim())),
  ) as Record<string, string | undefined>;
  let chat: ChatModel = new FakeChatModel({ tokenDelayMs: 2 });
  let embed: EmbeddingModel = new FakeEmbeddingModel();
  if (spec.chat || spec.embed) {
    const index = '../../src/index.js'; // a variable: the engine is loaded only when asked for
    const { loadModel } = (await import(/* @vite-ignore */ index)) as { loadModel: (dir: string) => Promise<ChatModel | EmbeddingModel> };
    if (spec.chat) {
      const m = await loadModel(spec.chat);
      if (m.kind !== 'chat') throw new Error(`TSVLM_SERVE_TEST_MODELS: ${spec.chat} is not a chat model`);
      chat = m;
    }
    if (spec.embed) {
      const m = await loadModel(spec.embed);
      if (m.kind !== 'embedding') throw new Error(`TSVLM_SERVE_TEST_MODELS: ${spec.embed} is not an embedding model`);
      embed = m;
    }
  }
  return { chat, embed };
}

const KEY = 'test-key-123';
const IMAGES_DIR = join(FIXTURES_ROOT, 'images');
// Smallest files first: real models' prompts grow with the image (SAIL: one token per patch).
// Without ../shared (a clone on its own) the API suite skips, as the parity suites do.
const haveImages = existsSync(IMAGES_DIR);
const imageFiles = (haveImages ? readdirSync(IMAGES_DIR) : [])
  .filter((f) => /\.(png|jpe?g)$/i.test(f))
  .map((f) => join(IMAGES_DIR, f))
  .sort((a, b) => statSync(a).size - statSync(b).size);
const pngFile = imageFiles.find((f) => f.endsWith('.png'))!;
const jpegFile = imageFiles.find((f) => /\.jpe?g$/.test(f))!;
const dataUrl = (bytes: Uint8Array, mime = 'image/png') => `data:${mime};base64,${Buffer.from(bytes).toString('base64')}`;
const fileDataUrl = (file: string) => dataUrl(readFileSync(file), file.endsWith('.png') ? 'image/png' : 'image/jpeg');

/** A PNG whose header claims 100000×100000 pixels (10^10) in 74 bytes: a decompression bomb. */
function bombPng(): Uint8Array {
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(zlib.crc32(td));
    return Buffer.concat([len, td, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(100_000, 0);
  ihdr.writeUInt32BE(100_000, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  const sig = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([sig, chunk('IHDR', ihdr), chunk('IDAT', zlib.deflateSync(Buffer.alloc(1000))), chunk('IEND', Buffer.alloc(0))]);
}

async function startServer(server: TsvlmServer) {
  const { url } = await server.listen('127.0.0.1', 0);
  return url;
}

function client(url: string, apiKey = KEY) {
  return new OpenAI({ baseURL: `${url}/v1`, apiKey, maxRetries: 0, timeout: 30_000 });
}

async function post(url: string, path: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${url}${path}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${KEY}`, ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, json, text, headers: res.headers };
}

function expectErrorShape(json: any, code?: string) {
  expect(json).toBeTypeOf('object');
  expect(json.error).toBeTypeOf('object');
  expect(json.error.message).toBeTypeOf('string');
  expect(json.error.message.length).toBeGreaterThan(0);
  expect(json.error.type).toBeTypeOf('string');
  expect('param' in json.error && 'code' in json.error).toBe(true);
  if (code) expect(json.error.code).toBe(code);
}

async function waitFor(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000) {
  const t0 = Date.now();
  while (!(await cond())) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const norm = (v: ArrayLike<number>) => Math.sqrt(Array.from(v).reduce((s, x) => s + x * x, 0));

describe.skipIf(!haveImages)('tsvlm serve: API', () => {
  let chat: ChatModel;
  let embed: EmbeddingModel;
  let server: TsvlmServer;
  let url: string;
  let api: OpenAI;
  const LIMITS = { maxImagesPerRequest: 2, maxTokensCap: 64, maxImagePixels: 1_000_000, maxBodyBytes: 4 * 1024 * 1024 };

  beforeAll(async () => {
    ({ chat, embed } = await modelsUnderTest());
    server = createServer({
      models: [
        { name: 'chat', model: chat },
        { name: 'embed', model: embed },
      ],
      apiKey: KEY,
      localImageDir: IMAGES_DIR,
      ...LIMITS,
    });
    url = await startServer(server);
    api = client(url);
  });
  afterAll(async () => {
    await server?.close();
    await chat?.dispose();
    await embed?.dispose();
  });

  it('lists the models with their kind', async () => {
    const list = await api.models.list();
    const byId = Object.fromEntries(list.data.map((m: any) => [m.id, m]));
    expect(Object.keys(byId).sort()).toEqual(['chat', 'embed']);
    expect(byId.chat.kind).toBe('chat');
    expect(byId.embed.kind).toBe('embedding');
    expect(byId.embed.dimensions).toBe(embed.dimensions);
    const one: any = await api.models.retrieve('embed');
    expect(one.id).toBe('embed');
  });

  it('answers a chat with an image (not streamed)', async () => {
    const res = await api.chat.completions.create({
      model: 'chat',
      messages: [
        { role: 'system', content: 'Be brief.' },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'What is in this picture?' },
            { type: 'image_url', image_url: { url: fileDataUrl(pngFile) } },
          ],
        },
      ],
      max_tokens: 60,
    });
    expect(res.object).toBe('chat.completion');
    expect(res.model).toBe('chat');
    expect(res.id).toMatch(/^chatcmpl-/);
    const choice = res.choices[0]!;
    expect(choice.message.role).toBe('assistant');
    expect(typeof choice.message.content).toBe('string');
    expect(['stop', 'length']).toContain(choice.finish_reason);
    expect(res.usage!.completion_tokens).toBeGreaterThan(0);
    expect(res.usage!.total_tokens).toBe(res.usage!.prompt_tokens + res.usage!.completion_tokens);
    if (chat instanceof FakeChatModel) {
      // The model decoded the pixels it got: same size and mean colour as the file itself.
      const call = chat.calls.at(-1)!;
      const want = await inspectImage(readFileSync(pngFile));
      expect(call.images).toEqual([want]);
      expect(choice.message.content).toBe(fakeReply(call.messages, [want]));
      expect(choice.finish_reason).toBe('stop');
      expect(call.opts.maxNewTokens).toBe(60);
    }
  });

  it('streams the same answer chunk by chunk, with usage when asked', async () => {
    const messages = [
      {
        role: 'user' as const,
        content: [
          { type: 'text' as const, text: 'Describe it.' },
          { type: 'image_url' as const, image_url: { url: fileDataUrl(jpegFile) } },
        ],
      },
    ];
    const plain = await api.chat.completions.create({ model: 'chat', messages, max_tokens: 40 });
    const stream = await api.chat.completions.create({
      model: 'chat',
      messages,
      max_tokens: 40,
      stream: true,
      stream_options: { include_usage: true },
    });
    const deltas: string[] = [];
    let finish: string | null = null;
    let usage: OpenAI.CompletionUsage | null | undefined;
    const ids = new Set<string>();
    for await (const chunk of stream) {
      ids.add(chunk.id);
      expect(chunk.object).toBe('chat.completion.chunk');
      if (chunk.usage) usage = chunk.usage;
      for (const c of chunk.choices) {
        if (c.delta.content) deltas.push(c.delta.content);
        if (c.finish_reason) finish = c.finish_reason;
      }
    }
    expect(ids.size).toBe(1);
    expect(deltas.length).toBeGreaterThan(1); // really streamed, not one blob
    expect(deltas.join('')).toBe(plain.choices[0]!.message.content);
    expect(finish).toBe(plain.choices[0]!.finish_reason);
    expect(usage).toEqual(plain.usage);
  });

  it('honours max_tokens (finish_reason "length") and stop strings', async () => {
    const long = await api.chat.completions.create({
      model: 'chat',
      messages: [{ role: 'user', content: '/long please keep going' }],
      max_tokens: 7,
    });
    expect(long.choices[0]!.finish_reason).toBe('length');
    expect(long.usage!.completion_tokens).toBe(7);
    if (chat instanceof FakeChatModel) {
      const stopped = await api.chat.completions.create({
        model: 'chat',
        messages: [{ role: 'user', content: 'alpha beta gamma delta' }],
        stop: [' gamma', 'zzz'],
        seed: 5,
        temperature: 0.7,
        top_p: 0.9,
      });
      expect(stopped.choices[0]!.message.content).toBe('You said: alpha beta');
      expect(stopped.choices[0]!.finish_reason).toBe('stop');
      const opts = chat.calls.at(-1)!.opts;
      expect(opts).toMatchObject({ stop: [' gamma', 'zzz'], seed: 5, temperature: 0.7, topP: 0.9 });
      expect(opts.maxNewTokens).toBe(Math.min(DEFAULT_LIMITS.defaultMaxTokens, LIMITS.maxTokensCap)); // no max_tokens → the default, within the cap
    }
  });

  it('reads file:// images only inside --image-dir', async () => {
    const ok = await api.chat.completions.create({
      model: 'chat',
      messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: pathToFileURL(pngFile).href } }] }],
      max_tokens: 30,
    });
    expect(ok.choices[0]!.message.content!.length).toBeGreaterThan(0);
    for (const bad of [pathToFileURL('/etc/passwd').href, pathToFileURL(join(IMAGES_DIR, '../images/../../../etc/hostname')).href]) {
      const r = await post(url, '/v1/chat/completions', {
        model: 'chat',
        messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: bad } }] }],
      });
      expect(r.status).toBe(400);
      expectErrorShape(r.json, 'invalid_image_url');
    }
    const remote = await post(url, '/v1/chat/completions', {
      model: 'chat',
      messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'http://127.0.0.1:1/x.png' } }] }],
    });
    expect(remote.status).toBe(400);
    expect(remote.json.error.message).toMatch(/not fetched/);
  });

  it('embeds texts and images (base64 and float agree; unit length)', async () => {
    const texts = ['a photo of a cat', 'a photo of a dog'];
    const b64 = await api.embeddings.create({ model: 'embed', input: texts }); // the client asks for base64
    const flt = await api.embeddings.create({ model: 'embed', input: texts, encoding_format: 'float' });
    expect(b64.data.map((d) => d.index)).toEqual([0, 1]);
    for (let i = 0; i < texts.length; i++) {
      expect(b64.data[i]!.embedding).toHaveLength(embed.dimensions);
      expect(b64.data[i]!.embedding).toEqual(flt.data[i]!.embedding.map((x) => Math.fround(x)));
      expect(norm(flt.data[i]!.embedding)).toBeCloseTo(1, 5);
    }
    const direct = await embed.embedTexts(texts);
    expect(flt.data[0]!.embedding).toEqual(Array.from(direct[0]!));

    const img = fileDataUrl(pngFile);
    const mixed = await api.embeddings.create({ model: 'embed', input: [img, 'a cat'], encoding_format: 'float' });
    expect(mixed.data).toHaveLength(2);
    // Oracle: the model called directly on the same decoded pixels.
    const [directImg] = await embed.embedImages([await decodeImage(readFileSync(pngFile), { maxPixels: 1e8 })]);
    expect(mixed.data[0]!.embedding).toEqual(Array.from(directImg!));
    expect(mixed.data[1]!.embedding).toEqual(Array.from((await embed.embedTexts(['a cat']))[0]!));
    if (embed instanceof FakeEmbeddingModel) {
      const seen = await inspectImage(readFileSync(pngFile));
      expect(mixed.data[0]!.embedding).toEqual(Array.from(seededUnitVector(imageKey(seen), embed.dimensions)));
    }
  });

  it('classifies an image against labels (sigmoid scores, highest first)', async () => {
    const labels = ['cat', 'dog', 'coffee cup', 'rocket'];
    const r = await post(url, '/v1/classify', { model: 'embed', image: fileDataUrl(pngFile), labels });
    expect(r.status).toBe(200);
    expect(r.json.object).toBe('classification');
    const data = r.json.data as Array<{ label: string; score: number; logit: number }>;
    expect(data.map((d) => d.label).sort()).toEqual([...labels].sort());
    for (let i = 0; i < data.length; i++) {
      expect(data[i]!.score).toBeGreaterThan(0);
      expect(data[i]!.score).toBeLessThan(1);
      expect(data[i]!.score).toBeCloseTo(1 / (1 + Math.exp(-data[i]!.logit)), 6);
      if (i > 0) expect(data[i]!.score).toBeLessThanOrEqual(data[i - 1]!.score);
    }
    const direct = await embed.classify(await decodeImage(readFileSync(pngFile), { maxPixels: 1e8 }), labels);
    expect(data).toEqual(direct.map((d) => ({ label: d.label, score: d.score, logit: d.logit })));
  });

  describe('errors', () => {
    const chatWith = (content: unknown, extra: object = {}) => ({ model: 'chat', messages: [{ role: 'user', content }], ...extra });
    const imagePart = (u: string) => ({ type: 'image_url', image_url: { url: u } });

    it('malformed JSON → 400', async () => {
      for (const body of ['{"model": "chat", "messages": [', 'not json', '']) {
        const r = await post(url, '/v1/chat/completions', body);
        expect(r.status).toBe(400);
        expectErrorShape(r.json, 'invalid_json');
        expect(r.json.error.type).toBe('invalid_request_error');
      }
    });

    it('unknown model → 404 (openai.NotFoundError)', async () => {
      const err = await api.chat.completions.create({ model: 'nope', messages: [{ role: 'user', content: 'hi' }] }).catch((e) => e);
      expect(err).toBeInstanceOf(OpenAI.NotFoundError);
      expect(err.status).toBe(404);
      expect(err.code).toBe('model_not_found');
      const e2 = await api.embeddings.create({ model: 'nope', input: 'x' }).catch((e) => e);
      expect(e2.status).toBe(404);
    });

    it('bad base64 → 400', async () => {
      const r = await post(url, '/v1/chat/completions', chatWith([imagePart('data:image/png;base64,@@not*base64!!')]));
      expect(r.status).toBe(400);
      expectErrorShape(r.json, 'invalid_base64');
      expect(r.json.error.param).toBe('messages[0].content[0].image_url');
    });

    it('non-image bytes → 400', async () => {
      const r = await post(url, '/v1/chat/completions', chatWith([imagePart(dataUrl(Buffer.from('hello, I am plain text, not a PNG')))]));
      expect(r.status).toBe(400);
      expectErrorShape(r.json, 'invalid_image');
      expect(r.json.error.message).toMatch(/not an image/);
      const svg = dataUrl(Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>'), 'image/svg+xml');
      expect((await post(url, '/v1/chat/completions', chatWith([imagePart(svg)]))).status).toBe(400);
      // A truncated PNG passes the header check and fails decoding: still the client's fault.
      const truncated = readFileSync(pngFile).subarray(0, 300);
      const t = await post(url, '/v1/chat/completions', chatWith([imagePart(dataUrl(truncated))]));
      expect(t.status).toBe(400);
      expectErrorShape(t.json, 'invalid_image');
    });

    it('oversized image and decompression bomb → 413 from the header', async () => {
      const big = await sharp({ create: { width: 1200, height: 1000, channels: 3, background: '#336699' } }).png().toBuffer();
      const r = await post(url, '/v1/chat/completions', chatWith([imagePart(dataUrl(big))]));
      expect(r.status).toBe(413);
      expectErrorShape(r.json, 'image_too_large');
      const t0 = performance.now();
      const b = await post(url, '/v1/chat/completions', chatWith([imagePart(dataUrl(bombPng()))]));
      expect(b.status).toBe(413);
      expect(b.json.error.message).toMatch(/100000x100000/);
      expect(performance.now() - t0).toBeLessThan(2000); // refused before decoding 30 GB of pixels
      const e = await post(url, '/v1/embeddings', { model: 'embed', input: [dataUrl(bombPng())] });
      expect(e.status).toBe(413);
    });

    it('body over the limit → 413', async () => {
      const r = await post(url, '/v1/chat/completions', chatWith('x'.repeat(LIMITS.maxBodyBytes + 10)));
      expect(r.status).toBe(413);
      expectErrorShape(r.json);
    });

    it('too many images → 400', async () => {
      const img = fileDataUrl(pngFile);
      const r = await post(url, '/v1/chat/completions', chatWith([imagePart(img), imagePart(img), imagePart(img)]));
      expect(r.status).toBe(400);
      expectErrorShape(r.json, 'too_many_images');
    });

    it('max_tokens over the cap → 400', async () => {
      const err = await api.chat.completions
        .create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }], max_tokens: 65 })
        .catch((e) => e);
      expect(err).toBeInstanceOf(OpenAI.BadRequestError);
      expect(err.code).toBe('max_tokens_exceeded');
      const r = await post(url, '/v1/chat/completions', chatWith('hi', { max_completion_tokens: 1000 }));
      expect(r.status).toBe(400);
      expect(r.json.error.param).toBe('max_completion_tokens');
    });

    it('wrong kind of model → 400', async () => {
      const r = await post(url, '/v1/chat/completions', { model: 'embed', messages: [{ role: 'user', content: 'hi' }] });
      expect(r.status).toBe(400);
      expectErrorShape(r.json, 'wrong_model_kind');
      const e = await post(url, '/v1/embeddings', { model: 'chat', input: 'hi' });
      expect(e.status).toBe(400);
    });

    it('garbage never crashes the server: every bad body is a 4xx with the error shape', async () => {
      const bad: Array<[string, unknown]> = [
        ['/v1/chat/completions', '['.repeat(500_000) + ']'.repeat(500_000)], // deep nesting (sent raw)
        ['/v1/chat/completions', '{"model":"chat","messages":[{"role":"user","content":"\\ud800"}],"max_tokens":1e309}'],
        ['/v1/chat/completions', []],
        ['/v1/chat/completions', null],
        ['/v1/chat/completions', 42],
        ['/v1/chat/completions', { model: 'chat' }],
        ['/v1/chat/completions', { model: 'chat', messages: 'hi' }],
        ['/v1/chat/completions', { model: 'chat', messages: [] }],
        ['/v1/chat/completions', { model: 'chat', messages: [null] }],
        ['/v1/chat/completions', { model: 'chat', messages: [{ role: 'wizard', content: 'x' }] }],
        ['/v1/chat/completions', { model: 'chat', messages: [{ role: 'user', content: 5 }] }],
        ['/v1/chat/completions', { model: 'chat', messages: [{ role: 'user', content: [{ type: 'audio' }] }] }],
        ['/v1/chat/completions', { model: 'chat', messages: [{ role: 'user', content: [{ type: 'image_url' }] }] }],
        ['/v1/chat/completions', { model: 'chat', messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 7 } }] }] }],
        ['/v1/chat/completions', { model: 'chat', messages: [{ role: 'assistant', content: [{ type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } }] }] }],
        ['/v1/chat/completions', { model: 'chat', messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:text/plain;base64,AAAA' } }] }] }],
        ['/v1/chat/completions', { model: 'chat', messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'ftp://x/y.png' } }] }] }],
        ['/v1/chat/completions', chatWith('hi', { temperature: 'hot' })],
        ['/v1/chat/completions', chatWith('hi', { temperature: 3 })],
        ['/v1/chat/completions', chatWith('hi', { top_p: 0 })],
        ['/v1/chat/completions', chatWith('hi', { max_tokens: 0 })],
        ['/v1/chat/completions', chatWith('hi', { max_tokens: 1.5 })],
        ['/v1/chat/completions', chatWith('hi', { stop: [1, 2] })],
        ['/v1/chat/completions', chatWith('hi', { stop: Array(100).fill('x') })],
        ['/v1/chat/completions', chatWith('hi', { n: 3 })],
        ['/v1/chat/completions', chatWith('hi', { seed: 'abc' })],
        ['/v1/chat/completions', chatWith('hi', { stream: 'yes' })],
        ['/v1/chat/completions', chatWith('hi', { stream_options: { include_usage: true } })],
        ['/v1/chat/completions', chatWith('hi', { tools: [{ type: 'function', function: { name: 'f' } }] })],
        ['/v1/chat/completions', chatWith('hi', { logprobs: true })],
        ['/v1/chat/completions', { model: 123, messages: [{ role: 'user', content: 'x' }] }],
        ['/v1/embeddings', { model: 'embed' }],
        ['/v1/embeddings', { model: 'embed', input: [] }],
        ['/v1/embeddings', { model: 'embed', input: [[1, 2, 3]] }],
        ['/v1/embeddings', { model: 'embed', input: [''] }],
        ['/v1/embeddings', { model: 'embed', input: 'x', encoding_format: 'int8' }],
        ['/v1/embeddings', { model: 'embed', input: 'x', dimensions: 3 }],
        ['/v1/embeddings', { model: 'embed', input: ['data:image/png;base64,%%%'] }],
        ['/v1/classify', { model: 'embed', labels: ['a'] }],
        ['/v1/classify', { model: 'embed', image: fileDataUrl(pngFile) }],
        ['/v1/classify', { model: 'embed', image: fileDataUrl(pngFile), labels: [] }],
        ['/v1/classify', { model: 'embed', image: fileDataUrl(pngFile), labels: ['  '] }],
        ['/v1/classify', { model: 'embed', image: fileDataUrl(pngFile), labels: [{}] }],
        ['/v1/classify', { model: 'embed', image: 'data:image/png;base64,QUJD', labels: ['a'] }],
      ];
      for (const [path, body] of bad) {
        const r = await post(url, path, body);
        if (r.status !== 400) throw new Error(`${path} ${JSON.stringify(body).slice(0, 120)} → ${r.status} ${r.text.slice(0, 200)}`);
        expectErrorShape(r.json);
      }
      const health = await fetch(`${url}/health`);
      expect(health.status).toBe(200);
      const r = await post(url, '/v1/nothing', {});
      expect(r.status).toBe(404);
      expectErrorShape(r.json);
    });
  });

  it('checks the API key (401) but leaves /health and the page open', async () => {
    const wrong = client(url, 'wrong-key');
    const err = await wrong.models.list().catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.AuthenticationError);
    expect(err.status).toBe(401);
    const missing = await fetch(`${url}/v1/models`);
    expect(missing.status).toBe(401);
    expectErrorShape(await missing.json(), 'invalid_api_key');
    const noKeyChat = await post(url, '/v1/chat/completions', { model: 'chat', messages: [] }, { Authorization: '' });
    expect(noKeyChat.status).toBe(401);
    expect((await fetch(`${url}/health`)).status).toBe(200);
    const page = await fetch(`${url}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    expect(page.headers.get('content-security-policy')).toMatch(/default-src 'none'/);
    // CORS is off unless asked for.
    const pre = await fetch(`${url}/v1/models`, { method: 'OPTIONS', headers: { Origin: 'http://evil.example', 'Access-Control-Request-Method': 'GET' } });
    expect(pre.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('cancels the generation when a streaming client disconnects', async () => {
    const ac = new AbortController();
    const calls = chat instanceof FakeChatModel ? chat.calls.length : 0;
    const stream = await api.chat.completions.create(
      { model: 'chat', messages: [{ role: 'user', content: '/long go on forever' }], max_tokens: 64, stream: true },
      { signal: ac.signal },
    );
    let n = 0;
    try {
      for await (const chunk of stream) {
        if (chunk.choices[0]?.delta.content && ++n === 3) ac.abort(); // the client hangs up mid-stream
      }
    } catch {
      // The openai client may end the loop quietly or throw an abort error: either is fine.
    }
    expect(n).toBe(3);
    if (chat instanceof FakeChatModel) {
      const call = chat.calls[calls]!;
      await waitFor(() => call.finishReason !== undefined, 'the generation to stop');
      expect(call.aborted).toBe(true);
      expect(call.finishReason).toBe('abort');
      expect(call.text!.split(' tok').length - 1).toBeLessThan(40); // stopped early, not at max_tokens
    }
    // The model is free again.
    const after = await api.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'still there?' }], max_tokens: 10 });
    expect(after.choices[0]!.message.content!.length).toBeGreaterThan(0);
  });

  it('cancels a non-streamed generation when its client disconnects', async () => {
    if (!(chat instanceof FakeChatModel)) return;
    const fake = chat;
    const calls = fake.calls.length;
    const ac = new AbortController();
    const pending = api.chat.completions
      .create({ model: 'chat', messages: [{ role: 'user', content: '/long and on' }], max_tokens: 64 }, { signal: ac.signal })
      .catch((e) => e);
    await waitFor(() => fake.calls.length > calls && fake.active > 0, 'the generation to start');
    ac.abort();
    expect(await pending).toBeInstanceOf(Error);
    const call = fake.calls[calls]!;
    await waitFor(() => call.finishReason !== undefined, 'the generation to stop');
    expect(call.aborted).toBe(true);
  });

  it('never ran two generations of one model at once', () => {
    if (chat instanceof FakeChatModel) expect(chat.maxActive).toBe(1);
    if (embed instanceof FakeEmbeddingModel) expect(embed.maxActive).toBe(1);
  });
});

describe('tsvlm serve: queue bound and shutdown', () => {
  it('answers 429 with Retry-After when the queue is full, and frees waiters that disconnect', async () => {
    const chat = new FakeChatModel({ tokenDelayMs: 20 });
    const server = createServer({ models: [{ name: 'slow', model: chat }], queueSize: 1, maxTokensCap: 200 });
    const url = await startServer(server);
    const api = client(url);
    const health = async () => ((await (await fetch(`${url}/health`)).json()) as any).models[0];
    try {
      const acA = new AbortController();
      const acB = new AbortController();
      const body = { model: 'slow', messages: [{ role: 'user' as const, content: '/long' }], max_tokens: 200, stream: true as const };
      const a = await api.chat.completions.create(body, { signal: acA.signal });
      const itA = a[Symbol.asyncIterator]();
      await itA.next(); // role chunk
      await itA.next(); // first content: A is running
      const b = await api.chat.completions.create(body, { signal: acB.signal });
      await waitFor(async () => (await health()).waiting === 1, 'B to be queued');

      const r = await post(url, '/v1/chat/completions', { model: 'slow', messages: [{ role: 'user', content: 'hi' }] });
      expect(r.status).toBe(429);
      expectErrorShape(r.json, 'queue_full');
      expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      const viaClient = await api.chat.completions.create({ model: 'slow', messages: [{ role: 'user', content: 'hi' }] }).catch((e) => e);
      expect(viaClient).toBeInstanceOf(OpenAI.RateLimitError);

      // B gives up while waiting: it leaves the queue without ever reaching the model.
      acB.abort();
      await waitFor(async () => (await health()).waiting === 0, 'B to leave the queue');
      expect(chat.calls).toHaveLength(1);
      acA.abort();
      await waitFor(async () => !(await health()).busy, 'the model to be idle');
      expect(chat.calls[0]!.aborted).toBe(true);
      void b;
      const ok = await api.chat.completions.create({ model: 'slow', messages: [{ role: 'user', content: 'hi' }], max_tokens: 5 });
      expect(ok.choices[0]!.finish_reason).toBeDefined();
      expect(chat.maxActive).toBe(1);
    } finally {
      await server.close();
    }
  });

  it('close() stops in-flight generations, tells queued clients, and stops listening', async () => {
    const chat = new FakeChatModel({ tokenDelayMs: 20 });
    const server = createServer({ models: [{ name: 'slow', model: chat }], queueSize: 2, maxTokensCap: 500 });
    const url = await startServer(server);
    const api = client(url);
    const stream = await api.chat.completions.create({
      model: 'slow',
      messages: [{ role: 'user', content: '/long' }],
      max_tokens: 500,
      stream: true,
    });
    const it = stream[Symbol.asyncIterator]();
    await it.next();
    await it.next();
    const queued = post(url, '/v1/chat/completions', { model: 'slow', messages: [{ role: 'user', content: 'wait' }] });
    await waitFor(async () => ((await (await fetch(`${url}/health`)).json()) as any).models[0].waiting === 1, 'the queued request');
    const t0 = Date.now();
    const closing = server.close();
    const rest = (async () => {
      for (;;) if ((await it.next()).done) break;
    })();
    await expect(rest).rejects.toThrow(/shutting down/);
    expect((await queued).status).toBe(503);
    await closing;
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(chat.calls[0]!.aborted).toBe(true);
    await expect(fetch(`${url}/health`)).rejects.toThrow();
  });
});
