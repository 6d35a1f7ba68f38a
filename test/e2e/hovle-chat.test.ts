// HoVLE chat end to end on the hovle-tiny / hovle-hd-tiny checkpoints with an InternLM2-style
// SentencePiece tokenizer (test/data/e2e-tokenizers/hovle-tiny) and real image files: prompt
// layout, tiling limits, multi-turn, text-only (also for HoVLE-HD), prefix reuse, and the CLI.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { FIXTURES_ROOT } from '../helpers/fixtures.js';
import { loadModel } from '../../src/index.js';
import { HovleChatModel, HovleEngine, parseHovleConfig } from '../../src/models/hovle/index.js';
import { INTERNVL_SYSTEM_MESSAGE } from '../../src/models/hovle/prompt.js';
import { WeightStore } from '../../src/io/checkpoint.js';
import type { ChatMessage } from '../../src/api.js';
import { createServer } from '../../src/serve/server.js';

const root = resolve(__dirname, '../..');
const images = join(FIXTURES_ROOT, 'images');
const work = mkdtempSync(join(tmpdir(), 'tsvlm-hovle-'));
const have = ['hovle-tiny', 'hovle-hd-tiny'].every((f) => existsSync(join(FIXTURES_ROOT, f, 'config.json')));

function assemble(fixture: string): string {
  const dir = join(work, fixture);
  cpSync(join(root, 'test/data/e2e-tokenizers/hovle-tiny'), dir, { recursive: true });
  for (const f of ['config.json', 'model.safetensors']) symlinkSync(join(FIXTURES_ROOT, fixture, f), join(dir, f));
  return dir;
}

const IDS = { bos: 1, imEnd: 289, imStart: 290, img: 291, imgEnd: 292, ctx: 293 };
const ask = (text: string, image = join(images, 'chelsea.png')): ChatMessage => ({ role: 'user', content: [{ type: 'image', image }, { type: 'text', text }] });

describe.skipIf(!have)('HoVLE chat', () => {
  let pre: HovleChatModel, hd: HovleChatModel;
  beforeAll(async () => {
    pre = (await loadModel(assemble('hovle-tiny'))) as HovleChatModel;
    hd = (await loadModel(assemble('hovle-hd-tiny'))) as HovleChatModel;
  });
  afterAll(async () => {
    await pre?.dispose();
    await hd?.dispose();
  });

  it('loads through the registry with the InternLM2 SentencePiece tokenizer', () => {
    expect(pre).toBeInstanceOf(HovleChatModel);
    expect(pre.info.modelType).toBe('internvl_chat');
    expect(pre.tokenizer.kind).toBe('sentencepiece');
    // Oracle: sentencepiece (Python) on the same tokenizer.model.
    expect(pre.tokenizer.encode('system\nWhat is in the image?', { addSpecialTokens: false })).toEqual([199, 3, 56, 13, 53, 8, 204, 258]);
    expect(pre.eos).toContain(IDS.imEnd);
  });

  it('builds the internlm2-chat prompt with image spans of rows per tile × tiles', () => {
    const ids = pre.promptIds([{ role: 'system', content: 'Be brief.' }, ask('What is in the image?')], [3]);
    const text = pre.tokenizer.decode(ids.filter((i) => i !== IDS.ctx));
    expect(text).toBe('<s><|im_start|>system\nBe brief.<|im_end|><|im_start|>user\n<img></img>\nWhat is in the image?<|im_end|><|im_start|>assistant\n');
    expect(ids.filter((i) => i === IDS.ctx)).toHaveLength(4 * 3);
    const first = ids.indexOf(IDS.ctx);
    expect(ids[first - 1]).toBe(IDS.img);
    expect(ids[first + 12]).toBe(IDS.imgEnd);
    // HoVLE-HD: the embedding sequence has grid² rows per tile.
    expect(hd.promptIds([ask('Hi')], [3]).filter((i) => i === IDS.ctx)).toHaveLength(16 * 3);
    // The checkpoint's (template's) system message when the conversation has none; <image> kept where placed.
    const placed = pre.tokenizer.decode(pre.promptIds([{ role: 'user', content: [{ type: 'text', text: 'Tell me <image> now' }, { type: 'image', image: join(images, 'gray.png') }] }], [1]).filter((i) => i !== IDS.ctx));
    expect(placed).toContain('<|im_start|>user\nTell me <img></img> now<|im_end|>');
    const sys = pre.tokenizer.encode(`<|im_start|>system\n${INTERNVL_SYSTEM_MESSAGE}<|im_end|>`, { addSpecialTokens: false });
    expect(pre.promptIds([{ role: 'user', content: 'Hello' }], []).slice(1, 1 + sys.length)).toEqual(sys);
    expect(pre.promptIds([{ role: 'user', content: 'Hello' }], [])).not.toContain(IDS.img);
  });

  it('counts LLM rows with per-request max tiles and rejects bad values', async () => {
    const msgs = [ask('What is in the image?')];
    const full = await pre.countPromptTokens(msgs);
    const one = await pre.countPromptTokens(msgs, { maxTiles: 1 });
    expect(full - one).toBe(4 * (7 - 1)); // chelsea.png 451×300 at max 6 → 3×2 grid + thumbnail
    expect(await hd.countPromptTokens(msgs)).toBe(full); // HD: LLM rows as HoVLE, embedding rows 4×
    await expect(pre.countPromptTokens(msgs, { maxTiles: 0 })).rejects.toThrow(/maxTiles must be an integer/);
  });

  it('answers, then reuses the image prefix for a second question with the same ids as without it', async () => {
    for (const m of [pre, hd]) {
      m.prefixCache.clear();
      const a = await m.chat([ask('What is in the image?')], { maxNewTokens: 6 }).result;
      expect(a.completionTokens).toBeGreaterThan(0);
      const before = m.prefixCache.hits;
      const b = await m.chat([ask('How many shapes are there?')], { maxNewTokens: 6 }).result;
      expect(m.prefixCache.hits).toBe(before + 1);
      m.prefixCache.clear();
      const c = await m.chat([ask('How many shapes are there?')], { maxNewTokens: 6 }).result;
      expect(c.tokenIds).toEqual(b.tokenIds);
      // A second turn keeps the image in turn 1: the same prefix again.
      const turn2 = await m.chat([ask('What is in the image?'), { role: 'assistant', content: a.text }, { role: 'user', content: 'And the colour?' }], { maxNewTokens: 4 }).result;
      expect(turn2.promptTokens).toBeGreaterThan(a.promptTokens);
      expect(m.prefixCache.hits).toBe(before + 2);
    }
  });

  it('chats text-only in both modes; HoVLE-HD text-only is the "pre" text path', async () => {
    for (const m of [pre, hd]) {
      const r = await m.chat([{ role: 'user', content: 'Tell me a story' }], { maxNewTokens: 5 }).result;
      expect(r.completionTokens).toBeGreaterThan(0);
    }
    const dir = join(FIXTURES_ROOT, 'hovle-hd-tiny');
    const store = WeightStore.open(dir);
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    const asPre = await HovleEngine.create(store, parseHovleConfig({ ...config, embedding_config: { ...config.embedding_config, pixel_shuffle_loc: 'pre' } }, store));
    const ids = hd.promptIds([{ role: 'user', content: 'Tell me a story' }], []);
    const want = asPre.lastLogits(await asPre.forward(asPre.newState(), ids)).slice();
    const got = hd.engine.lastLogits(await hd.engine.forward(hd.engine.newState(), ids));
    expect(Array.from(got)).toEqual(Array.from(want));
    await asPre.release();
  });

  it('rejects more image spans than images', async () => {
    await expect(pre.chat([ask('a </img> b')], { maxNewTokens: 2 }).result).rejects.toThrow(/image spans/);
  });
});

describe.skipIf(!have)('HoVLE behind the OpenAI-compatible server', () => {
  it('answers an image_url request; max_tiles reaches the model', async () => {
    const model = (await loadModel(existsSync(join(work, 'hovle-tiny')) ? join(work, 'hovle-tiny') : assemble('hovle-tiny'))) as HovleChatModel;
    const server = createServer({ models: [{ name: 'hovle', model }] });
    const { url } = await server.listen('127.0.0.1', 0);
    try {
      const image = `data:image/png;base64,${readFileSync(join(images, 'chelsea.png')).toString('base64')}`;
      const ask = (extra: Record<string, unknown>) => fetch(`${url}/v1/chat/completions`, {
        method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'hovle', max_tokens: 4, messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: image } }, { type: 'text', text: 'What is in the image?' }] }], ...extra }),
      }).then(async (r) => ({ status: r.status, body: await r.json() as any }));
      const one = await ask({ max_tiles: 1 });
      expect(one.status, JSON.stringify(one.body)).toBe(200);
      expect(one.body.usage.prompt_tokens).toBe(38);
      expect(one.body.choices[0].message.role).toBe('assistant');
      expect((await ask({})).body.usage.prompt_tokens).toBe(62);
      expect((await ask({ max_tiles: 0 })).status).toBe(400);
    } finally {
      await server.close();
      await model.dispose();
    }
  });
});

describe.skipIf(!have || !existsSync(join(root, 'dist/cli/main.js')))('tsvlm chat on HoVLE', () => {
  const bin = join(root, 'bin/tsvlm.js');
  const tsvlm = (args: string[], input?: string) => {
    const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', input, timeout: 120_000 });
    return { code: r.status, out: r.stdout, err: r.stderr };
  };

  it('answers about an image file, in the REPL too, with --max-tiles', () => {
    const dir = existsSync(join(work, 'hovle-tiny')) ? join(work, 'hovle-tiny') : assemble('hovle-tiny');
    const r = tsvlm(['chat', '--model', dir, '--image', join(images, 'chelsea_q90.jpg'), 'What is in the image?', '--max-new-tokens', '6', '--max-tiles', '2', '--json']);
    expect(r.code, r.err).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.token_ids.length).toBeGreaterThan(0);
    // 451×300 at --max-tiles 2: a 2×1 grid + thumbnail = 3 tiles (12 rows) instead of 7 (28 rows).
    expect(j.usage.prompt_tokens).toBe(62 - 28 + 12);
    const repl = tsvlm(['chat', '--model', dir, '--image', join(images, 'synthetic.png'), '--max-new-tokens', '4'], `What is this?\nAnd the colour?\n/quit\n`);
    expect(repl.code, repl.err).toBe(0);
    expect(tsvlm(['--help']).out).toMatch(/hovle\s+HoVLE/);
  });
});
