// Child of weights-changed.test.ts (a SIGBUS would kill the test runner): loads the folder, runs
// once, truncates model.safetensors in place, runs again. Prints the outcome as JSON.
import { copyFileSync, renameSync, statSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { loadModel, type ChatModel } from '../../../src/index.js';

const [dir, how] = process.argv.slice(2) as [string, 'truncate' | 'rename'];
const model = (await loadModel(dir)) as ChatModel;
const run = () => model.chat([{ role: 'user', content: 'hello' }], { maxNewTokens: 3 }).result;
const first = await run();
const file = join(dir, 'model.safetensors');
if (how === 'truncate') truncateSync(file, Math.floor(statSync(file).size / 2));
else {
  copyFileSync(file, `${file}.new`);
  renameSync(`${file}.new`, file);
}
try {
  const second = await run();
  console.log(JSON.stringify({ first: first.tokenIds, second: second.tokenIds }));
} catch (e) {
  console.log(JSON.stringify({ first: first.tokenIds, error: (e as Error).message }));
}
await model.dispose();
