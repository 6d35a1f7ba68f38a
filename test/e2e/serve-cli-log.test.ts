// `tsvlm serve` output: the port is checked before any model loads, each line carries one
// "tsvlm serve:" prefix, and --json logs one JSON object per line.
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import type { Model } from '../../src/api.js';
import { runServe } from '../../src/serve/cli.js';
import { FakeChatModel } from '../helpers/fake-models.js';

function setup() {
  const loaded: string[] = [];
  const lines: string[] = [];
  const load = async (dir: string): Promise<Model> => {
    loaded.push(dir);
    return new FakeChatModel({ name: 'chat' });
  };
  return { loaded, lines, load, io: { out: (s: string) => lines.push(s), err: (s: string) => lines.push(s) } };
}

describe('tsvlm serve: port check and log lines', () => {
  it('a taken port fails before any model is loaded, with the prefix printed once', async () => {
    const blocker = createServer();
    const port = await new Promise<number>((r) => blocker.listen(0, '127.0.0.1', () => r((blocker.address() as { port: number }).port)));
    try {
      const s = setup();
      expect(await runServe(['--model', '/m/chat', '--port', String(port)], s.load, s.io)).toBe(1);
      expect(s.loaded).toEqual([]);
      expect(s.lines).toHaveLength(1);
      expect(s.lines[0]).toMatch(new RegExp(`^tsvlm serve: cannot listen on 127.0.0.1:${port}: port ${port} is in use`));
      expect(s.lines[0]).not.toMatch(/tsvlm serve:.*tsvlm serve:/);
    } finally {
      blocker.close();
    }
  });

  it('--json logs every line as JSON (loading, listening, requests, shutdown)', async () => {
    const s = setup();
    const stop = new AbortController();
    let url = '';
    const done = runServe(['--model', 'chat=/m/chat', '--port', '0', '--json'], s.load, {
      ...s.io,
      stop: stop.signal,
      onListening: (info) => {
        url = info.url;
        void fetch(`${url}/v1/models`).then(() => stop.abort());
      },
    });
    expect(await done).toBe(0);
    const objs = s.lines.map((l) => JSON.parse(l));
    for (const o of objs) {
      expect(typeof o.time).toBe('string');
      expect(o.level).toBe('info');
      expect(o.msg).not.toMatch(/^tsvlm serve:/);
    }
    expect(objs.find((o) => o.type === 'access')).toMatchObject({ method: 'GET', path: '/v1/models', status: 200 });
    expect(objs.find((o) => o.url)?.url).toBe(url);
    expect(objs.find((o) => o.model === 'chat' && o.kind)).toMatchObject({ kind: 'chat', model_type: expect.any(String) });
  });
});
