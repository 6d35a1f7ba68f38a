// `npm run fuzz`: the long fuzz run. Seeded (FUZZ_SEED, default 16) and bounded (FUZZ_SCALE × the
// base counts, default 10, a deadline per case); loopback only. Prints the table of input classes ×
// outcomes and exits 1 on any crash, hang or over-memory outcome.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES_ROOT } from '../helpers/fixtures.js';
import { bad, newTally, table } from './harness.js';
import { fuzzConfigs, fuzzImages, fuzzSafetensors, fuzzServer, fuzzTemplates } from './suites.js';

const seed = Number(process.env.FUZZ_SEED ?? 16);
const scale = Number(process.env.FUZZ_SCALE ?? 10);
const t = newTally();
const t0 = performance.now();
const step = async (name: string, f: () => unknown) => {
  const s = performance.now();
  await f();
  console.error(`fuzz: ${name} done in ${((performance.now() - s) / 1000).toFixed(1)} s`);
};
await step('server', () => fuzzServer(t, seed, 180 * scale));
await step('safetensors', () => fuzzSafetensors(t, seed, 150 * scale));
await step('templates', () => fuzzTemplates(t, seed, 45 * scale));
await step('images', () => fuzzImages(t, seed, 80 * scale));
if (existsSync(join(FIXTURES_ROOT, 'llama-tiny', 'config.json'))) await step('configs', () => fuzzConfigs(t, seed, 13 * Math.ceil(scale / 2)));
console.log(`\ntsvlm fuzz: seed ${seed}, scale ${scale}, ${((performance.now() - t0) / 1000).toFixed(0)} s\n`);
console.log(table(t));
const n = bad(t);
console.log(`\n${n === 0 ? 'OK: 0 crashes, 0 hangs, 0 over memory' : `FAILED: ${n} crash/hang/over-memory outcomes`}`);
process.exit(n === 0 ? 0 : 1);
