// `tsvlm batch embed` end to end with siglip-tiny: a child process is SIGKILLed in the middle of a
// job, `--resume` finishes it, and every output file equals an uninterrupted run's byte for byte.
// Needs `npm run build` (runs dist/).
import { describe, it, expect, beforeAll } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import sharp from 'sharp';
import { parquetReadObjects } from 'hyparquet';
import { FIXTURES_ROOT } from '../helpers/fixtures.js';
import { loadModel } from '../../src/index.js';
import type { EmbeddingModel } from '../../src/api.js';

const root = resolve(__dirname, '../..');
const bin = join(root, 'bin/tsvlm.js');
const work = mkdtempSync(join(tmpdir(), 'tsvlm-batch-cli-'));
const have = existsSync(join(FIXTURES_ROOT, 'siglip-tiny/config.json')) && existsSync(join(root, 'dist/cli/main.js'));
const N = 24;

function args(out: string, extra: string[] = []) {
  return ['batch', 'embed', '--model', join(work, 'siglip'), '--input', join(work, 'images'), '--out', out, '--part-size', '4', '--batch-size', '2', ...extra];
}

function tsvlm(a: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [bin, ...a], { encoding: 'utf8', timeout: 120_000, env: { ...process.env, ...env } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function files(dir: string): Record<string, Buffer> {
  return Object.fromEntries(readdirSync(dir).sort().map((f) => [f, readFileSync(join(dir, f))]));
}

describe.skipIf(!have)('tsvlm batch (CLI)', () => {
  beforeAll(async () => {
    const model = join(work, 'siglip');
    cpSync(join(root, 'test/data/e2e-tokenizers/siglip-tiny'), model, { recursive: true });
    for (const f of ['config.json', 'model.safetensors', 'preprocessor_config.json']) symlinkSync(join(FIXTURES_ROOT, 'siglip-tiny', f), join(model, f));
    mkdirSync(join(work, 'images'));
    for (let i = 0; i < N; i++) {
      const data = Buffer.alloc(20 * 16 * 3);
      for (let j = 0; j < data.length; j++) data[j] = (j * 7 + i * 53) & 0xff;
      writeFileSync(join(work, 'images', `img${String(i).padStart(3, '0')}.png`), await sharp(data, { raw: { width: 20, height: 16, channels: 3 } }).png().toBuffer());
    }
    writeFileSync(join(work, 'images', 'img010b.png'), 'not an image');
  });

  it('a killed job resumed with --resume equals an uninterrupted run', async () => {
    const full = join(work, 'full');
    const r = tsvlm(args(full));
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/24 rows in 7 part\(s\)/);

    // The same job, SIGKILLed once two parts are on disk (slowed down so it is mid-run).
    const killed = join(work, 'killed');
    const child = spawn(process.execPath, [bin, ...args(killed)], { env: { ...process.env, TSVLM_BATCH_TEST_DELAY_MS: '150' }, stdio: 'ignore' });
    const exit = new Promise<NodeJS.Signals | null>((res) => child.on('exit', (_c, sig) => res(sig)));
    for (let t = 0; t < 1200 && !existsSync(join(killed, 'part-000001.parquet')); t++) await new Promise((res) => setTimeout(res, 25));
    child.kill('SIGKILL');
    expect(await exit).toBe('SIGKILL');
    expect(existsSync(join(killed, 'part-000006.parquet')), 'the child finished before it was killed').toBe(false);
    expect(JSON.parse(readFileSync(join(killed, '_part.job.json'), 'utf8')).complete).toBe(false);

    const resumed = tsvlm(args(killed, ['--resume']));
    expect(resumed.code, resumed.err).toBe(0);
    expect(resumed.out).toMatch(/part\(s\) already done/);
    const a = files(full), b = files(killed);
    expect(Object.keys(b)).toEqual(Object.keys(a));
    for (const f of Object.keys(a)) expect(b[f]!.equals(a[f]!), `${f} differs`).toBe(true);
  });

  it('rows hold the model’s own embeddings; the bad file is an error line; progress is on stderr', async () => {
    const out = join(work, 'full');
    const rows: Record<string, any>[] = [];
    for (const f of readdirSync(out).filter((f) => f.endsWith('.parquet')).sort()) rows.push(...(await parquetReadObjects({ file: new Uint8Array(readFileSync(join(out, f))).buffer })));
    expect(rows).toHaveLength(N);
    const m = (await loadModel(join(work, 'siglip'))) as EmbeddingModel;
    const want = await m.embedImages([join(work, 'images', 'img000.png'), join(work, 'images', 'img023.png')]);
    await m.dispose();
    for (const [row, w] of [[rows[0]!, want[0]!], [rows[N - 1]!, want[1]!]] as const) {
      expect(row.embedding).toHaveLength(w.length);
      row.embedding.forEach((x: number, i: number) => expect(Math.abs(x - w[i]!)).toBeLessThan(1e-5));
    }
    const errors = readFileSync(join(out, '_part-errors.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ key: 'img010b', part: 2 });
    const r = tsvlm([...args(join(work, 'progress')), '--shard', '1/2']);
    expect(r.code, r.err).toBe(0);
    expect(r.err).toMatch(/\[tsvlm\] batch 13\/13 images \(100\.0%\) [\d.]+ images\/s ETA/);
    expect(readdirSync(join(work, 'progress')).filter((f) => f.endsWith('.parquet'))).toEqual(['shard-00001-of-00002-000000.parquet', 'shard-00001-of-00002-000001.parquet', 'shard-00001-of-00002-000002.parquet', 'shard-00001-of-00002-000003.parquet']);
  });

  it('usage errors exit 2 with a message', () => {
    const r = tsvlm(['batch', 'embed', '--model', join(work, 'siglip'), '--out', join(work, 'x'), '--input', join(work, 'nope')]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/input .*nope does not exist/);
    const t = tsvlm(['batch', 'tokenize', '--model', join(work, 'siglip'), '--out', join(work, 'x'), '--input', join(work, 'images')]);
    expect(t.code).toBe(2);
    expect(t.err).toMatch(/batch tokenize needs an image tokenizer/);
  });
});
