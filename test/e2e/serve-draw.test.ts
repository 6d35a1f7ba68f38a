// Drawing through the server with the official `openai` client: chat completions return drawn
// images (message.images, streamed as deltas), /v1/images/generations, SEED's demo /generate, and
// the errors. The model is test/data/seed-llama-scripted (a real decoder graph whose greedy reply
// is one 32-code image then "."); its image tokenizer and renderer are small stand-ins whose
// pixels encode the codes, so the test proves the codes reached the picture.
import OpenAI from 'openai';
import sharp from 'sharp';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, type ChatModel, type DecodedImage, type ImageRenderer } from '../../src/index.js';
import { createServer, type TsvlmServer } from '../../src/serve/server.js';
import { standInImageTokenizer } from '../helpers/fake-models.js';

const root = resolve(__dirname, '../..');
const MODEL = join(root, 'test/data/seed-llama-scripted');
const CODES = Array.from({ length: 32 }, (_, i) => i);

const imageTokenizer = standInImageTokenizer(MODEL, CODES.map((c) => 63 - c));
/** 4×8 gray image: pixel k = 8 × code k (the codes made visible). */
const renderer: ImageRenderer = {
  async render(embs, o) {
    o?.onProgress?.({ stage: 'diffusion', done: 1, total: 1 });
    return embs.map((e): DecodedImage => ({ width: 8, height: 4, channels: 3, data: Uint8Array.from([...e].flatMap((c) => [c * 8, c * 8, c * 8])) }));
  },
};

async function pixelsOf(b64: string): Promise<number[]> {
  const { data } = await sharp(Buffer.from(b64, 'base64')).raw().toBuffer({ resolveWithObject: true });
  return [...data].filter((_, i) => i % 3 === 0);
}

describe('serve: models that draw', () => {
  let model: ChatModel;
  let server: TsvlmServer;
  let api: OpenAI;
  let url: string;
  beforeAll(async () => {
    model = (await loadModel(MODEL, { imageTokenizer, imageRenderer: renderer })) as ChatModel;
    server = createServer({ models: [{ name: 'seed', model }], limits: { maxDrawnImages: 2 } });
    url = (await server.listen('127.0.0.1', 0)).url;
    api = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'none' });
  });
  afterAll(async () => {
    await server?.close();
    await model?.dispose();
  });

  it('/v1/models says the model draws and renders', async () => {
    const card = (await (await fetch(`${url}/v1/models/seed`)).json()) as Record<string, unknown>;
    expect(card.draws_images).toBe(true);
    expect(card.renders_images).toBe(true);
  });

  it('chat completions return the drawn image in message.images as a PNG data URL with its codes', async () => {
    const r = await api.chat.completions.create({ model: 'seed', messages: [{ role: 'user', content: 'draw a cat' }], modalities: ['text', 'image'] } as never);
    const msg = r.choices[0]!.message as unknown as { content: string; images: Array<{ type: string; image_url: { url: string }; codes: number[] }> };
    expect(msg.content).toBe('.');
    expect(msg.images).toHaveLength(1);
    expect(msg.images[0]!.type).toBe('image_url');
    expect(msg.images[0]!.codes).toEqual(CODES);
    const b64 = msg.images[0]!.image_url.url.replace(/^data:image\/png;base64,/, '');
    expect(await pixelsOf(b64)).toEqual(CODES.map((c) => c * 8));
  });

  it('streams the image as a delta between the text deltas, with diffusion progress comments', async () => {
    const res = await fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'seed', stream: true, messages: [{ role: 'user', content: 'draw' }] }) });
    const text = await res.text();
    expect(text).toMatch(/: progress \{"stage":"diffusion","done":1,"total":1/);
    const chunks = text.split('\n\n').filter((l) => l.startsWith('data: {')).map((l) => JSON.parse(l.slice(6)));
    const kinds = chunks.map((c) => (c.choices[0]?.delta.images ? 'image' : c.choices[0]?.delta.content ? 'text' : 'other'));
    expect(kinds.filter((k) => k !== 'other')).toEqual(['image', 'text']);
    expect(chunks.find((c) => c.choices[0]?.delta.images).choices[0].delta.images[0].codes).toEqual(CODES);
  });

  it('a drawn image sent back in the history is read as its codes (no URL needed)', async () => {
    const r = await api.chat.completions.create({
      model: 'seed',
      messages: [
        { role: 'user', content: 'draw a cat' },
        { role: 'assistant', content: '.', images: [{ type: 'image_url', image_url: { url: '' }, codes: CODES }] },
        { role: 'user', content: 'now make it blue' },
      ],
    } as never);
    expect(r.usage!.prompt_tokens).toBeGreaterThan(34);
    const bad = await fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'seed', messages: [{ role: 'assistant', content: '', images: [{ codes: [1, 2] }] }, { role: 'user', content: 'x' }] }) });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { message: string } }).error.message).toMatch(/expected 32 codes, got 2/);
  });

  it('/v1/images/generations returns n images as b64_json, seeded', async () => {
    const r = await api.images.generate({ model: 'seed', prompt: 'a red bus on a bridge', n: 2, response_format: 'b64_json' } as never);
    expect(r.data).toHaveLength(2);
    for (const d of r.data!) expect(await pixelsOf(d.b64_json!)).toEqual(CODES.map((c) => c * 8));
    await expect(api.images.generate({ model: 'seed', prompt: 'x', n: 3 } as never)).rejects.toThrow(/n must be >= 1 and <= 2 \(got 3\)/);
    await expect(api.images.generate({ model: 'seed', prompt: 'x', size: '1024x1024' } as never)).rejects.toThrow(/draws at its own size/);
    await expect(api.images.generate({ model: 'seed', prompt: 'x', response_format: 'url' } as never)).rejects.toThrow(/b64_json/);
  });

  it("SEED's demo /generate: <image> placeholders, base64 or code images, force_boi", async () => {
    const png = await sharp({ create: { width: 16, height: 16, channels: 3, background: '#f00' } }).png().toBuffer();
    const res = await fetch(`${url}/generate`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ text: 'USER: <image>make it snowy\nASSISTANT:', images: [png.toString('base64')], temperature: 0, force_boi: true }),
    });
    expect(res.status).toBe(200);
    const j = (await res.json()) as { text: string; images: string[]; images_ids: number[][]; error_msg: string[] };
    expect(j.text).toBe('<image>.');
    expect(j.images).toHaveLength(1);
    expect(await pixelsOf(j.images[0]!)).toEqual(CODES.map((c) => c * 8));
    expect(j.images_ids).toEqual([CODES.map((c) => 63 - c), CODES]);
    expect(j.error_msg).toEqual([]);
    const mismatch = await fetch(`${url}/generate`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: 'USER: <image><image>', images: [CODES] }) });
    expect(mismatch.status).toBe(400);
    expect(((await mismatch.json()) as { error: { message: string } }).error.message).toMatch(/2 <image> placeholders but 1 images/);
  });
});
