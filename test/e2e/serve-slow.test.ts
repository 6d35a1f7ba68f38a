// Slow and idle clients cannot hold the server: a body sent a byte at a time is answered 408 once
// bodyTimeoutMs has passed, and connections over maxConnections are closed as they arrive.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type TsvlmServer } from '../../src/serve/server.js';
import { FakeChatModel } from '../helpers/fake-models.js';
import { rawRequest } from '../helpers/http.js';

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => resolve(s));
    s.on('error', reject);
  });
}

/** Everything the server sends until it closes the socket (or `ms` pass). */
function readAll(s: net.Socket, ms: number): Promise<{ text: string; closed: boolean; elapsed: number }> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    let text = '';
    const timer = setTimeout(() => resolve({ text, closed: false, elapsed: performance.now() - t0 }), ms);
    s.on('data', (d) => (text += d.toString('latin1')));
    s.on('close', () => {
      clearTimeout(timer);
      resolve({ text, closed: true, elapsed: performance.now() - t0 });
    });
    s.on('error', () => {});
  });
}

describe('serve: slow clients', () => {
  let server: TsvlmServer;
  let port: number;
  beforeAll(async () => {
    server = createServer({
      models: [{ name: 'chat', model: new FakeChatModel({ tokenDelayMs: 0 }) }],
      limits: { bodyTimeoutMs: 800, maxConnections: 4 },
    });
    port = (await server.listen('127.0.0.1', 0)).port;
  });
  afterAll(() => server.close());

  it('answers 408 to a body that trickles in, and closes the connection', async () => {
    const s = await connect(port);
    s.write(`POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"model":`);
    const drip = setInterval(() => s.writable && s.write(' '), 100);
    const r = await readAll(s, 10_000);
    clearInterval(drip);
    s.destroy();
    expect(r.text, r.text).toMatch(/^HTTP\/1\.1 408/);
    expect(r.text).toMatch(/body_timeout/);
    expect(r.closed).toBe(true);
    expect(r.elapsed).toBeLessThan(5000);
  });

  it('closes connections over the cap as they arrive, and serves again once they are gone', async () => {
    const held = await Promise.all(Array.from({ length: 4 }, () => connect(port)));
    for (const s of held) s.write('GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n'); // headers never finished
    await new Promise((r) => setTimeout(r, 100));
    const extra = await connect(port);
    extra.write('GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
    const r = await readAll(extra, 3000);
    expect(r.closed).toBe(true);
    expect(r.text).toBe('');
    for (const s of held) s.destroy();
    await new Promise((r) => setTimeout(r, 100));
    const ok = await rawRequest(`http://127.0.0.1:${port}`, { path: '/health' });
    expect(ok.status).toBe(200);
  });
});
