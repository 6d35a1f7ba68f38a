// Child of serve-signals.test.ts: `tsvlm serve` (runServe from dist/) over a minimal chat model
// whose dispose takes a while, so a second signal lands during shutdown. Plain JS run by node
// itself, so signals reach this process (a TypeScript runner would put a wrapper process between).
import { runServe } from '../../../dist/serve/cli.js';

const model = {
  kind: 'chat',
  info: { modelType: 'fake-chat', name: 'chat', dir: '/m/chat', device: 'cpu' },
  chat() {
    throw new Error('not used');
  },
  dispose: () => new Promise((r) => setTimeout(r, 800)),
};
const code = await runServe(['--model', '/m/chat', '--port', '0'], async () => model, {
  onListening: (info) => console.log(`listening ${info.url}`),
  accessLog: false,
});
console.log(`exit ${code}`);
process.exitCode = code;
