// Child process of bench/serve/run.mjs: one `tsvlm serve` server on 127.0.0.1 (ephemeral port)
// so its RSS is measured alone. Prints {"port": N, "model": NAME} on stdout once listening;
// SIGTERM closes it cleanly.
// Usage: node bench/serve/server.mjs [--model DIR | --fake MS] --queue-size N --max-tokens-cap N
import { basename } from 'node:path';
import { createServer } from '../../dist/serve/server.js';
import { BenchFakeChatModel } from './fake-model.mjs';

const argv = process.argv.slice(2);
const arg = (name, dflt) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : dflt;
};

let model;
let name;
if (arg('model')) {
  const { loadModel } = await import('../../dist/index.js');
  model = await loadModel(arg('model'));
  name = basename(arg('model'));
  if (model.kind !== 'chat') throw new Error(`${arg('model')}: the serve bench needs a chat model (got ${model.kind})`);
} else {
  model = new BenchFakeChatModel(Number(arg('fake', '5')));
  name = 'bench-fake';
}

const server = createServer({
  models: [{ name, model }],
  queueSize: Number(arg('queue-size', '4')),
  maxTokensCap: Number(arg('max-tokens-cap', '4096')),
});
const info = await server.listen('127.0.0.1', 0);
process.stdout.write(JSON.stringify({ port: info.port, model: name, modelType: model.info.modelType }) + '\n');

process.on('SIGTERM', async () => {
  await server.close();
  await model.dispose();
  process.exit(0);
});
