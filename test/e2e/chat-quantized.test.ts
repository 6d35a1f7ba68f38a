// `tsvlm chat --dtype q4` (and q8) on every chat model type tsvlm runs — Llama, Mistral, Qwen2,
// SAIL, HoVLE, HoVLE-HD, SEED-LLaMA — from their fixture checkpoints: the first start converts the
// weights into the cache (progress on stderr), the second loads the cached codes without converting
// and answers the same, and every graph of the model got its own quantized file.
import { describe, it, expect } from 'vitest';
import { cpSync, existsSync, readdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES_ROOT } from '../helpers/fixtures.js';
import { BUILT, IMAGES, ROOT, tsvlm, workDir } from '../helpers/cli.js';

const work = workDir('tsvlm-chat-q-');

// fixture → the e2e tokenizer that fits its vocabulary (mistral/qwen2-tiny: 512 ids, as llama-tiny).
const CASES: { fixture: string; tokenizer: string; modelType: string; image: boolean; graphs: number }[] = [
  { fixture: 'llama-tiny', tokenizer: 'llama-tiny', modelType: 'llama', image: false, graphs: 1 },
  { fixture: 'mistral-tiny', tokenizer: 'llama-tiny', modelType: 'mistral', image: false, graphs: 1 },
  { fixture: 'qwen2-tiny', tokenizer: 'llama-tiny', modelType: 'qwen2', image: false, graphs: 1 },
  { fixture: 'sail-tiny', tokenizer: 'sail-tiny', modelType: 'sail', image: true, graphs: 2 },
  { fixture: 'hovle-tiny', tokenizer: 'hovle-tiny', modelType: 'internvl_chat', image: true, graphs: 4 },
  { fixture: 'hovle-hd-tiny', tokenizer: 'hovle-tiny', modelType: 'internvl_chat', image: true, graphs: 5 },
  { fixture: 'seed-llama-tiny', tokenizer: 'seed-llama-tiny', modelType: 'seed-llama', image: false, graphs: 1 },
];

function assemble(fixture: string, tokenizer: string): string {
  const dir = join(work, fixture);
  if (existsSync(dir)) return dir;
  cpSync(join(ROOT, 'test/data/e2e-tokenizers', tokenizer), dir, { recursive: true });
  for (const f of ['config.json', 'model.safetensors']) symlinkSync(join(FIXTURES_ROOT, fixture, f), join(dir, f));
  return dir;
}

describe.skipIf(!BUILT)('tsvlm chat --dtype q4 on every chat model type', () => {
  for (const c of CASES) {
    it.skipIf(!existsSync(join(FIXTURES_ROOT, c.fixture, 'config.json')))(`${c.fixture} (${c.modelType})`, () => {
      const model = assemble(c.fixture, c.tokenizer);
      const cache = join(work, `cache-${c.fixture}`);
      const env = { TSVLM_CACHE: cache };
      const args = ['chat', '--model', model, '--max-new-tokens', '6', '--json',
        ...(c.image ? ['--image', join(IMAGES, 'chelsea.png')] : []), 'What is in the picture?'];
      const first = tsvlm([...args, '--dtype', 'q4'], undefined, env);
      expect(first.code, first.err).toBe(0);
      expect(first.err).toMatch(/converting weights to q4/);
      const a = JSON.parse(first.out);
      expect(a.usage.completion_tokens).toBeGreaterThan(0);
      expect(a.token_ids.length).toBe(a.usage.completion_tokens);
      const files = readdirSync(join(cache, 'weights')).filter((f) => f.endsWith('.safetensors'));
      expect(files.length).toBeGreaterThan(0);
      expect(files.every((f) => f.includes('-q4-'))).toBe(true);
      expect(files.length).toBe(c.graphs); // HoVLE: vision, text, embedding layers, LLM (+ HD's post-shuffle)
      // Second start: from the cache (no conversion), same greedy answer.
      const again = tsvlm([...args, '--dtype', 'q4'], undefined, env);
      expect(again.code, again.err).toBe(0);
      expect(again.err).not.toMatch(/converting weights/);
      expect(JSON.parse(again.out).token_ids).toEqual(a.token_ids);
      // q8 of the same model: its own cache files next to the q4 ones.
      const q8 = tsvlm([...args, '--dtype', 'q8'], undefined, env);
      expect(q8.code, q8.err).toBe(0);
      expect(JSON.parse(q8.out).usage.completion_tokens).toBeGreaterThan(0);
      expect(readdirSync(join(cache, 'weights')).filter((f) => f.includes('-q8-')).length).toBe(files.length);
    }, 120_000);
  }

  it.skipIf(!existsSync(join(FIXTURES_ROOT, 'llama-tiny', 'config.json')))('--quant-block picks the block (its own cache file); a bad value is a usage error before loading', () => {
    const model = assemble('llama-tiny', 'llama-tiny');
    const cache = join(work, 'cache-block');
    const args = ['chat', '--model', model, '--max-new-tokens', '4', '--json', '--dtype', 'q4', 'Tell me'];
    for (const b of ['32', '64']) expect(tsvlm([...args, '--quant-block', b], undefined, { TSVLM_CACHE: cache }).code).toBe(0);
    expect(readdirSync(join(cache, 'weights')).filter((f) => f.includes('-q4-')).length).toBe(2);
    const bad = tsvlm([...args, '--quant-block', '48'], undefined, { TSVLM_CACHE: cache });
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('--quant-block must be 32, 64 or 128 (got "48")');
    expect(bad.err).not.toMatch(/\[tsvlm\] (weights|load)/);
  }, 60_000);
});
