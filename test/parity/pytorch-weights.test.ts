// The graph builder memory-maps weights straight out of torch.save archives: SigLIP run from
// pytorch_model-*.bin shards (test/data/pt/siglip-bin, made from siglip-tiny by make.py) matches
// transformers' outputs exactly as it does from model.safetensors.
import { describe, it, expect } from 'vitest';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { discoverFixtures, checkTensor, FIXTURES_ROOT } from '../helpers/fixtures.js';
import { WeightStore } from '../../src/io/checkpoint.js';
import { buildSiglipVisionGraph, buildSiglipTextGraph, parseSiglipConfig } from '../../src/models/siglip.js';
import { createSession, f32Tensor, i64Tensor } from '../../src/graph/session.js';

const BIN = join(dirname(fileURLToPath(import.meta.url)), '../data/pt/siglip-bin');
const fx = discoverFixtures((cfg, dir) => cfg?.model_type === 'siglip' && dir.endsWith('siglip-tiny'))[0];
if (!fx) it.skip(`no siglip-tiny fixture under ${FIXTURES_ROOT}`, () => {});

describe.skipIf(!fx)('siglip-tiny from pytorch_model.bin shards', () => {
  it('vision and text towers match the fixture', async () => {
    const cfg = parseSiglipConfig(fx!.config!);
    const store = WeightStore.open(BIN);
    expect(store.files.map((f) => f.path.endsWith('.bin'))).toEqual([true, true]);
    const vision = fx!.cases.find((c) => c.name === 'vision')!;
    const v = await createSession(buildSiglipVisionGraph(store, cfg.vision, { hiddenStates: true }));
    const vo = await v.run({ pixel_values: f32Tensor(fx!.f32('pixel_values'), fx!.shape('pixel_values')) });
    for (const key of vision.outputs) checkTensor(fx!, vision, key, vo[key.slice('vision.'.length)]!.data as Float32Array);
    const text = fx!.cases.find((c) => c.name === 'text')!;
    const t = await createSession(buildSiglipTextGraph(store, cfg.text, { hiddenStates: true }));
    const to = await t.run({ input_ids: i64Tensor(fx!.typed('input_ids') as BigInt64Array, fx!.shape('input_ids')) });
    for (const key of text.outputs) checkTensor(fx!, text, key, to[key.slice('text.'.length)]!.data as Float32Array);
  });
});
