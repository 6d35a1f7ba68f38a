// Child process of checkpoint-validation.test.ts (a FIFO blocks the reading thread, so a case that
// regressed must be killable from outside). argv: folders to load; prints one JSON line per folder.
import { loadModel } from '../../../src/index.js';

for (const dir of process.argv.slice(2)) {
  const t0 = Date.now();
  try {
    const m = await loadModel(dir);
    await m.dispose();
    console.log(JSON.stringify({ dir, ok: true, ms: Date.now() - t0 }));
  } catch (e) {
    console.log(JSON.stringify({ dir, error: (e as Error).message, ms: Date.now() - t0 }));
  }
}
