// The server's image-tokenizer extension endpoints (/v1/images/tokenize, /v1/images/detokenize)
// on the SEED v2 fixture checkpoint, through the HTTP app.
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, type ImageTokenizer } from '../../src/index.js';
import { createServer, type TsvlmServer } from '../../src/serve/server.js';
import { FakeEmbeddingModel } from '../helpers/fake-models.js';
import { FIXTURES_ROOT } from '../helpers/fixtures.js';

const SEED = join(FIXTURES_ROOT, 'seed-tokenizer-tiny');
const files = ['chelsea.png', 'coffee.png'].map((f) => join(FIXTURES_ROOT, 'images', f));
const dataUrl = (f: string) => `data:image/png;base64,${readFileSync(f).toString('base64')}`;

describe.skipIf(!existsSync(join(SEED, 'model.safetensors')))('serve: image tokenizer endpoints', () => {
  let seed: ImageTokenizer;
  let server: TsvlmServer;
  const post = (path: string, body: unknown) =>
    server.app.request(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

  beforeAll(async () => {
    seed = (await loadModel(SEED)) as ImageTokenizer;
    server = createServer({ models: [{ name: 'seed', model: seed }, { name: 'embed', model: new FakeEmbeddingModel() }], maxImagesPerRequest: 4 });
  });
  afterAll(async () => {
    await server.close();
    await seed.dispose();
  });

  it('tokenizes data-URL images to the codes the library gives, in order', async () => {
    const r = await post('/v1/images/tokenize', { model: 'seed', images: [dataUrl(files[0]!), { url: dataUrl(files[1]!) }] });
    expect(r.status).toBe(200);
    const j = await r.json();
    expect(j.codes_per_image).toBe(32);
    expect(j.data.map((d: { index: number }) => d.index)).toEqual([0, 1]);
    expect(j.data.map((d: { codes: number[] }) => d.codes)).toEqual(await seed.encode(files));
  });

  it('detokenizes codes to generation embeddings of the model shape', async () => {
    const codes = await seed.encode(files);
    const r = await post('/v1/images/detokenize', { model: 'seed', codes });
    expect(r.status).toBe(200);
    const j = await r.json();
    expect(j.shape).toEqual([...seed.embeddingShape]);
    const want = await seed.decode(codes);
    j.data.forEach((d: { embedding: number[] }, i: number) => expect(Float32Array.from(d.embedding)).toEqual(want[i]));
  });

  it('lists the tokenizer facts on /v1/models', async () => {
    const j = await (await server.app.request('/v1/models/seed')).json();
    expect(j).toMatchObject({ kind: 'image-tokenizer', model_type: 'seed_qformer_quantizer', codes_per_image: 32, codebook_size: 64 });
  });

  it('answers bad requests with 400s that name the problem', async () => {
    const cases: [string, unknown, RegExp, string?][] = [
      ['/v1/images/tokenize', { model: 'embed', images: [dataUrl(files[0]!)] }, /not an image tokenizer/, 'wrong_model_kind'],
      ['/v1/images/tokenize', { model: 'seed', images: [] }, /non-empty array/],
      ['/v1/images/tokenize', { model: 'seed', images: [42] }, /images\[0\]/],
      ['/v1/images/tokenize', { model: 'seed', images: ['https://example.com/cat.png'] }, /not fetched/],
      ['/v1/images/tokenize', { model: 'seed', images: ['data:image/png;base64,AAAA'] }, /images\[0\]/],
      ['/v1/images/tokenize', { model: 'seed', images: Array(5).fill(dataUrl(files[0]!)) }, /at most 4/, 'too_many_images'],
      ['/v1/images/detokenize', { model: 'seed', codes: [[1, 2, 3]] }, /exactly 32/, 'invalid_input'],
      ['/v1/images/detokenize', { model: 'seed', codes: [Array(32).fill(64)] }, /not a code in \[0, 64\)/, 'invalid_input'],
      ['/v1/images/detokenize', { model: 'seed', codes: 'x' }, /codes must be/],
    ];
    for (const [path, body, msg, code] of cases) {
      const r = await post(path, body);
      expect(r.status, JSON.stringify(body).slice(0, 80)).toBe(400);
      const e = (await r.json()).error;
      expect(e.message).toMatch(msg);
      if (code) expect(e.code).toBe(code);
    }
    const unknown = await post('/v1/images/tokenize', { model: 'nope', images: [dataUrl(files[0]!)] });
    expect(unknown.status).toBe(404);
  });
});
