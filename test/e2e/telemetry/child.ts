// Child process of telemetry.test.ts: loads a checkpoint through the public API, runs it, then
// stays alive for TELEMETRY_WAIT_MS so that anything the runtime would send late has its chance.
import { loadModel, type ChatModel } from '../../../src/index.js';

const dir = process.argv[2]!;
const model = (await loadModel(dir)) as ChatModel;
const stream = model.chat([{ role: 'user', content: 'hello' }], { maxNewTokens: 3 });
const result = await stream.result;
console.log(`generated ${result.completionTokens} tokens`);
await new Promise((r) => setTimeout(r, Number(process.env.TELEMETRY_WAIT_MS ?? 0)));
await model.dispose();
