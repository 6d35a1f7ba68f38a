// `batch tokenize` with the real SEED tokenizer (v2 and v1 tiny fixtures) loaded from torch.save
// files (test/data/pt): the codes in the Parquet parts equal the codes the original SEED code
// recorded for the same pictures, exactly.
import { describe, it, expect, beforeAll } from 'vitest';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import sharp from 'sharp';
import { parquetReadObjects } from 'hyparquet';
import { discoverFixtures, FIXTURES_ROOT, type Fixture } from '../helpers/fixtures.js';
import { loadModel } from '../../src/index.js';
import { encoderFor, runBatch } from '../../src/batch/run.js';

const root = resolve(__dirname, '../..');
const fixtures = discoverFixtures((cfg) => ['seed_qformer_quantizer', 'seed_v1_visual_tokenizer'].includes(cfg?.model_type));
if (!fixtures.length) it.skip(`no SEED tokenizer fixtures under ${FIXTURES_ROOT}`, () => {});
const PT: Record<string, string> = { 'seed-tokenizer-tiny': 'seed-v2/seed_quantizer.pt', 'seed-v1-tokenizer-tiny': 'seed-v1/seed_tokenizer.pth' };

describe.each(fixtures.filter((f) => PT[f.name]).map((f) => [f.name, f] as [string, Fixture]))('batch tokenize with %s from its .pt', (name, fx) => {
  const work = mkdtempSync(join(tmpdir(), `tsvlm-batch-${name}-`));
  beforeAll(async () => {
    const model = join(work, 'model');
    mkdirSync(model);
    symlinkSync(join(fx.dir, 'config.json'), join(model, 'config.json'));
    const pt = PT[name]!;
    symlinkSync(join(root, 'test/data/pt', pt), join(model, pt.split('/').pop()!));
    const [B, H, W] = fx.shape('image_u8') as [number, number, number];
    const u8 = fx.typed('image_u8') as Uint8Array;
    mkdirSync(join(work, 'images'));
    for (let i = 0; i < B; i++) {
      const png = await sharp(Buffer.from(u8.subarray(i * H * W * 3, (i + 1) * H * W * 3)), { raw: { width: W, height: H, channels: 3 } }).png().toBuffer();
      writeFileSync(join(work, 'images', `pic${i}.png`), png);
    }
    writeFileSync(join(work, 'images', 'pic9.png'), 'corrupt');
  });

  it('Parquet codes equal the recorded SEED codes', async () => {
    const m = await loadModel(join(work, 'model'));
    expect(m.kind).toBe('image-tokenizer');
    const out = join(work, 'out');
    const s = await runBatch(encoderFor(m, 'tokenize'), { inputs: [join(work, 'images')], out, partSize: 1, batchSize: 2 });
    await m.dispose();
    const rows: Record<string, any>[] = [];
    for (const f of readdirSync(out).filter((f) => f.endsWith('.parquet')).sort()) rows.push(...(await parquetReadObjects({ file: new Uint8Array(readFileSync(join(out, f))).buffer })));
    const B = fx.shape('image_u8')[0]!;
    expect(rows.map((r) => r.key)).toEqual(Array.from({ length: B }, (_, i) => `pic${i}`));
    expect(rows.flatMap((r) => r.codes)).toEqual(fx.ints('codes'));
    expect(s.errors).toBe(1);
  });
});
