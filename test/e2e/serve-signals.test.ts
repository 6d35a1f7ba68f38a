// A second SIGTERM (or SIGINT) during shutdown does not kill the server halfway: it finishes its
// clean shutdown and exits 0. Needs `npm run build` (the child runs dist/).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(__dirname, '../..');

describe.skipIf(!existsSync(join(root, 'dist/serve/cli.js')))('serve: signals', () => {
  it('exits cleanly (0) when a second SIGTERM arrives during shutdown', async () => {
    const child = spawn(process.execPath, [join(__dirname, 'serve-signals/child.mjs')], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stderr.on('data', (d) => (out += d));
    const exited = new Promise<[number | null, NodeJS.Signals | null]>((r) => child.on('exit', (c, s) => r([c, s])));
    await new Promise<void>((resolveListen, reject) => {
      child.stdout.on('data', (d) => {
        out += d;
        // Printed by onListening; the signal handlers are installed in the same tick.
        if (/^listening http/m.test(out)) resolveListen();
      });
      child.once('exit', () => reject(new Error(`exited before listening: ${out}`)));
    });
    child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 200));
    child.kill('SIGTERM');
    child.kill('SIGINT');
    const [code, signal] = await exited;
    expect(signal, out).toBeNull();
    expect(code, out).toBe(0);
    expect(out).toMatch(/already shutting down/);
    expect(out).toMatch(/stopped\s+exit 0/);
  }, 20_000);
});
