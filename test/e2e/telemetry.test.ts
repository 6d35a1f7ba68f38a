// tsvlm phones nobody: a process that loads a checkpoint through the library and runs it makes no
// network attempt and writes no file. ONNX Runtime 1.30's telemetry (on by default) would write a
// device id and an event queue under ~/.cache, a mat-debug log in $TMPDIR, and connect to its
// events endpoint about 9 s after the first session (src/graph/ort-env.ts switches it off).
// How the child is watched: HOME, XDG_CACHE_HOME and TMPDIR are empty temporary folders, listed
// afterwards; every proxy variable points at a local TCP listener that records what arrives (the
// runtime's native HTTP client honours them, so an upload shows up there instead of as a DNS
// lookup), and a preload records DNS lookups and connections made from JavaScript.
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FIXTURES_ROOT } from '../helpers/fixtures.js';

const root = resolve(__dirname, '../..');
const have = existsSync(join(FIXTURES_ROOT, 'llama-tiny', 'config.json'));
/** Long enough for the runtime's first upload (seen at ~9 s) to happen if telemetry were on. */
const WAIT_MS = Number(process.env.TSVLM_TELEMETRY_WAIT_MS ?? 12_000);

function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      out.push(relative(dir, p));
      if (e.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out;
}

describe.skipIf(!have)('telemetry', () => {
  const work = mkdtempSync(join(tmpdir(), 'tsvlm-telemetry-'));
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('loading and running a model makes no network attempt and writes no files', async () => {
    const model = join(work, 'llama-tiny');
    cpSync(join(root, 'test/data/e2e-tokenizers/llama-tiny'), model, { recursive: true });
    for (const f of ['config.json', 'model.safetensors']) symlinkSync(join(FIXTURES_ROOT, 'llama-tiny', f), join(model, f));
    const home = join(work, 'home');
    const cache = join(work, 'cache');
    const tmp = join(work, 'tmp');
    for (const d of [home, cache, tmp]) mkdirSync(d);
    const netLog = join(work, 'net.log');

    const arrived: string[] = [];
    const proxy: Server = createServer((sock) => {
      sock.once('data', (d) => arrived.push(d.toString('latin1').split('\r\n')[0]!));
      sock.on('error', () => {});
      setTimeout(() => sock.destroy(), 100);
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    const proxyUrl = `http://127.0.0.1:${(proxy.address() as { port: number }).port}`;

    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: home,
      XDG_CACHE_HOME: cache,
      TMPDIR: tmp,
      NET_LOG: netLog,
      TELEMETRY_WAIT_MS: String(WAIT_MS),
      NODE_OPTIONS: `--import ${join(__dirname, 'telemetry/preload.mjs')}`,
    };
    for (const v of ['http_proxy', 'https_proxy', 'all_proxy']) env[v] = env[v.toUpperCase()] = proxyUrl;

    const child = spawn(process.execPath, [join(root, 'node_modules/vite-node/vite-node.mjs'), join(__dirname, 'telemetry/child.ts'), model], {
      cwd: root,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const code = await new Promise<number | null>((r) => child.on('close', r));
    await new Promise<void>((r) => proxy.close(() => r()));

    expect(code, out).toBe(0);
    expect(out).toMatch(/generated 3 tokens/);
    expect(arrived, 'connections through the proxy variables').toEqual([]);
    expect(existsSync(netLog) ? readFileSync(netLog, 'utf8') : '', 'DNS lookups / connections from JavaScript').toBe('');
    expect(listFiles(home), 'files under HOME').toEqual([]);
    expect(listFiles(cache), 'files under XDG_CACHE_HOME').toEqual([]);
    expect(listFiles(tmp), 'files under TMPDIR').toEqual([]);
    expect(existsSync(`/tmp/mat-debug-${child.pid}.log`)).toBe(false);
  }, 60_000);
});
