// Running the built tsvlm CLI (dist/) on fixture checkpoints in tests.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { FIXTURES_ROOT } from './fixtures.js';

export const ROOT = resolve(__dirname, '../..');
export const BIN = join(ROOT, 'bin/tsvlm.js');
export const IMAGES = join(FIXTURES_ROOT, 'images');
export const BUILT = existsSync(join(ROOT, 'dist/cli/main.js'));

/** A fresh temporary folder for one test file. */
export function workDir(prefix = 'tsvlm-cli-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function haveFixtures(...names: string[]): boolean {
  return names.every((f) => existsSync(join(FIXTURES_ROOT, f, 'config.json')));
}

/** A checkpoint folder in `work`: the fixture's config and weights plus a tokenizer that fits its vocabulary. */
export function assemble(work: string, fixture: string): string {
  const dir = join(work, fixture);
  if (existsSync(dir)) return dir;
  cpSync(join(ROOT, 'test/data/e2e-tokenizers', fixture), dir, { recursive: true });
  for (const f of ['config.json', 'model.safetensors']) symlinkSync(join(FIXTURES_ROOT, fixture, f), join(dir, f));
  return dir;
}

export function tsvlm(args: string[], input?: string, env?: Record<string, string>) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', input, timeout: 120_000, env: env ? { ...process.env, ...env } : process.env });
  return { code: r.status, out: r.stdout, err: r.stderr };
}
