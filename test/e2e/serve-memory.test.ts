// Memory amplification: images are decoded only when a request's turn comes (images.ts
// checkedImageBytes / decodeImageBytes), so queued requests hold their encoded bytes only. The
// issue's case scaled down: 9 concurrent embeddings requests, each with 8 all-black PNGs of
// 1500×1500 (6.75 MB decoded each). Decoded while queued, 72 images (486 MB) were alive at once;
// now at most one request's 8 (54 MB). Bound checked: the formula of src/serve/README.md,
//   extra RSS ≤ 4 × maxImagesPerRequest × maxImagePixels × 3 (decoded pixels + the decoder's and
//               the model's working copies, for the one running request per model)
//             + (queueSize + 1) × 4 × body bytes + 64 MB (allocator and sharp slack).
// Measured here: ~230 MiB extra (bound 280 MiB); decoding while queued: ~540 MiB.
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(__dirname, '../..');

describe('serve memory', () => {
  it('keeps decoded images of queued requests out of memory (RSS within the documented bound)', () => {
    const [requests, images, w, h] = [9, 8, 1500, 1500];
    const r = spawnSync(
      process.execPath,
      ['--expose-gc', join(root, 'node_modules/vite-node/vite-node.mjs'), join(__dirname, 'serve-memory/child.ts'), ...[requests, images, w, h].map(String)],
      { cwd: root, encoding: 'utf8', timeout: 120_000 },
    );
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { baseline: number; peak: number; statuses: number[]; bodyBytes: number };
    expect(out.statuses).toEqual(Array(requests).fill(200));
    const extra = out.peak - out.baseline;
    const bound = 4 * images * w * h * 3 + requests * 4 * out.bodyBytes + 64 * 2 ** 20;
    const allDecoded = requests * images * w * h * 3;
    console.log(`serve memory: extra RSS ${(extra / 2 ** 20).toFixed(0)} MiB; bound ${(bound / 2 ** 20).toFixed(0)} MiB; decoding while queued would hold ${(allDecoded / 2 ** 20).toFixed(0)} MiB`);
    expect(extra).toBeLessThan(bound);
  }, 150_000);
});
