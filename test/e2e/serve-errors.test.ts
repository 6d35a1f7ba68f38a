// Errors a client can cause are 4xx, never 500, and never reveal paths: a chat template that
// refuses the role order (Llama-2/Mistral templates raise) → 400; file:// answers do not tell
// whether a path outside --image-dir exists; a file that vanishes mid-request → 400 without a path;
// a symlink swapped during requests never leaks a file from outside.
import { cpSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatModel } from '../../src/api.js';
import { loadModel } from '../../src/index.js';
import { createServer, type TsvlmServer } from '../../src/serve/server.js';
import { FakeChatModel } from '../helpers/fake-models.js';
import { FIXTURES_ROOT } from '../helpers/fixtures.js';
import { haveFixtures } from '../helpers/cli.js';
import { rawRequest } from '../helpers/http.js';

const root = resolve(__dirname, '../..');
const work = mkdtempSync(join(tmpdir(), 'tsvlm-serve-err-'));
const json = { 'Content-Type': 'application/json' };

async function post(url: string, path: string, body: unknown) {
  return rawRequest(url, { method: 'POST', path, headers: json, body: JSON.stringify(body) });
}

describe.skipIf(!haveFixtures('llama-tiny'))('serve: 4xx, not 500', () => {
  let server: TsvlmServer;
  let url: string;
  let llama: ChatModel;
  const images = join(work, 'images');
  const outside = join(work, 'outside');
  beforeAll(async () => {
    // llama-tiny with a template that raises on the role order, as Llama-2's and Mistral's do.
    const dir = join(work, 'llama');
    cpSync(join(root, 'test/data/e2e-tokenizers/llama-tiny'), dir, { recursive: true });
    for (const f of ['config.json', 'model.safetensors']) symlinkSync(join(FIXTURES_ROOT, 'llama-tiny', f), join(dir, f));
    const tc = JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8'));
    tc.chat_template =
      "{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{{ message['content'] }}{% endfor %}";
    writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify(tc));
    llama = (await loadModel(dir)) as ChatModel;
    mkdirSync(images);
    mkdirSync(outside);
    writeFileSync(join(images, 'in.png'), await sharp({ create: { width: 3, height: 3, channels: 3, background: '#ff0000' } }).png().toBuffer());
    writeFileSync(join(outside, 'secret.png'), await sharp({ create: { width: 7, height: 5, channels: 3, background: '#00ff00' } }).png().toBuffer());
    server = createServer({
      models: [
        { name: 'llama', model: llama },
        { name: 'fake', model: new FakeChatModel({ tokenDelayMs: 0 }) },
      ],
      localImageDir: images,
    });
    url = (await server.listen('127.0.0.1', 0)).url;
  });
  afterAll(async () => {
    await server?.close();
    await llama?.dispose();
    rmSync(work, { recursive: true, force: true });
  });

  const withImage = (href: string) => ({
    model: 'fake',
    max_tokens: 20,
    messages: [{ role: 'user', content: [{ type: 'text', text: 'look' }, { type: 'image_url', image_url: { url: href } }] }],
  });

  it('a chat template that refuses the role order → 400 invalid_messages', async () => {
    const r = await post(url, '/v1/chat/completions', {
      model: 'llama',
      messages: [
        { role: 'user', content: 'a' },
        { role: 'user', content: 'b' },
      ],
    });
    expect(r.status, r.text).toBe(400);
    expect(r.json.error.code).toBe('invalid_messages');
    expect(r.json.error.message).toMatch(/roles must alternate/);
    const ok = await post(url, '/v1/chat/completions', { model: 'llama', messages: [{ role: 'user', content: 'a' }], max_tokens: 2 });
    expect(ok.status, ok.text).toBe(200);
  });

  it('does not tell whether a path outside --image-dir exists', async () => {
    symlinkSync(join(outside, 'secret.png'), join(images, 'link-existing.png'));
    symlinkSync(join(outside, 'missing.png'), join(images, 'link-missing.png'));
    const answers = [];
    for (const p of [join(outside, 'secret.png'), join(outside, 'missing.png'), '/etc/passwd', '/etc/no-such-file-here']) {
      answers.push(await post(url, '/v1/chat/completions', withImage(pathToFileURL(p).href)));
    }
    const via = [];
    for (const p of ['link-existing.png', 'link-missing.png', 'no-such.png']) via.push(await post(url, '/v1/chat/completions', withImage(pathToFileURL(join(images, p)).href)));
    for (const group of [answers, via]) {
      for (const r of group) {
        expect(r.status).toBe(400);
        expect(r.json.error.code).toBe('invalid_image_url');
        expect(r.json.error.message).toBe(group[0]!.json.error.message);
        expect(r.text).not.toContain(work);
      }
    }
  });

  it('a file that vanishes or is swapped mid-request → 400 without a path, never a 500 or a file from outside', async () => {
    const target = join(images, 'flicker.png');
    const inside = readFileSync(join(images, 'in.png'));
    let stop = false;
    // Flip between: a real file, nothing, a symlink to the outside file, a file being replaced.
    const flicker = (async () => {
      for (let i = 0; !stop; i++) {
        try {
          rmSync(target, { force: true });
          if (i % 3 === 0) writeFileSync(target, inside);
          else if (i % 3 === 1) symlinkSync(join(outside, 'secret.png'), target);
          else {
            writeFileSync(`${target}.tmp`, inside);
            renameSync(`${target}.tmp`, target);
            unlinkSync(target);
          }
        } catch {
          // racing with ourselves is fine
        }
        await new Promise((r) => setImmediate(r));
      }
    })();
    const statuses = new Map<number, number>();
    for (let i = 0; i < 150; i++) {
      const r = await post(url, '/v1/chat/completions', withImage(pathToFileURL(target).href));
      statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
      expect([200, 400], r.text).toContain(r.status);
      expect(r.text).not.toContain(work);
      if (r.status === 200) expect(r.json.choices[0].message.content).toMatch(/I see a 3x3 image/);
    }
    stop = true;
    await flicker;
    console.log('flicker statuses', Object.fromEntries(statuses));
  });
});
