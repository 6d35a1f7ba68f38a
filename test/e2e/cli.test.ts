// The tsvlm CLI end to end on fixture checkpoints (with small real tokenizers from
// test/data/e2e-tokenizers) and real image files. Needs `npm run build` (runs dist/).
import { describe, it, expect, beforeAll } from 'vitest';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FIXTURES_ROOT, openFixture } from '../helpers/fixtures.js';
import { BUILT, IMAGES as images, ROOT, assemble as assembleIn, haveFixtures, tsvlm, workDir } from '../helpers/cli.js';

const work = workDir();
const assemble = (fixture: string) => assembleIn(work, fixture);
const have = haveFixtures('siglip-tiny', 'llama-tiny', 'sail-tiny');

describe.skipIf(!have || !BUILT)('tsvlm CLI', () => {
  let siglip: string, llama: string, sail: string;
  beforeAll(() => {
    siglip = assemble('siglip-tiny');
    llama = assemble('llama-tiny');
    sail = assemble('sail-tiny');
  });

  it('classify prints labels with sigmoid probabilities, highest first', () => {
    const r = tsvlm(['classify', '--model', siglip, '--image', join(images, 'chelsea.png'), '--labels', 'a cat,a dog,a cup of coffee', '--json']);
    expect(r.code, r.err).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.scores.map((s: { label: string }) => s.label).sort()).toEqual(['a cat', 'a cup of coffee', 'a dog']);
    for (let i = 0; i < j.scores.length; i++) {
      const s = j.scores[i];
      expect(s.score).toBeCloseTo(1 / (1 + Math.exp(-s.logit)), 6);
      if (i > 0) expect(s.score).toBeLessThanOrEqual(j.scores[i - 1].score);
    }
    const human = tsvlm(['classify', '--model', siglip, '--image', join(images, 'chelsea_q90.jpg'), '--labels', 'a cat,a dog']);
    expect(human.code, human.err).toBe(0);
    expect(human.out.trim().split('\n')).toHaveLength(2);
  });

  it('embed prints L2-normalised image and text embeddings', () => {
    const r = tsvlm(['embed', '--model', siglip, '--image', join(images, 'coffee.png'), '--image', join(images, 'gray.png'), '--text', 'a cup of coffee', '--json']);
    expect(r.code, r.err).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.embeddings).toHaveLength(3);
    for (const e of j.embeddings) {
      expect(e.embedding).toHaveLength(j.dimensions);
      expect(Math.hypot(...e.embedding)).toBeCloseTo(1, 5);
    }
  });

  it('generate --input-ids reproduces the reference greedy ids; text streams to stdout', () => {
    const fx = openFixture(join(FIXTURES_ROOT, 'llama-tiny'));
    const prompt = fx.ints('prompt.input_ids');
    const want = fx.ints('greedy.generated_ids');
    const r = tsvlm(['generate', '--model', llama, '--input-ids', prompt.join(','), '--max-new-tokens', String(want.length), '--json']);
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out).token_ids).toEqual(want);
    const s = tsvlm(['generate', '--model', llama, '--prompt', 'Once upon a time', '--max-new-tokens', '12']);
    expect(s.code, s.err).toBe(0);
    expect(s.out.trim().length).toBeGreaterThan(0);
    const a = tsvlm(['generate', '--model', llama, '--prompt', 'Tell me', '--max-new-tokens', '10', '--temperature', '0.9', '--top-p', '0.9', '--seed', '7', '--json']);
    const b = tsvlm(['generate', '--model', llama, '--prompt', 'Tell me', '--max-new-tokens', '10', '--temperature', '0.9', '--top-p', '0.9', '--seed', '7', '--json']);
    expect(JSON.parse(a.out).token_ids).toEqual(JSON.parse(b.out).token_ids);
    const c = tsvlm(['generate', '--model', llama, '--chat', '--prompt', 'Hello', '--max-new-tokens', '4', '--json']);
    expect(c.code, c.err).toBe(0);
  });

  it('chat answers about an image file; the REPL keeps the image and switches with /image', () => {
    const r = tsvlm(['chat', '--model', sail, '--image', join(images, 'synthetic.png'), 'What is in the image?', '--max-new-tokens', '6', '--json']);
    expect(r.code, r.err).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.token_ids.length).toBeGreaterThan(0);
    expect(j.usage.prompt_tokens).toBeGreaterThan(20);
    const repl = tsvlm(['chat', '--model', sail, '--image', join(images, 'synthetic.png'), '--max-new-tokens', '4'], `What is this?\nAnd the colour?\n/image ${join(images, 'rgba.png')}\nNow?\n/quit\n`);
    expect(repl.code, repl.err).toBe(0);
    expect(repl.err).toContain('image: ');
    const text = tsvlm(['chat', '--model', sail, 'Hello there', '--max-new-tokens', '4', '--json']);
    expect(text.code, text.err).toBe(0);
  });

  it('fails clearly: missing folder, wrong model type, corrupt image, bad flags', () => {
    const missing = tsvlm(['classify', '--model', join(work, 'nope'), '--image', join(images, 'gray.png'), '--labels', 'a']);
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/does not exist/);
    const wrong = tsvlm(['classify', '--model', llama, '--image', join(images, 'gray.png'), '--labels', 'a']);
    expect(wrong.code).toBe(2);
    expect(wrong.err).toMatch(/chat model .*needs an embedding model/);
    const bad = join(work, 'corrupt.png');
    writeFileSync(bad, 'this is not a png at all');
    const corrupt = tsvlm(['classify', '--model', siglip, '--image', bad, '--labels', 'a']);
    expect(corrupt.code).toBe(1);
    expect(corrupt.err).toMatch(/corrupt\.png/);
    const other = mkdtempSync(join(tmpdir(), 'tsvlm-cfg-'));
    writeFileSync(join(other, 'config.json'), JSON.stringify({ model_type: 'bert' }));
    const unsupported = tsvlm(['embed', '--model', other, '--text', 'x']);
    expect(unsupported.code).toBe(1);
    expect(unsupported.err).toMatch(/model_type "bert" is not a supported checkpoint/);
    expect(tsvlm(['frobnicate']).code).toBe(2);
    expect(tsvlm(['generate', '--model', llama, '--max-new-tokens', 'x', '--prompt', 'a']).code).toBe(2);
    expect(readdirSync(work).length).toBeGreaterThan(0);
  });

  it('--dtype q4/q8: the built-in SAIL chat model and a Llama answer from quantized weights (converted once, then cached)', () => {
    process.env.TSVLM_CACHE = join(work, 'cache');
    const q = ['chat', '--image', join(ROOT, 'examples/scene.png'), 'How many shapes are there?'];
    const fp32 = tsvlm(q);
    const first = tsvlm([...q, '--dtype', 'q4']);
    expect(first.code, first.err).toBe(0);
    expect(first.out.trim().length).toBeGreaterThan(0);
    const again = tsvlm([...q, '--dtype', 'q4']);
    expect(again.out).toBe(first.out);
    expect(readdirSync(join(work, 'cache', 'weights')).filter((f) => f.includes('-q4-')).length).toBe(2); // embed + decoder graphs
    console.log(`built-in SAIL: fp32 ${JSON.stringify(fp32.out.trim())}, q4 ${JSON.stringify(first.out.trim())}`);
    const fx = openFixture(join(FIXTURES_ROOT, 'llama-tiny'));
    const r = tsvlm(['generate', '--model', llama, '--dtype', 'q8', '--input-ids', fx.ints('prompt.input_ids').join(','), '--max-new-tokens', '4', '--json']);
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out).token_ids).toEqual(fx.ints('greedy.generated_ids').slice(0, 4));
    const bad = tsvlm(['generate', '--model', llama, '--dtype', 'int3', '--prompt', 'x']);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('--dtype must be fp32, fp16, q8 or q4');
  });

  it('--attention gqa: the fused-attention decoder gives the reference greedy ids; other values are usage errors', () => {
    const fx = openFixture(join(FIXTURES_ROOT, 'llama-tiny'));
    const r = tsvlm(['generate', '--model', llama, '--attention', 'gqa', '--input-ids', fx.ints('prompt.input_ids').join(','), '--max-new-tokens', '6', '--json']);
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out).token_ids).toEqual(fx.ints('greedy.generated_ids').slice(0, 6));
    const bad = tsvlm(['generate', '--model', llama, '--attention', 'flash', '--prompt', 'x']);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('--attention must be ops or gqa');
  });
});
