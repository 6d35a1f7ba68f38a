// A checkpoint changed under a loaded model (weights-guard.ts): truncated in place → the next run
// fails with an error that says to replace by rename (before: SIGBUS, the process died); replaced
// by rename → runs go on with the loaded weights.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FIXTURES_ROOT } from '../helpers/fixtures.js';

const root = resolve(__dirname, '../..');
const have = existsSync(join(FIXTURES_ROOT, 'llama-tiny', 'config.json'));

describe.skipIf(!have)('weights changed on disk', () => {
  const work = mkdtempSync(join(tmpdir(), 'tsvlm-weights-'));
  afterAll(() => rmSync(work, { recursive: true, force: true }));
  const run = (how: 'truncate' | 'rename') => {
    const dir = join(work, how);
    cpSync(join(root, 'test/data/e2e-tokenizers/llama-tiny'), dir, { recursive: true });
    for (const f of ['config.json', 'model.safetensors']) cpSync(join(FIXTURES_ROOT, 'llama-tiny', f), join(dir, f)); // real copies: they get changed
    const r = spawnSync(process.execPath, [join(root, 'node_modules/vite-node/vite-node.mjs'), join(__dirname, 'weights-changed/child.ts'), dir, how], {
      cwd: root,
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.signal, `${r.stdout}${r.stderr}`).toBeNull();
    expect(r.status, r.stderr).toBe(0);
    return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { first: number[]; second?: number[]; error?: string };
  };

  it('a file truncated in place stops the next run with a clear error, not a SIGBUS', () => {
    const out = run('truncate');
    expect(out.first).toHaveLength(3);
    expect(out.error).toMatch(/model\.safetensors changed on disk while the model is loaded .*rename it into place/);
  });

  it('a file replaced by rename keeps working with the loaded weights', () => {
    const out = run('rename');
    expect(out.error).toBeUndefined();
    expect(out.second).toEqual(out.first);
  });
});
