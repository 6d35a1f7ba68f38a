// Child process for test/unit/quant.test.ts: starts converting a checkpoint into the weight cache
// and stops dead (blocks) halfway through writing, so the parent can SIGKILL it mid-write.
import { WeightStore } from '../../src/io/checkpoint.js';
import { Graph } from '../../src/graph/builder.js';
import { GraphWeights } from '../../src/nn/weights.js';

const [dir, cacheDir] = process.argv.slice(2) as [string, string];
const store = WeightStore.open(dir);
store.weights = {
  dtype: 'q8',
  cacheDir,
  onProgress: (p) => {
    if (p.stage === 'quantize' && p.done >= p.total / 2 && p.done < p.total) {
      process.stdout.write('MIDWAY\n');
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0); // until killed
    }
  },
};
const g = new Graph('killed');
const w = new GraphWeights(g, store);
const x = g.input('x', 'float32', ['n', 256]);
let y = x;
for (let i = 0; i < 4; i++) y = w.linear(y, `l${i}.weight`);
g.output(y, 'y');
await g.prepare();
process.stdout.write('FINISHED\n');
