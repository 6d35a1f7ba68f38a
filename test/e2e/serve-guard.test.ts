// DNS rebinding and cross-site requests (guard.ts): a Host that is not an IP literal, localhost or
// an allowed name is refused; POST bodies must be JSON; a foreign Origin is refused unless CORS
// allows it. Raw node:http requests, because fetch() cannot set Host.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseServeArgs } from '../../src/serve/cli.js';
import { createServer, type TsvlmServer } from '../../src/serve/server.js';
import { FakeChatModel, FakeEmbeddingModel } from '../helpers/fake-models.js';
import { rawRequest } from '../helpers/http.js';

const chatBody = JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 });

describe('serve: Host, content type and Origin checks', () => {
  let server: TsvlmServer;
  let url: string;
  let chat: FakeChatModel;
  beforeAll(async () => {
    chat = new FakeChatModel({ tokenDelayMs: 0 });
    server = createServer({
      models: [
        { name: 'chat', model: chat },
        { name: 'embed', model: new FakeEmbeddingModel() },
      ],
      allowedHosts: ['tsvlm.lan', '.internal.example'],
    });
    url = (await server.listen('127.0.0.1', 0)).url;
  });
  afterAll(() => server.close());

  const port = () => new URL(url).port;

  it('serves IP literals, localhost names and allowed names', async () => {
    for (const host of [`127.0.0.1:${port()}`, `localhost:${port()}`, 'LOCALHOST', `app.localhost:${port()}`, '[::1]:1', 'tsvlm.lan', 'a.internal.example', 'internal.example']) {
      const r = await rawRequest(url, { path: '/health', headers: { Host: host } });
      expect(r.status, host).toBe(200);
    }
  });

  it('refuses a rebound name on every route (403 host_not_allowed), before the model runs', async () => {
    const calls = chat.calls.length;
    for (const [method, path] of [['GET', '/health'], ['GET', '/v1/models'], ['GET', '/'], ['POST', '/v1/chat/completions']] as const) {
      const r = await rawRequest(url, {
        method,
        path,
        headers: { Host: `attacker.example:${port()}`, 'Content-Type': 'application/json' },
        ...(method === 'POST' ? { body: chatBody } : {}),
      });
      expect(r.status, path).toBe(403);
      expect(r.json.error.code).toBe('host_not_allowed');
      expect(r.json.error.message).toMatch(/--allowed-hosts attacker\.example/);
    }
    expect(chat.calls.length).toBe(calls);
    const evil = await rawRequest(url, { path: '/health', headers: { Host: 'tsvlm.lan.attacker.example' } });
    expect(evil.status).toBe(403);
  });

  it('refuses POST bodies that are not application/json (415), before the model runs', async () => {
    const calls = chat.calls.length;
    for (const ct of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', undefined]) {
      const r = await rawRequest(url, { method: 'POST', path: '/v1/chat/completions', headers: ct ? { 'Content-Type': ct } : {}, body: chatBody });
      expect(r.status, String(ct)).toBe(415);
      expect(r.json.error.code).toBe('unsupported_media_type');
    }
    expect(chat.calls.length).toBe(calls);
    const ok = await rawRequest(url, { method: 'POST', path: '/v1/chat/completions', headers: { 'Content-Type': 'application/json; charset=utf-8' }, body: chatBody });
    expect(ok.status).toBe(200);
  });

  it('refuses a foreign Origin when CORS is off, serves its own', async () => {
    const foreign = await rawRequest(url, { method: 'POST', path: '/v1/chat/completions', headers: { 'Content-Type': 'application/json', Origin: 'http://evil.example' }, body: chatBody });
    expect(foreign.status).toBe(403);
    expect(foreign.json.error.code).toBe('origin_not_allowed');
    const nul = await rawRequest(url, { path: '/v1/models', headers: { Origin: 'null' } });
    expect(nul.status).toBe(403);
    const own = await rawRequest(url, { method: 'POST', path: '/v1/chat/completions', headers: { 'Content-Type': 'application/json', Origin: url }, body: chatBody });
    expect(own.status).toBe(200);
  });

  it('with --cors, allows the listed origin and still refuses others', async () => {
    const s = createServer({ models: [{ name: 'chat', model: new FakeChatModel({ tokenDelayMs: 0 }) }], cors: 'http://app.example' });
    const u = (await s.listen('127.0.0.1', 0)).url;
    try {
      const ok = await rawRequest(u, { method: 'POST', path: '/v1/chat/completions', headers: { 'Content-Type': 'application/json', Origin: 'http://app.example' }, body: chatBody });
      expect(ok.status).toBe(200);
      expect(ok.headers['access-control-allow-origin']).toBe('http://app.example');
      const other = await rawRequest(u, { path: '/v1/models', headers: { Origin: 'http://evil.example' } });
      expect(other.status).toBe(403);
    } finally {
      await s.close();
    }
  });

  it('serves the name it is bound to', async () => {
    const s = createServer({ models: [{ name: 'chat', model: new FakeChatModel({ tokenDelayMs: 0 }) }] });
    const info = await s.listen('localhost', 0);
    try {
      const r = await rawRequest(info.url, { path: '/health', headers: { Host: `localhost:${info.port}` } });
      expect(r.status).toBe(200);
    } finally {
      await s.close();
    }
  });
});

describe('serve CLI flags for the guard and the connection limits', () => {
  it('parses --allowed-hosts (comma-separated, repeatable), --max-connections and --body-timeout-ms', () => {
    const a = parseServeArgs(['--model', '/m/a', '--allowed-hosts', 'a.lan, .b.example', '--allowed-hosts=c', '--max-connections', '9', '--body-timeout-ms=1500'], {});
    expect(a.allowedHosts).toEqual(['a.lan', '.b.example', 'c']);
    expect(a.limits).toMatchObject({ maxConnections: 9, bodyTimeoutMs: 1500 });
  });
});
