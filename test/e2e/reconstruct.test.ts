// tsvlm reconstruct end to end on the fixture checkpoints: seed-tokenizer-tiny's first picture →
// its recorded codes → unclip-tiny (the fixture's latents, empty-prompt embedding and generator
// seed) → a PNG equal to unclip-tiny's e.image_u8 within ±1. Needs `npm run build`.
import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import sharp from 'sharp';
import { FIXTURES_ROOT, openFixture, compare, report } from '../helpers/fixtures.js';

const root = resolve(__dirname, '../..');
const bin = join(root, 'bin/tsvlm.js');
const seedDir = join(FIXTURES_ROOT, 'seed-tokenizer-tiny');
const unclipDir = join(FIXTURES_ROOT, 'unclip-tiny');
const have = existsSync(join(seedDir, 'cases.json')) && existsSync(join(unclipDir, 'cases.json'));

function tsvlm(args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/**
 * The tokenizer fixture's first picture as a PNG → `tsvlm reconstruct` with the diffusion
 * fixture's latents, unconditional embedding and settings → codes and the written pixels.
 */
async function reconstruct(tokDir: string, sdDir: string, extra: string[]): Promise<{ codes: number[]; want: number[]; pixels: Uint8Array; width: number }> {
  const tok = openFixture(tokDir);
  const work = mkdtempSync(join(tmpdir(), 'tsvlm-recon-'));
  const [, h, w] = tok.shape('image_u8') as [number, number, number, number];
  const src = join(work, 'in.png');
  writeFileSync(src, await sharp(Buffer.from(tok.typed('image_u8').buffer as ArrayBuffer, 0, h * w * 3), { raw: { width: w, height: h, channels: 3 } }).png().toBuffer());
  const out = join(work, 'out.png');
  const r = tsvlm(['reconstruct', '--model', tokDir, '--diffusion', sdDir, '--image', src, '--out', out, '--json', ...extra]);
  expect(r.code, r.err).toBe(0);
  const { data, info } = await sharp(out).raw().toBuffer({ resolveWithObject: true });
  return { codes: JSON.parse(r.out).codes, want: tok.ints('codes').slice(0, 32), pixels: new Uint8Array(data), width: info.width };
}

const U8 = { abs: 1, rel: 0 };

describe.skipIf(!have || !existsSync(join(root, 'dist/cli/main.js')))('tsvlm reconstruct', () => {
  it('image → the fixture codes → unCLIP → the fixture image (±1)', async () => {
    const unclip = openFixture(unclipDir);
    const e = unclip.cases.find((c) => c.name === 'e_end_to_end_seed_call')!;
    const cases = join(unclipDir, 'cases.safetensors');
    const r = await reconstruct(seedDir, unclipDir, [
      '--seed', String(e.facts!.generator_seed), '--steps', String(e.facts!.num_inference_steps), '--guidance', String(e.facts!.guidance_scale),
      '--latents', `${cases}:e.latents`, '--prompt-embeds', `${cases}:e.empty_prompt_embeds`,
    ]);
    expect(r.codes).toEqual(r.want);
    expect(r.width).toBe(128);
    report('unclip-tiny', 'reconstruct', 'e.image_u8', compare(r.pixels, unclip.f32('e.image_u8'), U8), U8);
  });

  const v1Dir = join(FIXTURES_ROOT, 'seed-v1-tokenizer-tiny');
  const sdDir = join(FIXTURES_ROOT, 'sd-v1-tiny');
  it.runIf(existsSync(join(v1Dir, 'cases.json')) && existsSync(join(sdDir, 'cases.json')))('SEED v1: image → codes → [77, 768] → SD 1.x PLMS → the fixture image (truncated uint8, ±1)', async () => {
    const sd = openFixture(sdDir);
    const e = sd.cases.find((c) => c.name === 'e_end_to_end_seed_v1_plms')!;
    const cases = join(sdDir, 'cases.safetensors');
    const r = await reconstruct(v1Dir, sdDir, [
      '--steps', String(e.facts!.ddim_steps_S), '--guidance', String(e.facts!.guidance_scale),
      '--latents', `${cases}:e.latents`, '--prompt-embeds', `${cases}:e.uncond_embeds`,
    ]);
    expect(r.codes).toEqual(r.want);
    report('sd-v1-tiny', 'reconstruct', 'e.image_u8_seed_v1', compare(r.pixels, sd.f32('e.image_u8_seed_v1'), U8), U8);
  });

  it('explains what is missing or mismatched', () => {
    let r = tsvlm(['reconstruct', '--model', seedDir, '--image', 'x.png']);
    expect([r.code, r.err]).toEqual([2, expect.stringMatching(/needs --diffusion SD_DIR/)]);
    r = tsvlm(['reconstruct', '--model', seedDir, '--diffusion', unclipDir, '--image', join(FIXTURES_ROOT, 'images', 'chelsea.png'), '-q']);
    expect([r.code, r.err]).toEqual([1, expect.stringMatching(/no text_encoder\/ and tokenizer\/: pass promptEmbeds/)]);
  });
});
