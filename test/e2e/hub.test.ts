// Hugging Face repo ids: downloaded (via @huggingface/hub's API, from a hub on loopback) into the
// standard cache layout, resumed after a dropped connection, with HF_TOKEN; then resolved from
// that cache offline by loadModel and the CLI; `tsvlm pull` and `tsvlm list`.
import { spawn } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatModel } from '../../src/api.js';
import { loadModel } from '../../src/index.js';
import { cachedSnapshot, listCachedModels } from '../../src/hub/cache.js';
import { pullModel } from '../../src/hub/download.js';
import { FIXTURES_ROOT, openFixture } from '../helpers/fixtures.js';
import { BIN, BUILT, ROOT, haveFixtures, workDir } from '../helpers/cli.js';
import { FakeHub } from '../helpers/fake-hub.js';

const COMMIT = 'a'.repeat(40);
const ID = 'test-org/llama-tiny';
const fx = join(FIXTURES_ROOT, 'llama-tiny');
const tok = join(ROOT, 'test/data/e2e-tokenizers/llama-tiny');

/** Runs the CLI without blocking this process (the fake hub answers from here). */
function run(args: string[], env: Record<string, string>): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env } });
    let out = '', err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.on('exit', (code) => resolve({ code, out, err }));
  });
}

describe.skipIf(!haveFixtures('llama-tiny'))('Hugging Face repo ids', () => {
  let hub: FakeHub;
  const work = workDir('tsvlm-hub-');
  beforeAll(async () => {
    hub = new FakeHub({
      [ID]: FakeHub.repoFrom(COMMIT, {
        'config.json': join(fx, 'config.json'),
        'model.safetensors': join(fx, 'model.safetensors'),
        'tokenizer.json': join(tok, 'tokenizer.json'),
        'tokenizer_config.json': join(tok, 'tokenizer_config.json'),
        'special_tokens_map.json': join(tok, 'special_tokens_map.json'),
      }),
    });
    hub.repos[ID]!.files['pytorch_model.bin'] = new Uint8Array(10); // not fetched: tsvlm reads safetensors
    await hub.start();
  });
  afterAll(() => hub.stop());

  it('pullModel writes the standard cache layout, resumes a dropped download, and sends HF_TOKEN', async () => {
    const cache = join(work, 'cache-lib');
    hub.token = 'hf_secret';
    await expect(pullModel(ID, { hubUrl: hub.url, cacheDir: cache, token: 'hf_wrong' })).rejects.toThrow(/401|Invalid credentials|HF_TOKEN/);
    const weights = hub.repos[ID]!.files['model.safetensors']!;
    hub.cutAfter = Math.floor(weights.length / 3);
    hub.requests.length = 0;
    await expect(pullModel(ID, { hubUrl: hub.url, cacheDir: cache, token: 'hf_secret' })).rejects.toThrow(/model.safetensors: the download stopped after \d+ of \d+ bytes .*run the same command again to resume/);
    const progress: number[] = [];
    const dir = await pullModel(ID, { hubUrl: hub.url, cacheDir: cache, token: 'hf_secret', onProgress: (p) => progress.push(p.done / p.total) });
    hub.token = undefined;
    const ranged = hub.requests.filter((r) => r.range);
    // The second pull resumed from what the first one wrote to disk (bytes still in flight when the
    // connection dropped may be lost, so anywhere in (0, cut]), not from 0.
    expect(ranged.length).toBe(1);
    const from = Number(/^bytes=(\d+)-$/.exec(ranged[0]!.range!)?.[1]);
    expect(from).toBeGreaterThan(0);
    expect(from).toBeLessThanOrEqual(Math.floor(weights.length / 3));
    expect(hub.requests.every((r) => r.auth === 'Bearer hf_secret')).toBe(true);
    expect(progress.at(-1)).toBe(1);
    // models--test-org--llama-tiny/{refs/main, snapshots/COMMIT/* → ../../blobs/*}
    const repo = join(cache, 'models--test-org--llama-tiny');
    expect(readFileSync(join(repo, 'refs/main'), 'utf8')).toBe(COMMIT);
    expect(dir).toBe(join(repo, 'snapshots', COMMIT));
    const link = join(dir, 'model.safetensors');
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readlinkSync(link)).toMatch(/^\.\.\/\.\.\/blobs\/[0-9a-f]{64}$/);
    expect(Buffer.compare(readFileSync(link), Buffer.from(weights))).toBe(0);
    expect(existsSync(join(dir, 'pytorch_model.bin'))).toBe(false);
    expect(cachedSnapshot(ID, 'main', cache)).toBe(dir);
    expect(listCachedModels(cache).map((m) => [m.id, m.refs.main, m.bytes > weights.length])).toEqual([[ID, COMMIT, true]]);
    // Pulling again fetches no file.
    hub.requests.length = 0;
    await pullModel(ID, { hubUrl: hub.url, cacheDir: cache });
    expect(hub.requests.filter((r) => r.url.includes('/resolve/'))).toEqual([]);
  });

  it('a cache written by other tools (plain files in the snapshot) resolves offline, by id, through loadModel', async () => {
    const cache = join(work, 'cache-hand');
    const snap = join(cache, 'models--test-org--llama-tiny', 'snapshots', COMMIT);
    mkdirSync(snap, { recursive: true });
    for (const [p, bytes] of Object.entries(hub.repos[ID]!.files)) writeFileSync(join(snap, p), bytes);
    mkdirSync(join(cache, 'models--test-org--llama-tiny', 'refs'));
    writeFileSync(join(cache, 'models--test-org--llama-tiny', 'refs', 'main'), COMMIT);
    const saved = { c: process.env.HF_HUB_CACHE, o: process.env.HF_HUB_OFFLINE };
    process.env.HF_HUB_CACHE = cache;
    process.env.HF_HUB_OFFLINE = '1';
    try {
      const m = (await loadModel(ID)) as ChatModel;
      expect(m.info.name).toBe(ID);
      expect(m.info.dir).toBe(snap);
      await m.dispose();
      await expect(loadModel('test-org/not-here')).rejects.toThrow(/not in the Hugging Face cache .*tsvlm pull test-org\/not-here/);
      await expect(loadModel(ID, { revision: 'v2' })).rejects.toThrow(/test-org\/llama-tiny@v2 is not in the Hugging Face cache/);
    } finally {
      for (const [k, v] of [['HF_HUB_CACHE', saved.c], ['HF_HUB_OFFLINE', saved.o]] as const) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });

  describe.skipIf(!BUILT)('CLI', () => {
    it('tsvlm pull downloads into $HF_HUB_CACHE; --model ID then runs offline; tsvlm list shows it', async () => {
      const cache = join(work, 'cache-cli');
      const env = { HF_HUB_CACHE: cache, HF_ENDPOINT: hub.url, HF_TOKEN: 'hf_tok123' };
      const pull = await run(['pull', ID], env);
      expect(pull.code, pull.err).toBe(0);
      expect(pull.out.trim()).toBe(join(cache, 'models--test-org--llama-tiny', 'snapshots', COMMIT));
      expect(pull.err).toMatch(/\[tsvlm\] download .*100%/);
      expect(hub.requests.some((r) => r.auth === 'Bearer hf_tok123')).toBe(true);
      const ref = openFixture(fx);
      const prompt = ref.ints('prompt.input_ids');
      const want = ref.ints('greedy.generated_ids');
      const gen = await run(['generate', '--model', ID, '--input-ids', prompt.join(','), '--max-new-tokens', String(want.length), '--json', '-q'],
        { HF_HUB_CACHE: cache, HF_HUB_OFFLINE: '1', HF_ENDPOINT: 'http://127.0.0.1:9' });
      expect(gen.code, gen.err).toBe(0);
      expect(JSON.parse(gen.out).token_ids).toEqual(want);
      const list = await run(['list', '--json'], { HF_HUB_CACHE: cache });
      const j = JSON.parse(list.out);
      expect(j.builtin.map((b: { name: string }) => b.name)).toEqual(['sail-scenes', 'siglip-scenes']);
      expect(j.cached.map((c: { id: string }) => c.id)).toEqual([ID]);
      const human = await run(['list'], { HF_HUB_CACHE: cache });
      expect(human.out).toMatch(/test-org\/llama-tiny\s+\d+(\.\d+)? (KiB|MiB)\s+main=aaaaaaa/);
      const bad = await run(['pull', 'not a repo'], env);
      expect(bad.code).toBe(2);
    });

    it('built-in names work wherever a folder does (--model, serve --model NAME=…)', async () => {
      const r = await run(['classify', '--model', 'siglip-scenes', '--image', join(ROOT, 'examples/scene.png'), '--label', 'a red circle', '--json', '-q'], {});
      expect(r.code, r.err).toBe(0);
      expect(JSON.parse(r.out).model).toBe('siglip-scenes');
      const { parseServeArgs } = await import('../../src/serve/cli.js');
      expect(parseServeArgs(['--model', 'sail-scenes', '--model', 'emb=siglip-scenes', '--model', 'test-org/llama-tiny'], {}).models).toEqual([
        { name: 'sail-scenes', dir: 'sail-scenes' },
        { name: 'emb', dir: 'siglip-scenes' },
        { name: 'llama-tiny', dir: 'test-org/llama-tiny' },
      ]);
    });
  });
});
