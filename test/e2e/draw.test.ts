// tsvlm draw end to end on a tiny SD 2.x-shaped folder assembled from the fixtures (see
// test/helpers/tiny-sd.ts). Needs `npm run build` (runs dist/).
import { describe, it, expect, beforeAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import sharp from 'sharp';
import { FIXTURES_ROOT } from '../helpers/fixtures.js';
import { assembleTinySd, assembleTinyUnclipWithText, haveTinySdSources } from '../helpers/tiny-sd.js';

const root = resolve(__dirname, '../..');
const bin = join(root, 'bin/tsvlm.js');
const out = mkdtempSync(join(tmpdir(), 'tsvlm-draw-'));

function tsvlm(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 120_000, env: { ...process.env, TSVLM_PROGRESS: '1', ...env } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe.skipIf(!haveTinySdSources || !existsSync(join(root, 'dist/cli/main.js')))('tsvlm draw', () => {
  let sd: string;
  beforeAll(() => {
    sd = assembleTinySd();
  });

  it('writes a seeded PNG of the requested size, with per-step progress; the same seed gives the same image', async () => {
    const a = join(out, 'a.png'), b = join(out, 'b.png');
    const r = tsvlm(['draw', '--model', sd, 'a lighthouse at dusk', '--steps', '3', '--seed', '7', '--size', '64x48', '--out', a, '--json']);
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ files: [a], seed: 7, width: 64, height: 48 });
    expect(r.err).toMatch(/denoise t=1 [\d.]+ s\/step 100% 4\/4/); // PNDM: 3 steps = 4 UNet calls
    const meta = await sharp(a).metadata();
    expect([meta.format, meta.width, meta.height, meta.channels]).toEqual(['png', 64, 48, 3]);
    expect(tsvlm(['draw', '--model', sd, 'a lighthouse at dusk', '--steps', '3', '--seed', '7', '--size', '64x48', '--out', b, '-q']).code).toBe(0);
    expect(readFileSync(a).equals(readFileSync(b))).toBe(true);
  });

  it('other schedulers and a batch', () => {
    for (const s of ['ddim', 'dpmpp2m', 'euler']) {
      const f = join(out, `${s}.png`);
      const r = tsvlm(['draw', '--model', sd, 'fire and ice', '--steps', '2', '--scheduler', s, '--seed', '1', '--size', '32', '--out', f, '-q', '--batch', '2']);
      expect(r.code, r.err).toBe(0);
      expect(existsSync(join(out, `${s}-1.png`)) && existsSync(join(out, `${s}-2.png`))).toBe(true);
    }
  });

  it('explains bad input', () => {
    let r = tsvlm(['draw', '--model', sd]);
    expect([r.code, r.err]).toEqual([2, expect.stringMatching(/needs a prompt/)]);
    r = tsvlm(['draw', '--model', sd, 'x', '--size', '30']);
    expect([r.code, r.err]).toEqual([1, expect.stringMatching(/multiples of 8/)]);
    r = tsvlm(['draw', '--model', sd, 'x', '--scheduler', 'lms']);
    expect([r.code, r.err]).toEqual([1, expect.stringMatching(/scheduler "lms" is not supported/)]);
    r = tsvlm(['draw', '--model', join(FIXTURES_ROOT, 'unclip-tiny'), 'x']);
    expect([r.code, r.err]).toEqual([2, expect.stringMatching(/StableUnCLIPImg2ImgPipeline folder: it draws variations of a picture \(--image FILE\)/)]);
    r = tsvlm(['draw', '--model', join(FIXTURES_ROOT, 'sd-v1-tiny'), 'x']);
    expect([r.code, r.err]).toEqual([1, expect.stringMatching(/has no text_encoder\/ and tokenizer\/: pass promptEmbeds/)]);
  });

  it('SEED-LLaMA: --diffusion renders drawn images through unCLIP (codes → SEED embedding → pixels)', async () => {
    const seedTok = join(FIXTURES_ROOT, 'seed-tokenizer-tiny');
    if (!existsSync(join(seedTok, 'config.json'))) return;
    const dir = mkdtempSync(join(tmpdir(), 'tsvlm-draw-seed-'));
    const r = tsvlm(['draw', '--model', join(root, 'test/data/seed-llama-scripted'), '--image-tokenizer', seedTok,
      '--diffusion', assembleTinyUnclipWithText(), '--out-dir', dir, '--seed', '3', '-q', 'a red bus']);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain('[image 1: ');
    const meta = await sharp(join(dir, 'image-1.png')).metadata();
    expect([meta.width, meta.height]).toEqual([128, 128]);
  });

  it('a Hugging Face repo id in the local cache works like its folder', () => {
    const cache = mkdtempSync(join(tmpdir(), 'tsvlm-hub-'));
    const commit = 'a'.repeat(40);
    const repo = join(cache, 'models--tiny--sd');
    mkdirSync(join(repo, 'refs'), { recursive: true });
    writeFileSync(join(repo, 'refs', 'main'), commit);
    mkdirSync(join(repo, 'snapshots'));
    symlinkSync(sd, join(repo, 'snapshots', commit));
    const f = join(out, 'hub.png');
    const r = tsvlm(['draw', '--model', 'tiny/sd', 'x', '--steps', '1', '--size', '32', '--seed', '1', '--out', f, '-q'], { HF_HUB_CACHE: cache, HF_HUB_OFFLINE: '1' });
    expect(r.code, r.err).toBe(0);
    expect(existsSync(f)).toBe(true);
  });

  it('unCLIP image variations: --image through image_encoder/, with and without a prompt', async () => {
    const dir = assembleTinyUnclipWithText();
    for (const [i, extra] of [[1, []], [2, ['a cat in the snow', '--noise-level', '100']]] as const) {
      const f = join(out, `variation-${i}.png`);
      const r = tsvlm(['draw', '--model', dir, '--image', join(FIXTURES_ROOT, 'images', 'chelsea.png'), '--steps', '2', '--seed', '5', '--out', f, '-q', ...extra]);
      expect(r.code, r.err).toBe(0);
      const meta = await sharp(f).metadata();
      expect([meta.width, meta.height]).toEqual([128, 128]);
    }
    expect(readFileSync(join(out, 'variation-1.png')).equals(readFileSync(join(out, 'variation-2.png')))).toBe(false);
  });
});

