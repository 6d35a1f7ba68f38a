// SEED-LLaMA through the CLI: `draw` and `chat` on test/data/seed-llama-scripted (a real decoder
// graph whose greedy reply is one 32-code image then "."; tools/make-seed-llama-scripted.py), and
// the errors a user meets. Needs `npm run build` (runs dist/).
import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { FIXTURES_ROOT } from '../helpers/fixtures.js';

const root = resolve(__dirname, '../..');
const bin = join(root, 'bin/tsvlm.js');
const model = join(root, 'test/data/seed-llama-scripted');
const codes = Array.from({ length: 32 }, (_, i) => i);

function tsvlm(args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 120_000, cwd: mkdtempSync(join(tmpdir(), 'tsvlm-seed-')) });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe.skipIf(!existsSync(join(root, 'dist/cli/main.js')))('tsvlm CLI with SEED-LLaMA', () => {
  it('draw: the reply starts with an image; --json lists its codes and the text after it', () => {
    const r = tsvlm(['draw', '--model', model, '--json', 'a red bus on a bridge']);
    expect(r.code, r.err).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.images).toEqual([{ index: 0, codes }]);
    expect(j.text).toBe('.');
    expect(j.finish_reason).toBe('stop');
  });

  it('chat: the drawn image is named in the output (codes only without a renderer)', () => {
    const r = tsvlm(['chat', '--model', model, 'draw a cat']);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain(`[image 1: codes ${codes.join(',')} (no renderer loaded`);
  });

  it.skipIf(!existsSync(join(FIXTURES_ROOT, 'images', 'chelsea.png')))('chat --image without the image tokenizer says how to give it', () => {
    const r = tsvlm(['chat', '--model', model, '--image', join(FIXTURES_ROOT, 'images', 'chelsea.png'), 'what is this?']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/SEED image tokenizer, which was not loaded \(give its folder: --image-tokenizer DIR/);
  });

  it.skipIf(!existsSync(join(FIXTURES_ROOT, 'llama-tiny', 'config.json')))('draw on a model that does not draw is refused by name; a missing --image-tokenizer folder is a usage error', () => {
    const r = tsvlm(['draw', '--model', join(root, 'test/data/seed-llama-scripted'), '--image-tokenizer', '/nonexistent/seed', 'x']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--image-tokenizer \/nonexistent\/seed does not exist/);
    const llama = mkdtempSync(join(tmpdir(), 'tsvlm-llama-'));
    cpSync(join(root, 'test/data/e2e-tokenizers/llama-tiny'), llama, { recursive: true });
    for (const f of ['config.json', 'model.safetensors']) symlinkSync(join(FIXTURES_ROOT, 'llama-tiny', f), join(llama, f));
    const plain = tsvlm(['draw', '--model', llama, 'x']);
    expect(plain.code).toBe(2);
    expect(plain.err).toMatch(/\(llama\) does not draw images/);
  });
});
