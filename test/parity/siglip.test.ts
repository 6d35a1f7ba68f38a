// SigLIP parity against transformers' SiglipModel outputs, for every siglip fixture found.
import { describe, it, expect } from 'vitest';
import { FIXTURES_ROOT, discoverFixtures, checkTensor, DEVICE, deviceTolerance, type Fixture } from '../helpers/fixtures.js';
import { WeightStore } from '../../src/io/checkpoint.js';
import { buildSiglipTextGraph, buildSiglipVisionGraph, parseSiglipConfig, l2normalize, siglipLogits, sigmoid } from '../../src/models/siglip.js';
import { createSession, f32Tensor, i64Tensor } from '../../src/graph/session.js';
import { join } from 'node:path';

const fixtures = discoverFixtures((cfg) => cfg?.model_type === 'siglip');
// Without fixtures (another TSVLM_FIXTURES root), say so instead of failing on an empty file.
if (!fixtures.length) it.skip(`no matching fixtures under ${FIXTURES_ROOT}`, () => {});


function rows(flat: Float32Array, n: number): Float32Array[] {
  const d = flat.length / n;
  return Array.from({ length: n }, (_, i) => flat.slice(i * d, (i + 1) * d));
}

describe.each(fixtures.map((f) => [f.name, f] as [string, Fixture]))('siglip parity %s', (_name, fx) => {
  const cfg = parseSiglipConfig(fx.config!);
  const store = WeightStore.open(fx.dir);

  async function runVision(key: string) {
    const s = await createSession(buildSiglipVisionGraph(store, cfg.vision, { hiddenStates: true }), { device: DEVICE });
    const out = await s.run({ pixel_values: f32Tensor(fx.f32(key), fx.shape(key)) });
    return out;
  }
  async function runText(key: string) {
    const s = await createSession(buildSiglipTextGraph(store, cfg.text, { hiddenStates: true }), { device: DEVICE });
    return s.run({ input_ids: i64Tensor(fx.typed(key) as BigInt64Array, fx.shape(key)) });
  }

  for (const c of fx.cases) {
    it(c.name, async () => {
      const outs: Record<string, Float32Array> = {};
      const pvKey = c.inputs.find((k) => k.includes('pixel_values'));
      const idsKey = c.inputs.find((k) => k.includes('input_ids'));
      let nImages = 0, nTexts = 0;
      if (pvKey) {
        const o = await runVision(pvKey);
        nImages = fx.shape(pvKey)[0]!;
        for (const [k, t] of Object.entries(o)) outs[`vision.${k}`] = t.data as Float32Array;
      }
      if (idsKey) {
        const o = await runText(idsKey);
        nTexts = fx.shape(idsKey)[0]!;
        for (const [k, t] of Object.entries(o)) outs[`text.${k}`] = t.data as Float32Array;
      }
      if (pvKey && idsKey) {
        const img = rows(outs['vision.pooler_output']!, nImages).map(l2normalize);
        const txt = rows(outs['text.pooler_output']!, nTexts).map(l2normalize);
        const scale = store.readFloat32('logit_scale')[0]!, bias = store.readFloat32('logit_bias')[0]!;
        const logits = siglipLogits(img, txt, scale, bias);
        outs['image_embeds'] = Float32Array.from(img.flatMap((r) => [...r]));
        outs['text_embeds'] = Float32Array.from(txt.flatMap((r) => [...r]));
        outs['logits_per_image'] = Float32Array.from(logits.flat());
        outs['logits_per_text'] = Float32Array.from(txt.flatMap((_, t) => img.map((_, i) => logits[i]![t]!)));
        outs['probs'] = Float32Array.from(logits.flat().map(sigmoid));
      }
      for (const key of c.outputs) {
        const got = outs[key];
        expect(got, `no output computed for ${key}`).toBeDefined();
        checkTensor(fx, c, key, got!, undefined, deviceTolerance());
      }
    });
  }
});
