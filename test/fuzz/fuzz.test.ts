// The quick fuzz subset that runs with `npm test` (seeded, so every run tries the same inputs):
// no crash, no hang, no memory blow-up in any input class. `npm run fuzz` runs many more.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FIXTURES_ROOT } from '../helpers/fixtures.js';
import { bad, newTally, table } from './harness.js';
import { fuzzConfigs, fuzzImages, fuzzSafetensors, fuzzServer, fuzzTemplates } from './suites.js';

const SEED = 16;

describe('fuzz (quick subset)', () => {
  it('server: hostile HTTP requests get clear errors', async () => {
    const t = newTally();
    await fuzzServer(t, SEED, 180);
    console.log(table(t));
    expect(bad(t), table(t)).toBe(0);
  }, 300_000);

  it('safetensors headers, chat templates and image bytes get clear errors', async () => {
    const t = newTally();
    await fuzzSafetensors(t, SEED, 150);
    fuzzTemplates(t, SEED, 45);
    await fuzzImages(t, SEED, 80);
    console.log(table(t));
    expect(bad(t), table(t)).toBe(0);
  }, 300_000);

  it.skipIf(!existsSync(join(FIXTURES_ROOT, 'llama-tiny', 'config.json')))('config.json numbers get clear errors', async () => {
    const t = newTally();
    await fuzzConfigs(t, SEED, 13);
    console.log(table(t));
    expect(bad(t), table(t)).toBe(0);
  }, 300_000);
});
