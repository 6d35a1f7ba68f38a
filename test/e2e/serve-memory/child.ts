// Child of serve-memory.test.ts: a server with a slow fake embedding model, and N concurrent
// embeddings requests of M all-black W×H PNGs each. Prints {baseline, peak} RSS in bytes (sampled
// every 2 ms) as JSON. argv: requests images width height
import sharp from 'sharp';
import { createServer } from '../../../src/serve/server.js';
import { FakeEmbeddingModel } from '../../helpers/fake-models.js';

const [requests, images, width, height] = process.argv.slice(2).map(Number) as [number, number, number, number];
const png = await sharp({ create: { width, height, channels: 3, background: '#000000' } }).png().toBuffer();
const url = `data:image/png;base64,${png.toString('base64')}`;
const server = createServer({
  models: [{ name: 'embed', model: new FakeEmbeddingModel({ delayMs: 150 }) }],
  queueSize: requests,
  maxImagesPerRequest: images,
  maxImagePixels: width * height,
});
const { url: base } = await server.listen('127.0.0.1', 0);
const body = JSON.stringify({ model: 'embed', input: Array.from({ length: images }, () => url) });
// Warm up (sharp, the routes), then settle and take the baseline.
await fetch(`${base}/v1/embeddings`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ model: 'embed', input: [url] }) });
(globalThis as { gc?: () => void }).gc?.();
await new Promise((r) => setTimeout(r, 200));
const baseline = process.memoryUsage().rss;
let peak = baseline;
const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 2);
const statuses = await Promise.all(
  Array.from({ length: requests }, () =>
    fetch(`${base}/v1/embeddings`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body }).then(async (r) => {
      await r.arrayBuffer();
      return r.status;
    }),
  ),
);
clearInterval(sampler);
await server.close();
console.log(JSON.stringify({ baseline, peak, statuses, bodyBytes: body.length }));
