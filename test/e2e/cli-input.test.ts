// No CLI input is dropped in silence, and bad input fails before a model loads: the shell's
// glob expansion, repeated flags, labels with commas, prompts from stdin/files, --system,
// per-command help, --version. Needs `npm run build` (runs dist/).
import { describe, it, expect, beforeAll } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BUILT, IMAGES, ROOT, assemble, haveFixtures, tsvlm, workDir } from '../helpers/cli.js';
import { webgpuAvailable } from '../../src/graph/session.js';

const work = workDir();
const img = (f: string) => join(IMAGES, f);
// The checks before loading use the project's own test images, so they run without ../shared.
const OWN_IMAGES = join(ROOT, 'test/data/images');
const own = (f: string) => join(OWN_IMAGES, f);
const nowhere = join(work, 'no-such-model');

describe.skipIf(!BUILT)('tsvlm CLI checks its input before loading a model', () => {
  it('stray arguments (a shell glob after --image) are usage errors that name the argument', () => {
    const r = tsvlm(['embed', '--model', nowhere, '--image', own('rgb-noise.png'), own('gray-checker.png'), own('rgba.png')]);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`"${own('gray-checker.png')}"`);
    expect(r.err).toMatch(/--image takes one value; repeat the flag/);
    // chat: extra image names after --image would otherwise join the question.
    const c = tsvlm(['chat', '--model', nowhere, '--image', own('rgb-noise.png'), own('gray-checker.png'), 'what is it?']);
    expect(c.code).toBe(2);
    expect(c.err).toMatch(/gray-checker\.png.* is a file, not part of the question/);
  });

  it('a single-value flag given twice, a misspelt flag and a flag of another command are usage errors', () => {
    const twice = tsvlm(['chat', '--model', nowhere, '--temperature', '0.5', '--temperature', '0.7', 'hi']);
    expect(twice.code).toBe(2);
    expect(twice.err).toMatch(/--temperature was given twice \("0.5" and "0.7"\)/);
    const models = tsvlm(['chat', '--model', nowhere, '--model', nowhere, 'hi']);
    expect(models.code).toBe(2);
    expect(models.err).toMatch(/--model was given 2 times/);
    const typo = tsvlm(['classify', '--image', own('gray-checker.png'), '--lables', 'a,b']);
    expect(typo.code).toBe(2);
    expect(typo.err).toMatch(/--lables .*did you mean --labels\?/);
    const other = tsvlm(['embed', '--model', nowhere, '--text', 'x', '--temperature', '1']);
    expect(other.code).toBe(2);
    expect(other.err).toMatch(/--temperature is not an option of tsvlm embed/);
    const boolValue = tsvlm(['embed', '--model', nowhere, '--text', 'x', '--json=yes']);
    expect(boolValue.code).toBe(2);
  });

  it('sampling flags are checked before the model loads; --repetition-penalty 0 is refused', () => {
    for (const [flag, value, why] of [
      ['--repetition-penalty', '0', /--repetition-penalty must be in \(0, 100\]/],
      ['--top-p', '1.5', /--top-p must be in \[0, 1\]/],
      ['--temperature', '-1', /--temperature must be in/],
      ['--top-k', '2.5', /--top-k must be an integer/],
      ['--max-new-tokens', '0', /--max-new-tokens must be at least 1/],
      ['--seed', 'abc', /--seed must be an integer/],
    ] as const) {
      const r = tsvlm(['chat', '--model', nowhere, flag, value, 'hi']);
      expect(r.code, `${flag} ${value}: ${r.err}`).toBe(2);
      expect(r.err).toMatch(why);
      expect(r.err).not.toMatch(/no-such-model/);
    }
  });

  it('image files are checked before the model loads: folders, missing and non-image files are named', () => {
    const dir = tsvlm(['chat', '--model', nowhere, '--image', OWN_IMAGES, 'hi']);
    expect(dir.code).toBe(2);
    expect(dir.err).toContain(`--image ${OWN_IMAGES} is a folder`);
    const missing = tsvlm(['classify', '--model', nowhere, '--image', join(work, 'nope.png'), '--labels', 'a']);
    expect(missing.code).toBe(2);
    expect(missing.err).toContain(`--image ${join(work, 'nope.png')}: no such file`);
    const text = join(work, 'notes.txt');
    writeFileSync(text, 'hello');
    const notImage = tsvlm(['embed', '--model', nowhere, '--image', text]);
    expect(notImage.code).toBe(1);
    expect(notImage.err).toContain(`${text}: not an image`);
    expect(notImage.err).not.toMatch(/no-such-model/);
  });

  it('tsvlm COMMAND --help lists the options with their defaults; --version prints the version', () => {
    const h = tsvlm(['chat', '--help']);
    expect(h.code).toBe(0);
    expect(h.out).toMatch(/^Usage: tsvlm chat /);
    expect(h.out).toMatch(/--repetition-penalty R .*\(default: 1, off\)/);
    expect(h.out).toMatch(/--device cpu\|webgpu\|auto .*\(default: cpu\)/);
    expect(h.out).toMatch(/--system TEXT/);
    expect(h.out).not.toMatch(/--labels/);
    const c = tsvlm(['classify', '-h']);
    expect(c.out).toMatch(/--label TEXT .*\(repeatable\)/);
    const v = tsvlm(['--version']);
    expect(v.code).toBe(0);
    expect(v.out.trim()).toBe(`tsvlm ${JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version}`);
  });
});

const have = haveFixtures('siglip-tiny', 'llama-tiny', 'sail-tiny');

describe.skipIf(!BUILT || !have)('tsvlm CLI takes every input it is given', () => {
  let siglip: string, llama: string, sail: string;
  beforeAll(() => {
    sail = assemble(work, 'sail-tiny');
    siglip = assemble(work, 'siglip-tiny');
    llama = assemble(work, 'llama-tiny');
  });

  it('classify: repeated --image classifies each; --label keeps commas; --labels reads a file', () => {
    const labelFile = join(work, 'labels.txt');
    writeFileSync(labelFile, 'a cat\n\na dog, sleeping\n');
    const r = tsvlm(['classify', '--model', siglip, '--image', img('chelsea.png'), '--image', img('coffee.png'), '--labels', labelFile, '--label', 'a cup of coffee, hot', '--json']);
    expect(r.code, r.err).toBe(0);
    const lines = r.out.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => l.image)).toEqual([img('chelsea.png'), img('coffee.png')]);
    for (const l of lines) expect(l.scores.map((s: { label: string }) => s.label).sort()).toEqual(['a cat', 'a cup of coffee, hot', 'a dog, sleeping']);
  });

  it('the prompt comes from an argument, --prompt, -f FILE or standard input, the same either way', () => {
    const run = (args: string[], input?: string) => {
      const r = tsvlm(['generate', '--model', llama, '--max-new-tokens', '5', '--json', ...args], input);
      expect(r.code, r.err).toBe(0);
      return JSON.parse(r.out).token_ids as number[];
    };
    const want = run(['--prompt', 'Once upon a time']);
    const f = join(work, 'prompt.txt');
    writeFileSync(f, 'Once upon a time');
    expect(run(['-f', f])).toEqual(want);
    expect(run(['-f', '-'], 'Once upon a time')).toEqual(want);
    expect(run(['-'], 'Once upon a time')).toEqual(want);
    expect(run(['Once', 'upon', 'a', 'time'])).toEqual(want);
    const both = tsvlm(['generate', '--model', llama, '--prompt', 'a', '-f', f]);
    expect(both.code).toBe(2);
    expect(both.err).toMatch(/the prompt was given twice/);
  });

  it('--system leads the conversation of chat', () => {
    const run = (extra: string[]) => {
      const r = tsvlm(['chat', '--model', sail, '--image', img('gray.png'), 'Hello', '--max-new-tokens', '2', '--json', ...extra]);
      expect(r.code, r.err).toBe(0);
      return JSON.parse(r.out).usage.prompt_tokens as number;
    };
    expect(run(['--system', 'You are a pirate. Answer in rhymes.'])).toBeGreaterThan(run([]));
    const plain = tsvlm(['generate', '--model', llama, '--prompt', 'Hello', '--system', 'x']);
    expect(plain.code).toBe(2);
    expect(plain.err).toMatch(/--system needs --chat/);
  });

  it('--device auto runs where WebGPU has no adapter; --device webgpu there says so in one sentence', async () => {
    const auto = tsvlm(['embed', '--model', siglip, '--text', 'a cat', '--device', 'auto', '--json']);
    expect(auto.code, auto.err).toBe(0);
    expect(JSON.parse(auto.out).embeddings).toHaveLength(1);
    const bad = tsvlm(['embed', '--model', nowhere, '--text', 'a cat', '--device', 'tpu']);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/--device must be cpu, webgpu or auto/);
    if (await webgpuAvailable()) return;
    const gpu = tsvlm(['embed', '--model', siglip, '--text', 'a cat', '--device', 'webgpu']);
    expect(gpu.code).toBe(1);
    const ours = gpu.err.split('\n').filter((l) => l.startsWith('tsvlm:'));
    expect(ours).toEqual(['tsvlm: error: WebGPU has no adapter on this machine (no GPU driver Dawn can use: Vulkan, Metal or D3D12); run with --device cpu, or --device auto to fall back to it']);
  });
});
