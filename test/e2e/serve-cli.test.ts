// `tsvlm serve` front end: flag parsing, model loading through the injected loader, listening on
// loopback, CORS/key options reaching the server, and clean shutdown on a signal (exit code 0).
import { basename } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { LoadOptions, Model } from '../../src/api.js';
import { parseServeArgs, runServe, UsageError } from '../../src/serve/cli.js';
import type { ListenInfo } from '../../src/serve/server.js';
import { FakeChatModel, FakeEmbeddingModel } from '../helpers/fake-models.js';

/** Loads fakes: folders whose name contains "embed" become embedding models. */
function fakeLoader() {
  const loaded: Array<{ dir: string; opts?: LoadOptions; model: Model }> = [];
  const load = async (dir: string, opts?: LoadOptions): Promise<Model> => {
    if (dir.includes('missing')) throw new Error(`${dir}: config.json not found`);
    const name = opts?.name ?? basename(dir);
    const model = dir.includes('embed') ? new FakeEmbeddingModel({ name }) : new FakeChatModel({ name });
    loaded.push({ dir, ...(opts ? { opts } : {}), model });
    return model;
  };
  return { load, loaded };
}

function quiet() {
  const lines: string[] = [];
  return { lines, out: (s: string) => lines.push(s), err: (s: string) => lines.push(`ERR ${s}`) };
}

/** Starts runServe and resolves once it listens. */
async function start(argv: string[], extra: { signals?: NodeJS.Signals[] } = {}) {
  const { load, loaded } = fakeLoader();
  const io = quiet();
  const stop = new AbortController();
  let onListen!: (info: ListenInfo) => void;
  const listening = new Promise<ListenInfo>((r) => (onListen = r));
  const done = runServe(argv, load, { ...io, stop: stop.signal, onListening: (info) => onListen(info), ...extra });
  const info = await Promise.race([listening, done.then((code) => Promise.reject(new Error(`exited ${code}: ${io.lines.join('\n')}`)))]);
  return { info, done, stop, loaded, lines: io.lines };
}

describe('tsvlm serve: flags', () => {
  it('--dtype passes q8/q4 through and rejects other values', () => {
    expect(parseServeArgs(['--model', '/m/a', '--dtype', 'q4'], {}).dtype).toBe('q4');
    expect(() => parseServeArgs(['--model', '/m/a', '--dtype', 'int3'], {})).toThrow(/--dtype expects fp32, fp16, q8 or q4/);
    expect(parseServeArgs(['--model', '/m/a', '--attention', 'gqa'], {}).attention).toBe('gqa');
    expect(() => parseServeArgs(['--model', '/m/a', '--attention', 'flash'], {})).toThrow(/--attention expects ops or gqa/);
    expect(parseServeArgs(['--model', '/m/a', '--quant-block', '64'], {}).quantBlockSize).toBe(64);
    expect(() => parseServeArgs(['--model', '/m/a', '--quant-block', '16'], {})).toThrow(/--quant-block expects 32, 64 or 128/);
    const drawing = parseServeArgs(['--model', '/m/seed-llama', '--image-tokenizer', '/m/seed-tokenizer-2', '--diffusion', '/m/unclip', '--max-drawn-images', '2'], {});
    expect([drawing.imageTokenizer, drawing.diffusion, drawing.limits.maxDrawnImages]).toEqual(['/m/seed-tokenizer-2', '/m/unclip', 2]);
    expect(() => parseServeArgs(['--max-drawn-images', '0'], {})).toThrow(/--max-drawn-images expects an integer from 1/);
  });

  it('defaults to loopback:8080 and names models after their folder or NAME=', () => {
    const a = parseServeArgs(['--model', '/m/sail-tiny', '--model', 'emb=/m/siglip'], {});
    expect(a.host).toBe('127.0.0.1');
    expect(a.port).toBe(8080);
    expect(a.models).toEqual([
      { name: 'sail-tiny', dir: '/m/sail-tiny' },
      { name: 'emb', dir: '/m/siglip' },
    ]);
    expect(a.apiKey).toBeUndefined();
    expect(a.cors).toBeUndefined();
  });

  it('reads every option, in both --flag value and --flag=value forms', () => {
    const a = parseServeArgs(
      ['--model=/m/a', '--host', '0.0.0.0', '--port=0', '--api-key', 'k', '--image-dir', '/tmp', '--cors', 'http://x', '--cors=http://y',
        '--device', 'webgpu', '--queue-size', '0', '--max-tokens-cap', '99', '--max-images', '3', '--max-image-pixels', '1000', '--max-body-bytes', '5000'],
      {},
    );
    expect(a).toMatchObject({
      host: '0.0.0.0',
      port: 0,
      apiKey: 'k',
      imageDir: '/tmp',
      cors: ['http://x', 'http://y'],
      device: 'webgpu',
      limits: { queueSize: 0, maxTokensCap: 99, maxImagesPerRequest: 3, maxImagePixels: 1000, maxBodyBytes: 5000 },
    });
    expect(parseServeArgs(['--model', '/m/a'], { TSVLM_API_KEY: 'from-env' }).apiKey).toBe('from-env');
  });

  it('refuses bad usage with a message that says what to do', () => {
    const bad: Array<[string[], RegExp]> = [
      [[], /at least one --model/],
      [['--model'], /--model needs a value/],
      [['--model', '/m/a', '--port', '70000'], /--port expects an integer/],
      [['--model', '/m/a', '--port', 'abc'], /--port/],
      [['--model', '/m/a', '--bogus'], /unknown option "--bogus"/],
      [['--model', '/m/a', '--model', '/n/a'], /two models are named "a"/],
      [['--model', '/m/a', '--device', 'tpu'], /cpu or webgpu/],
      [['--model', '/m/a', '--max-images', '0'], /--max-images expects an integer from 1/],
      [['--model', 'x='], /folder after "=" is missing/],
    ];
    for (const [argv, msg] of bad) {
      expect(() => parseServeArgs(argv, {}), argv.join(' ')).toThrow(UsageError);
      expect(() => parseServeArgs(argv, {})).toThrow(msg);
    }
  });
});

describe('tsvlm serve: runServe', () => {
  it('loads the models, serves them with the options given, and exits 0 when stopped', async () => {
    const s = await start(['--model', 'chat=/m/chat', '--model', '/m/embed-tiny', '--port', '0', '--api-key', 'k1', '--cors', 'http://app.example']);
    expect(s.info.host).toBe('127.0.0.1');
    expect(s.loaded.map((l) => l.opts?.name)).toEqual(['chat', 'embed-tiny']);
    const auth = { Authorization: 'Bearer k1' };
    const models = await (await fetch(`${s.info.url}/v1/models`, { headers: auth })).json();
    expect(models.data.map((m: any) => [m.id, m.kind])).toEqual([
      ['chat', 'chat'],
      ['embed-tiny', 'embedding'],
    ]);
    expect((await fetch(`${s.info.url}/v1/models`)).status).toBe(401);
    const pre = await fetch(`${s.info.url}/v1/chat/completions`, {
      method: 'OPTIONS',
      headers: { Origin: 'http://app.example', 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'authorization,content-type' },
    });
    expect(pre.headers.get('access-control-allow-origin')).toBe('http://app.example');
    expect(pre.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('authorization');
    s.stop.abort();
    expect(await s.done).toBe(0);
    expect(s.loaded.every((l) => (l.model as FakeChatModel | FakeEmbeddingModel).disposed)).toBe(true);
    await expect(fetch(`${s.info.url}/health`)).rejects.toThrow();
  });

  it('shuts down on a signal, aborting a generation in progress', async () => {
    const s = await start(['--model', '/m/chat', '--port', '0'], { signals: ['SIGUSR2'] });
    const chat = s.loaded[0]!.model as FakeChatModel;
    const res = await fetch(`${s.info.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: '/long' }], max_tokens: 4000, stream: true }),
    });
    const reader = res.body!.getReader();
    await reader.read();
    // Emitting the event runs the server's handler exactly as a delivered signal would.
    process.emit('SIGUSR2' as any);
    let text = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    expect(text).toMatch(/shutting down/);
    expect(await s.done).toBe(0);
    expect(chat.calls[0]!.aborted).toBe(true);
    expect(chat.disposed).toBe(true);
    expect(process.listenerCount('SIGUSR2')).toBe(0);
  });

  it('exits 1 when a model fails to load (disposing those already loaded) or the port is taken', async () => {
    const { load, loaded } = fakeLoader();
    const io = quiet();
    expect(await runServe(['--model', '/m/chat', '--model', '/m/missing', '--port', '0'], load, io)).toBe(1);
    expect(io.lines.some((l) => /ERR .*missing: config.json not found/.test(l))).toBe(true);
    expect((loaded[0]!.model as FakeChatModel).disposed).toBe(true);

    const s = await start(['--model', '/m/chat', '--port', '0']);
    const io2 = quiet();
    expect(await runServe(['--model', '/m/chat', '--port', String(s.info.port)], fakeLoader().load, io2)).toBe(1);
    expect(io2.lines.join('\n')).toMatch(/port \d+ is in use/);
    s.stop.abort();
    expect(await s.done).toBe(0);
  });

  it('exits 2 on bad usage and 0 for --help', async () => {
    const io = quiet();
    expect(await runServe(['--port', '1'], fakeLoader().load, io)).toBe(2);
    expect(io.lines[0]).toMatch(/ERR tsvlm serve: at least one --model/);
    const help = quiet();
    expect(await runServe(['--help'], fakeLoader().load, help)).toBe(0);
    expect(help.lines[0]).toMatch(/Usage: tsvlm serve/);
  });
});
