// bench/serve: N concurrent streaming clients against `tsvlm serve` on a tiny model (a separate
// process on 127.0.0.1, so its RSS is its own). Per concurrency level: requests/s (and its ratio
// to 1 client, measured in the same run: the server serialises generations per model, so the
// ideal is 1.00), p50/p95 time to first token, 429s and other errors, and server RSS before/after.
// Expected: no errors while clients <= queue size + 1 (one running + queue waiting), 429s above it.
//
// Needs `npm run build` (imports dist/). Options:
//   --model DIR        a real chat model (default: a fake one emitting a token every --fake ms)
//   --fake MS          token interval of the fake model (default 5)
//   --clients LIST     concurrency levels, e.g. 1,2,5,10 (default: 1, 2, Q+1, 2(Q+1))
//   --queue-size Q     the server's queue bound (default 4)
//   --duration S       seconds per level (default 3, max 60)
//   --max-requests N   requests per client per level (default 40)
//   --max-tokens N     max_tokens per request (default 16)
//   --image PATH       send this image with every request (exercises the decode path)
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const argv = process.argv.slice(2);
const arg = (name, dflt) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : dflt;
};
const queueSize = Number(arg('queue-size', '4'));
const duration = Math.min(60, Number(arg('duration', '3')));
const maxRequests = Number(arg('max-requests', '40'));
const maxTokens = Number(arg('max-tokens', '16'));
const levels = (arg('clients') ?? `1,2,${queueSize + 1},${2 * (queueSize + 1)}`).split(',').map(Number);
if (levels.some((c) => !Number.isInteger(c) || c < 1 || c > 64)) throw new Error('--clients: integers from 1 to 64');
const imagePath = arg('image');
const imageUrl = imagePath ? `data:image/${imagePath.endsWith('.png') ? 'png' : 'jpeg'};base64,${readFileSync(imagePath).toString('base64')}` : undefined;

// ---- server process ----
const serverArgs = [join(here, 'server.mjs'), '--queue-size', String(queueSize), '--max-tokens-cap', String(Math.max(maxTokens, 16))];
if (arg('model')) serverArgs.push('--model', arg('model'));
else serverArgs.push('--fake', arg('fake', '5'));
const child = spawn(process.execPath, serverArgs, { stdio: ['ignore', 'pipe', 'inherit'] });
const firstLine = await new Promise((resolve, reject) => {
  const rl = createInterface({ input: child.stdout });
  rl.once('line', resolve);
  child.once('exit', (code) => reject(new Error(`bench server exited with code ${code} before listening`)));
});
const { port, model, modelType } = JSON.parse(firstLine);
const base = `http://127.0.0.1:${port}`;

function rssMiB(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

// ---- one streaming request ----
async function oneRequest() {
  const content = imageUrl
    ? [{ type: 'text', text: 'Describe the image.' }, { type: 'image_url', image_url: { url: imageUrl } }]
    : 'Say something.';
  const t0 = performance.now();
  const res = await fetch(`${base}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ model, messages: [{ role: 'user', content }], max_tokens: maxTokens, stream: true }),
  });
  if (res.status !== 200) {
    await res.text();
    return { status: res.status };
  }
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buf = '';
  let ttft;
  let tokens = 0;
  let failed = false;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += decoder.decode(value, { stream: true });
    let sep;
    while ((sep = buf.indexOf('\n\n')) >= 0) {
      const event = buf.slice(0, sep);
      buf = buf.slice(sep + 2);
      if (!event.startsWith('data: ')) continue; // SSE comments (keep-alive)
      const data = event.slice(6);
      if (data === '[DONE]') continue;
      const chunk = JSON.parse(data);
      if (chunk.error) failed = true;
      if (chunk.choices?.[0]?.delta?.content) {
        ttft ??= performance.now() - t0;
        tokens++;
      }
    }
  }
  return { status: failed ? 500 : 200, ttft, total: performance.now() - t0, tokens };
}

async function runLevel(clients) {
  const deadline = performance.now() + duration * 1000;
  const results = [];
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      for (let i = 0; i < maxRequests && performance.now() < deadline; i++) {
        try {
          results.push(await oneRequest());
        } catch (e) {
          results.push({ status: -1, error: e.message });
        }
      }
    }),
  );
  const wall = (performance.now() - t0) / 1000;
  const ok = results.filter((r) => r.status === 200);
  const ttfts = ok.map((r) => r.ttft).filter((x) => x !== undefined).sort((a, b) => a - b);
  const pct = (p) => (ttfts.length ? ttfts[Math.min(ttfts.length - 1, Math.floor((p / 100) * ttfts.length))] : NaN);
  return {
    clients,
    ok: ok.length,
    r429: results.filter((r) => r.status === 429).length,
    other: results.filter((r) => r.status !== 200 && r.status !== 429).length,
    rps: ok.length / wall,
    tokps: ok.reduce((s, r) => s + r.tokens, 0) / wall,
    p50: pct(50),
    p95: pct(95),
  };
}

try {
  await oneRequest(); // warm-up (first-request allocations, JIT)
  await oneRequest();
  const rssBefore = rssMiB(child.pid);
  const rows = [];
  for (const c of levels) rows.push(await runLevel(c));
  const rssAfter = rssMiB(child.pid);

  const ref = rows.find((r) => r.clients === 1)?.rps ?? rows[0].rps;
  const fmt = (x, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : '-');
  console.log(`\ntsvlm serve bench: model ${model} (${modelType}), queue ${queueSize}, max_tokens ${maxTokens}, ${duration} s per level${imageUrl ? ', with an image' : ''}`);
  console.log('clients | ok   | 429  | other | req/s  | vs 1 client | tok/s  | TTFT p50 ms | TTFT p95 ms');
  console.log('--------|------|------|-------|--------|-------------|--------|-------------|------------');
  for (const r of rows) {
    console.log(
      [
        String(r.clients).padStart(7),
        String(r.ok).padStart(4),
        String(r.r429).padStart(4),
        String(r.other).padStart(5),
        fmt(r.rps).padStart(6),
        fmt(r.rps / ref, 2).padStart(11),
        fmt(r.tokps).padStart(6),
        fmt(r.p50).padStart(11),
        fmt(r.p95).padStart(10),
      ].join(' | '),
    );
  }
  console.log(`server RSS: ${fmt(rssBefore)} MiB before, ${fmt(rssAfter)} MiB after (${fmt(rssAfter - rssBefore)} MiB)`);
  const bound = queueSize + 1;
  const under = rows.filter((r) => r.clients <= bound);
  const over = rows.filter((r) => r.clients > bound);
  const okUnder = under.every((r) => r.r429 === 0 && r.other === 0);
  const okOver = over.every((r) => r.r429 > 0 && r.other === 0);
  console.log(`errors with clients <= ${bound}: ${okUnder ? 'none (as expected)' : 'SOME (unexpected)'}`);
  if (over.length) console.log(`429s with clients > ${bound}: ${okOver ? 'yes, and no other errors (as expected)' : 'NOT as expected'}`);
  process.exitCode = okUnder && okOver ? 0 : 1;
} finally {
  child.kill('SIGTERM');
}
