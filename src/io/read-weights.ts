// Reads a checkpoint's weight files once, front to back, reporting bytes: the page cache then
// holds them when ONNX Runtime maps them, so the slow part of a cold load shows as a byte count
// instead of silence. Nothing is kept in memory (one reused buffer).
import { open, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Progress } from '../api.js';

const VARIANT = /\.(fp16|bf16|ema|non_ema)\.safetensors$/;

/** The *.safetensors files of a folder (diffusers sub-folders included; dtype variants left out). */
async function weightFiles(dir: string, depth = 0): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory() && depth < 2 && !e.name.startsWith('.')) out.push(...(await weightFiles(p, depth + 1)));
    else if (e.name.endsWith('.safetensors') && !VARIANT.test(e.name)) out.push(p);
  }
  return out.sort();
}

export async function readWeights(dir: string, onProgress: (p: Progress) => void): Promise<void> {
  const files = await weightFiles(dir);
  const sizes = await Promise.all(files.map(async (f) => (await stat(f)).size));
  const total = sizes.reduce((a, b) => a + b, 0);
  if (!total) return;
  const buf = Buffer.allocUnsafe(16 * 2 ** 20);
  const t0 = Date.now();
  let done = 0;
  let last = 0;
  const report = () => onProgress({ stage: 'weights', done, total, unit: 'bytes', message: 'reading', elapsedMs: Date.now() - t0 });
  report();
  for (const f of files) {
    const fh = await open(f, 'r');
    try {
      for (;;) {
        const { bytesRead } = await fh.read(buf, 0, buf.length, null);
        if (!bytesRead) break;
        done += bytesRead;
        if (Date.now() - last > 100) { last = Date.now(); report(); }
      }
    } finally {
      await fh.close();
    }
  }
  report();
}
