// The fuzz suites: the HTTP server (fake models, loopback), safetensors headers, config.json
// numbers (real loads of llama-tiny), chat templates and image bytes. Each case's outcome goes into
// a Tally (harness.ts). Bounded: `count` cases per suite, a deadline per case, an RSS ceiling.
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import sharp from 'sharp';
import { loadModel } from '../../src/index.js';
import { SafetensorsFile, writeSafetensors } from '../../src/io/safetensors.js';
import { decodeImage } from '../../src/processors/image.js';
import { createServer } from '../../src/serve/server.js';
import { renderChatTemplate } from '../../src/tokenizers/chat-template.js';
import { FakeChatModel, FakeEmbeddingModel } from '../helpers/fake-models.js';
import { FIXTURES_ROOT } from '../helpers/fixtures.js';
import { rawRequest } from '../helpers/http.js';
import { type Rng, type Tally, record, rng, weirdValue, within } from './harness.js';

const root = resolve(__dirname, '../..');
const CLEAR_ERRORS = new Set(['CheckpointError', 'SafetensorsError', 'TokenizerLoadError', 'InputError', 'FileKindError', 'ChatTemplateError', 'WeightsChangedError']);
/** RSS growth over the suite's start that counts as "over memory". */
const MEMORY_CEILING = 768 * 2 ** 20;

function mutate(r: Rng, bytes: Buffer): Buffer {
  const b = Buffer.from(bytes);
  switch (r.int(4)) {
    case 0: // bit flips
      for (let i = 0, n = 1 + r.int(8); i < n; i++) b[r.int(b.length)]! ^= 1 << r.int(8);
      return b;
    case 1: // truncation
      return b.subarray(0, r.int(b.length));
    case 2: // a header field set to extremes (PNG width/height at 16, 20; JPEG anywhere)
      b.writeUInt32BE(r.pick([0, 1, 0x7fffffff, 0xffffffff, 100000]), Math.min(b.length - 4, r.pick([16, 20, r.int(Math.max(1, b.length - 4))])));
      return b;
    default: // garbage appended or spliced
      return Buffer.concat([b.subarray(0, r.int(b.length)), r.bytes(r.int(200)), b.subarray(r.int(b.length))]);
  }
}

// ---------------------------------------------------------------- server

export async function fuzzServer(t: Tally, seed: number, count: number, caseMs = 10_000): Promise<void> {
  const r = rng(seed);
  const work = mkdtempSync(join(tmpdir(), 'tsvlm-fuzz-serve-'));
  const imagesDir = join(work, 'images');
  mkdirSync(imagesDir);
  const png = await sharp({ create: { width: 32, height: 24, channels: 3, background: '#808080' } }).png().toBuffer();
  const jpeg = await sharp({ create: { width: 40, height: 30, channels: 3, background: '#203040' } }).jpeg().toBuffer();
  writeFileSync(join(imagesDir, 'a.png'), png);
  const server = createServer({
    models: [
      { name: 'chat', model: new FakeChatModel({ tokenDelayMs: 0, contextLength: 256 }) },
      { name: 'embed', model: new FakeEmbeddingModel({ delayMs: 0 }) },
    ],
    localImageDir: imagesDir,
    maxBodyBytes: 1 << 20,
    maxImagePixels: 1_000_000,
    limits: { bodyTimeoutMs: 2000, maxTextChars: 100_000 },
  });
  const { url } = await server.listen('127.0.0.1', 0);
  const rss0 = process.memoryUsage().rss;
  const dataUrl = (b: Buffer, mime = 'image/png') => `data:${mime};base64,${b.toString('base64')}`;
  const validChat = () => ({ model: 'chat', max_tokens: 8, messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }, { type: 'image_url', image_url: { url: dataUrl(png) } }] }] });
  type Case = { cls: string; method?: string; path: string; headers?: Record<string, string>; body?: string | Buffer };
  const json = { 'Content-Type': 'application/json' };
  const gens: Array<() => Case> = [
    () => ({ cls: 'body: random bytes', method: 'POST', path: r.pick(['/v1/chat/completions', '/v1/embeddings', '/v1/classify']), headers: json, body: r.bytes(r.int(2000)) }),
    () => ({ cls: 'body: deep or huge JSON', method: 'POST', path: '/v1/chat/completions', headers: json, body: r.bool() ? '['.repeat(r.int(200_000)) : JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'y'.repeat(r.int(1_100_000)) }] }) }),
    () => ({ cls: 'chat: random structure', method: 'POST', path: '/v1/chat/completions', headers: json, body: JSON.stringify({ model: r.pick(['chat', 'embed', weirdValue(r)]), messages: weirdValue(r), ...(r.bool() ? { stream: weirdValue(r) } : {}) }) }),
    () => {
      const body: Record<string, unknown> = validChat();
      body[r.pick(['max_tokens', 'temperature', 'top_p', 'stop', 'seed', 'n', 'stream', 'stream_options', 'top_k', 'messages', 'model', 'logit_bias', 'response_format'])] = weirdValue(r);
      return { cls: 'chat: one field mutated', method: 'POST', path: '/v1/chat/completions', headers: json, body: JSON.stringify(body) };
    },
    () => {
      const src = r.bool() ? png : jpeg;
      const url = r.int(5) === 0 ? r.pick(['file://' + join(imagesDir, 'a.png'), 'file://' + join(imagesDir, '../../../etc/passwd'), 'file:///proc/self/environ', 'file://' + imagesDir]) : dataUrl(mutate(r, src), r.pick(['image/png', 'image/jpeg', 'image/gif']));
      return { cls: 'chat: image bytes mutated', method: 'POST', path: '/v1/chat/completions', headers: json, body: JSON.stringify({ model: 'chat', max_tokens: 4, stream: r.bool(), messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url } }] }] }) };
    },
    () => ({ cls: 'embeddings: random input', method: 'POST', path: '/v1/embeddings', headers: json, body: JSON.stringify({ model: 'embed', input: r.bool() ? weirdValue(r) : Array.from({ length: r.int(300) }, () => (r.bool(0.2) ? dataUrl(mutate(r, png)) : 'z'.repeat(r.int(3000)))), encoding_format: r.pick(['float', 'base64', weirdValue(r)]) }) }),
    () => ({ cls: 'classify: random', method: 'POST', path: '/v1/classify', headers: json, body: JSON.stringify({ model: 'embed', image: r.bool() ? dataUrl(mutate(r, png)) : weirdValue(r), labels: r.bool() ? weirdValue(r) : Array.from({ length: r.int(120) }, () => 'l'.repeat(r.int(1100))) }) }),
    () => ({
      cls: 'headers: Host / Origin / type',
      method: 'POST',
      path: r.pick(['/v1/embeddings', '/v1/classify', '/v1/chat/completions']),
      headers: {
        Host: r.pick(['127.0.0.1', 'localhost:1', 'evil.example', '[::1]', '', 'a'.repeat(300), 'x.localhost', '127.0.0.1:99999']),
        ...(r.bool() ? { Origin: r.pick(['null', 'http://evil.example', 'http://127.0.0.1', 'garbage']) } : {}),
        'Content-Type': r.pick(['application/json', 'text/plain', 'application/x-www-form-urlencoded', 'application/json; charset=latin1', 'multipart/form-data']),
      },
      body: JSON.stringify(validChat()),
    }),
    () => ({ cls: 'paths and methods', method: r.pick(['GET', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH']), path: r.pick(['/', '/v1/models/' + encodeURIComponent(String(weirdValue(r))), '/../../etc/passwd', '/%2e%2e/%2e%2e/etc/passwd', '/v1/models/__proto__', '/app.js', '/v1/' + 'a/'.repeat(500)]) }),
  ];
  try {
    for (let i = 0; i < count; i++) {
      const c = gens[i % gens.length]!();
      const label = `${c.method ?? 'GET'} ${c.path.slice(0, 60)} ${String(c.body ?? '').slice(0, 120)}`;
      let outcome: 'clear error' | 'accepted' | 'crash' | 'hang';
      try {
        const res = await within(rawRequest(url, { method: c.method, path: c.path, headers: c.headers, body: c.body }), caseMs);
        if (res === 'hang') outcome = 'hang';
        else if (res.status >= 500) outcome = 'crash';
        else if (res.status >= 400) {
          // A clear error: OpenAI's shape with a message; also the HTTP layer's own bare
          // "400 Bad Request" for a request it cannot parse (e.g. Host "127.0.0.1:99999").
          outcome = res.json?.error?.message || (res.status === 400 && res.text === '') ? 'clear error' : 'crash';
        } else outcome = 'accepted';
      } catch (e) {
        // The server closing a connection it refuses (over the connection cap) never happens here;
        // a reset is a crash.
        outcome = 'crash';
        c.cls += '';
        record(t, c.cls, outcome, `${label} → ${(e as Error).message}`);
        continue;
      }
      record(t, c.cls, outcome, label);
      if (i % 25 === 24) {
        const health = await within(rawRequest(url, { path: '/health' }), caseMs);
        if (health === 'hang' || health.status !== 200) record(t, 'server health', health === 'hang' ? 'hang' : 'crash', `after case ${i}`);
        if (process.memoryUsage().rss - rss0 > MEMORY_CEILING) record(t, c.cls, 'over memory', `rss ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB after case ${i}`);
      }
    }
  } finally {
    await server.close();
    rmSync(work, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------- checkpoints

function classify(e: unknown): 'clear error' | 'crash' {
  return e instanceof Error && CLEAR_ERRORS.has(e.name) && /\.json|\.safetensors|config|tensor|header|chat template/.test(e.message) ? 'clear error' : 'crash';
}

export async function fuzzSafetensors(t: Tally, seed: number, count: number): Promise<void> {
  const r = rng(seed);
  const work = mkdtempSync(join(tmpdir(), 'tsvlm-fuzz-st-'));
  try {
    for (let i = 0; i < count; i++) {
      const p = join(work, `f${i}.safetensors`);
      const header: Record<string, any> = {};
      let off = 0;
      for (let k = 0, n = 1 + r.int(4); k < n; k++) {
        const len = 4 * (1 + r.int(8));
        header[`t${k}`] = { dtype: 'F32', shape: [len / 4], data_offsets: [off, off + len] };
        off += len;
      }
      // Mutate one thing: offsets, dtype, shape, or the header length field.
      const name = r.pick(Object.keys(header));
      const e = header[name];
      let lengthDelta = 0;
      switch (r.int(6)) {
        case 0: e.data_offsets = [e.data_offsets[0] + r.pick([-4, -1, 1, 4, 1e12]), e.data_offsets[1]]; break;
        case 1: e.data_offsets = weirdValue(r); break;
        case 2: e.dtype = r.pick(['F8', 'BF16', 'I64', 'BOOL', '', weirdValue(r)]); break;
        case 3: e.shape = r.bool() ? weirdValue(r) : [r.pick([-1, 0, 2 ** 40, 1.5])]; break;
        case 4: lengthDelta = r.pick([-1, 1, -8, 8, 1e6]); break;
        default: header.__metadata__ = weirdValue(r);
      }
      const json = Buffer.from(JSON.stringify(header));
      const len = Buffer.alloc(8);
      len.writeBigUInt64LE(BigInt(Math.max(0, json.length + lengthDelta)));
      writeFileSync(p, Buffer.concat([len, json, Buffer.alloc(off)]));
      try {
        const f = SafetensorsFile.open(p);
        for (const n of f.tensors.keys()) f.readBytes(n);
        record(t, 'safetensors header mutated', 'accepted');
      } catch (err) {
        record(t, 'safetensors header mutated', classify(err), `${JSON.stringify(header).slice(0, 200)} → ${(err as Error).message}`);
      }
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

export async function fuzzConfigs(t: Tally, seed: number, count: number, caseMs = 30_000): Promise<void> {
  const r = rng(seed);
  const work = mkdtempSync(join(tmpdir(), 'tsvlm-fuzz-cfg-'));
  const base = JSON.parse(readFileSync(join(FIXTURES_ROOT, 'llama-tiny', 'config.json'), 'utf8'));
  const fields = ['num_hidden_layers', 'hidden_size', 'num_attention_heads', 'num_key_value_heads', 'head_dim', 'intermediate_size', 'vocab_size', 'rms_norm_eps', 'rope_theta', 'max_position_embeddings', 'model_type', 'rope_parameters', 'tie_word_embeddings'];
  try {
    for (let i = 0; i < count; i++) {
      const dir = join(work, `m${i}`);
      cpSync(join(root, 'test/data/e2e-tokenizers/llama-tiny'), dir, { recursive: true });
      symlinkSync(join(FIXTURES_ROOT, 'llama-tiny', 'model.safetensors'), join(dir, 'model.safetensors'));
      const cfg = structuredClone(base);
      const field = fields[i % fields.length]!;
      cfg[field] = r.bool(0.6) ? r.pick([0, -1, 1.5, 1e9, 2 ** 31, '64', null, 1e-30, Number.MAX_SAFE_INTEGER, 3]) : weirdValue(r);
      if (field === 'rope_theta') cfg.rope_parameters = { rope_type: 'default', rope_theta: cfg.rope_theta };
      writeFileSync(join(dir, 'config.json'), JSON.stringify(cfg));
      const cls = 'config.json field mutated';
      const t0 = performance.now();
      try {
        const m = await within(loadModel(dir), caseMs);
        if (m === 'hang') record(t, cls, 'hang', `${field}=${JSON.stringify(cfg[field])}`);
        else {
          await m.dispose();
          record(t, cls, 'accepted');
        }
      } catch (err) {
        record(t, cls, classify(err), `${field}=${JSON.stringify(cfg[field]).slice(0, 80)} → ${(err as Error).name}: ${(err as Error).message}`);
      }
      if (performance.now() - t0 > caseMs) record(t, cls, 'hang', `${field} took ${(performance.now() - t0).toFixed(0)} ms`);
      rmSync(dir, { recursive: true, force: true });
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

export function fuzzTemplates(t: Tally, seed: number, count: number, caseMs = 5000): void {
  const r = rng(seed);
  const pieces = [
    () => `{% for i in range(${r.pick([10, 1000, 100000, 10 ** 8, -5])}) %}${r.pick(['', '{{ i }}', 'x'])}{% endfor %}`,
    () => `{% set ns = namespace(s='${'ab'.repeat(r.int(8) + 1)}') %}{% for i in range(${r.int(40)}) %}{% set ns.s = ns.s + ns.s %}{% endfor %}{{ ns.s|length }}`,
    () => `{% macro f(n) %}{% if n > 0 %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(${r.int(30)}) }}`,
    () => `{{ raise_exception('${r.pick(['roles must alternate', 'bad'])}') }}`,
    () => `{% for m in messages %}{{ m.role }}: {{ m.content }}{% endfor %}`,
    () => `{{ ${r.pick(['messages[0].content * 3', 'messages|length', 'undefined_var.x', '1/0', '"a" ~ 1', 'messages[99].x'])} }}`,
    () => `{% for a in range(${r.int(3000)}) %}{% for b in range(${r.int(3000)}) %}{% endfor %}{% endfor %}`,
    () => r.bytes(r.int(100)).toString('latin1'),
    () => `{{ ${'('.repeat(r.int(2000))}1${')'.repeat(r.int(2000))} }}`,
  ];
  for (let i = 0; i < count; i++) {
    const src = pieces[i % pieces.length]!();
    const t0 = performance.now();
    try {
      renderChatTemplate(src, [{ role: 'user', content: 'hi' }], { bos_token: '<s>' }, { addGenerationPrompt: true });
      record(t, 'chat template', 'accepted');
    } catch (err) {
      const ok = err instanceof Error && err.name === 'ChatTemplateError';
      record(t, 'chat template', ok ? 'clear error' : 'crash', `${src.slice(0, 100)} → ${(err as Error).name}: ${(err as Error).message.slice(0, 100)}`);
    }
    if (performance.now() - t0 > caseMs) record(t, 'chat template', 'hang', `${src.slice(0, 100)} took ${(performance.now() - t0).toFixed(0)} ms`);
  }
}

export async function fuzzImages(t: Tally, seed: number, count: number, caseMs = 10_000): Promise<void> {
  const r = rng(seed);
  const sources = await Promise.all([
    sharp({ create: { width: 64, height: 48, channels: 3, background: '#123456' } }).png().toBuffer(),
    sharp({ create: { width: 64, height: 48, channels: 4, background: '#12345680' } }).png().toBuffer(),
    sharp({ create: { width: 64, height: 48, channels: 3, background: '#654321' } }).jpeg().toBuffer(),
    sharp({ create: { width: 64, height: 48, channels: 3, background: '#abcdef' } }).webp().toBuffer(),
    sharp({ create: { width: 64, height: 48, channels: 3, background: '#fedcba' } }).gif().toBuffer(),
  ]);
  for (let i = 0; i < count; i++) {
    const bytes = mutate(r, sources[i % sources.length]!);
    try {
      const res = await within(decodeImage(new Uint8Array(bytes), { maxPixels: 4_000_000 }), caseMs);
      record(t, 'image bytes mutated (engine decoder)', res === 'hang' ? 'hang' : 'accepted', res === 'hang' ? bytes.subarray(0, 40).toString('hex') : undefined);
    } catch (err) {
      const ok = err instanceof Error && err.name === 'InputError';
      record(t, 'image bytes mutated (engine decoder)', ok ? 'clear error' : 'crash', `${bytes.subarray(0, 40).toString('hex')} → ${(err as Error).name}: ${(err as Error).message}`);
    }
  }
}

export { writeSafetensors };
