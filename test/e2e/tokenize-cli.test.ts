// `tsvlm tokenize` end to end on the SEED fixture checkpoints (a folder holding only config.json
// and the weights) with real image files. Needs `npm run build` (runs dist/).
import { describe, it, expect, beforeAll } from 'vitest';
import { existsSync, mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES_ROOT } from '../helpers/fixtures.js';
import { BUILT, IMAGES as images, tsvlm, workDir } from '../helpers/cli.js';
import { loadModel, type ImageTokenizer } from '../../src/index.js';

const work = workDir('tsvlm-tokenize-');

function weightsOnly(fixture: string): string {
  const dir = join(work, fixture);
  mkdirSync(dir);
  for (const f of ['config.json', 'model.safetensors']) symlinkSync(join(FIXTURES_ROOT, fixture, f), join(dir, f));
  return dir;
}

const have = ['seed-tokenizer-tiny', 'seed-v1-tokenizer-tiny'].every((f) => existsSync(join(FIXTURES_ROOT, f, 'model.safetensors')));

describe.skipIf(!have || !BUILT)('tsvlm tokenize', () => {
  let v2: string, v1: string;
  const files = ['chelsea.png', 'chelsea_q90.jpg', 'coffee.png', 'rgba.png'].map((f) => join(images, f));
  beforeAll(() => {
    v2 = weightsOnly('seed-tokenizer-tiny');
    v1 = weightsOnly('seed-v1-tokenizer-tiny');
  });

  it('prints one line of 32 codes per image, in order, equal to the library encode', async () => {
    const r = tsvlm(['tokenize', '--model', v2, ...files.flatMap((f) => ['--image', f])]);
    expect(r.code, r.err).toBe(0);
    const lines = r.out.trim().split('\n');
    expect(lines.map((l) => l.split('\t')[0])).toEqual(files);
    const codes = lines.map((l) => l.split('\t')[1]!.split(' ').map(Number));
    const m = (await loadModel(v2)) as ImageTokenizer;
    expect(codes).toEqual(await m.encode(files));
    for (const c of codes) {
      expect(c).toHaveLength(32);
      for (const x of c) expect(Number.isInteger(x) && x >= 0 && x < m.codebookSize).toBe(true);
    }
    await m.dispose();
  });

  it('--json gives the same codes with the model facts (v1 too)', () => {
    const r = tsvlm(['tokenize', '--model', v1, '--image', files[0]!, '--image', files[2]!, '--json']);
    expect(r.code, r.err).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.model_type).toBe('seed_v1_visual_tokenizer');
    expect(j.codes_per_image).toBe(32);
    expect(j.codebook_size).toBe(8192);
    expect(j.images.map((i: { image: string }) => i.image)).toEqual([files[0], files[2]]);
    for (const i of j.images) expect(i.codes).toHaveLength(32);
  });

  it('refuses missing inputs and models of another kind with clear errors', () => {
    const none = tsvlm(['tokenize', '--model', v2]);
    expect(none.code).toBe(2);
    expect(none.err).toMatch(/at least one --image/);
    const missing = tsvlm(['tokenize', '--model', v2, '--image', join(work, 'nope.png')]);
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/nope\.png: no such file/);
    const noModel = tsvlm(['tokenize', '--image', files[0]!]);
    expect(noModel.code).toBe(2);
    expect(noModel.err).toMatch(/needs --model DIR/);
    const notImage = tsvlm(['tokenize', '--model', v2, '--image', join(FIXTURES_ROOT, 'seed-tokenizer-tiny', 'config.json')]);
    expect(notImage.code).toBe(1);
    expect(notImage.err).toMatch(/config\.json/);
  });
});
