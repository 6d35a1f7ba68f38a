// SEED-LLaMA end to end on the tiny fixtures chained together: the scripted LLaMA
// (test/data/seed-llama-scripted) draws a 32-code image → seed-tokenizer-tiny decodes the codes to
// the unCLIP embedding → unclip-tiny (with clip-text-sd2-tiny's text encoder for the empty prompt)
// draws it → PNG. The same seeded request through the library, the CLI and the server gives the
// same PNG bytes. Needs `npm run build` (the CLI runs dist/).
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel, type ChatModel } from '../../src/index.js';
import { SeedImageRenderer } from '../../src/models/diffusion/image-renderer.js';
import { encodePng } from '../../src/processors/image-encode.js';
import { createServer, type TsvlmServer } from '../../src/serve/server.js';
import { FIXTURES_ROOT } from '../helpers/fixtures.js';
import { BIN, BUILT, ROOT } from '../helpers/cli.js';

const LLAMA = join(ROOT, 'test/data/seed-llama-scripted');
const SEED = join(FIXTURES_ROOT, 'seed-tokenizer-tiny');
const SEED_VALUE = 7;

/** unclip-tiny + a text encoder and tokenizer (clip-text-sd2-tiny: same 32-wide embedding). */
function diffusionFolder(work: string): string {
  const dir = join(work, 'unclip');
  mkdirSync(dir);
  const src = join(FIXTURES_ROOT, 'unclip-tiny');
  for (const f of readdirSync(src)) if (f !== 'model_index.json') symlinkSync(join(src, f), join(dir, f));
  for (const c of ['text_encoder', 'tokenizer']) cpSync(join(FIXTURES_ROOT, 'clip-text-sd2-tiny', c), join(dir, c), { recursive: true });
  const index = JSON.parse(readFileSync(join(src, 'model_index.json'), 'utf8'));
  index.text_encoder = ['transformers', 'CLIPTextModel'];
  index.tokenizer = ['transformers', 'CLIPTokenizer'];
  writeFileSync(join(dir, 'model_index.json'), JSON.stringify(index));
  return dir;
}

function cli(args: string[], cwd: string): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [BIN, ...args], { cwd });
    let out = '', err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.on('exit', (code) => resolve({ code, out, err }));
  });
}

describe.skipIf(!BUILT || !['seed-tokenizer-tiny/config.json', 'unclip-tiny/model_index.json', 'clip-text-sd2-tiny/text_encoder'].every((f) => existsSync(join(FIXTURES_ROOT, f))))('SEED-LLaMA → SEED tokenizer → unCLIP', () => {
  let work: string;
  let diffusion: string;
  let model: ChatModel;
  let renderer: SeedImageRenderer;
  let libraryPng: Buffer;
  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'tsvlm-seed-chain-'));
    diffusion = diffusionFolder(work);
    renderer = await SeedImageRenderer.load(diffusion);
    model = (await loadModel(LLAMA, { imageTokenizer: SEED, imageRenderer: renderer })) as ChatModel;
  });
  afterAll(async () => {
    await model?.dispose();
    await renderer?.dispose?.();
    rmSync(work, { recursive: true, force: true });
  });

  it('library: a forced image span becomes a PNG', async () => {
    const r = await model.chat([{ role: 'user', content: 'a red bus on a bridge' }], { forceImage: true, seed: SEED_VALUE }).result;
    expect(r.images).toHaveLength(1);
    const g = r.images![0]!;
    expect(g.error).toBeUndefined();
    expect(g.codes).toEqual(Array.from({ length: 32 }, (_, i) => i));
    expect(g.image!.width).toBeGreaterThan(0);
    libraryPng = await encodePng(g.image!);
  });

  it('CLI: tsvlm draw writes the same PNG', async () => {
    const out = join(work, 'cli');
    mkdirSync(out);
    const r = await cli(['draw', '--model', LLAMA, '--image-tokenizer', SEED, '--diffusion', diffusion, '--seed', String(SEED_VALUE), '--out-dir', out, '-q', 'a red bus on a bridge'], work);
    expect(r.code, r.err).toBe(0);
    const file = join(out, 'image-1.png');
    expect(r.out).toContain(`[image 1: ${file}]`);
    expect(Buffer.compare(readFileSync(file), libraryPng)).toBe(0);
  });

  it('server: /v1/images/generations and chat completions return the same PNG', async () => {
    const server: TsvlmServer = createServer({ models: [{ name: 'seed-llama', model }] });
    const { url } = await server.listen('127.0.0.1', 0);
    try {
      const res = await fetch(`${url}/v1/images/generations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'seed-llama', prompt: 'a red bus on a bridge', seed: SEED_VALUE }) });
      expect(res.status).toBe(200);
      const j = (await res.json()) as { data: Array<{ b64_json: string }> };
      expect(Buffer.compare(Buffer.from(j.data[0]!.b64_json, 'base64'), libraryPng)).toBe(0);
      const chat = await fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'seed-llama', seed: SEED_VALUE, messages: [{ role: 'user', content: 'a red bus on a bridge' }] }) });
      const c = (await chat.json()) as { choices: Array<{ message: { images: Array<{ image_url: { url: string } }> } }> };
      // Not forced here, but the scripted model starts every reply with the same image.
      const url0 = c.choices[0]!.message.images[0]!.image_url.url;
      expect(Buffer.compare(Buffer.from(url0.replace(/^data:image\/png;base64,/, ''), 'base64'), libraryPng)).toBe(0);
    } finally {
      await server.close();
    }
  });
});
