// HoVLE parity against the original remote code (InternVLChatModel → HolisticEmbedding +
// InternLM2) for every HoVLE fixture found ("pre" and "post" pixel shuffle): preprocessing,
// vision rows, pixel shuffle, embedding-layer states, LLM states, logits, and greedy ids from the
// KV-cached loop through both stacks (the reference re-runs the whole sequence each step).
import { describe, it, expect } from 'vitest';
import { FIXTURES_ROOT, discoverFixtures, checkTensor, DEVICE, deviceTolerance, withAttentions, type FixtureCase } from '../helpers/fixtures.js';
import { WeightStore } from '../../src/io/checkpoint.js';
import { HovleEngine, isHovleConfig, parseHovleConfig } from '../../src/models/hovle/model.js';
import { hovleTiles } from '../../src/models/hovle/prompt.js';
import { argmax } from '../../src/generate/sampler.js';

const fixtures = discoverFixtures((cfg) => !!cfg && isHovleConfig(cfg));
if (!fixtures.length) it.skip(`no matching fixtures under ${FIXTURES_ROOT}`, () => {});

describe.each(withAttentions(fixtures))('hovle parity %s', (_n, fx, attention) => {
  const store = WeightStore.open(fx.dir);
  const cfg = parseHovleConfig(fx.config!, store);
  const D = cfg.emb.spec.hiddenSize, V = cfg.llm.spec.vocabSize;
  let all: HovleEngine | undefined;
  let cached: HovleEngine | undefined;
  const tol = deviceTolerance();

  for (const c of fx.cases) {
    it(c.name, async () => {
      const keys = c.inputs.concat(c.outputs);
      const key = (suffix: string) => keys.find((k) => k.endsWith(`.${suffix}`));
      const check = (suffix: string, got: ArrayLike<number>) => {
        const k = c.outputs.find((o) => o.endsWith(`.${suffix}`));
        if (k) checkTensor(fx, c, k, got, undefined, tol);
        return !!k;
      };
      all ??= await HovleEngine.create(store, cfg, { allLogits: true, hiddenStates: true, device: DEVICE, attention });
      const llmIds = fx.ints(key('input_ids')!);
      const embIds = key('hd_input_ids') ? fx.ints(key('hd_input_ids')!) : llmIds;

      // Preprocessing from the source picture: tiles exact, the thumbnail within Pillow rounding.
      const pvKey = key('pixel_values');
      const imgKey = key('image_u8');
      if (pvKey && imgKey) {
        const [h, w] = fx.shape(imgKey);
        const tiles = hovleTiles({ width: w!, height: h!, channels: 3, data: fx.typed(imgKey) as Uint8Array }, cfg, cfg.maxDynamicPatch);
        const want = fx.f32(pvKey);
        expect(tiles.pixelValues.length).toBe(want.length);
        // Grid tiles are exact crops; the thumbnail goes through Pillow's bicubic downscale.
        const per = 3 * cfg.imageSize ** 2;
        const exact = tiles.tiles.length > 1 ? tiles.tiles.length - 1 : 1;
        const thumbTol = (c.tolerance_per_tensor?.[pvKey] as { atol?: number } | undefined)?.atol ?? 0.02;
        checkTensor(fx, c, pvKey, tiles.pixelValues, (i) => i < exact * per, { abs: 1e-6, rel: 0 });
        if (tiles.tiles.length > 1) checkTensor(fx, c, pvKey, tiles.pixelValues, (i) => i >= exact * per, { abs: thumbTol, rel: 0 });
      }

      // Vision rows ("pre": shuffled + projected before the layers; "post": conv + positions).
      let imageRows: Float32Array | undefined;
      if (pvKey) {
        const v = await all.encodeImages(fx.f32(pvKey));
        check('vision_embeds', v.vision_embeds!.data as Float32Array);
        if (cfg.pixelShuffleLoc === 'pre') {
          check('pixel_shuffle_out', v.pixel_shuffle_out!.data as Float32Array);
          check('pixel_shuffle_proj_out', v.image_rows!.data as Float32Array);
        }
        imageRows = v.image_rows!.data as Float32Array;
      }

      // Full forward through both stacks.
      const st = all.newState();
      const out = await all.forward(st, embIds, imageRows);
      expect(out.llmRows).toBe(llmIds.length);
      const src = key('llm_row_source');
      if (src) expect(all.llmRowSource(embIds)).toEqual(fx.ints(src));
      check('embedding_input', out.embInput);
      const layers = cfg.emb.spec.numLayers;
      for (let i = 0; i < layers; i++) {
        check(`embedding_layer${i}_output`, (i === layers - 1 ? out.emb.hidden! : out.emb[`hidden.layer.${i}`]!).data as Float32Array);
      }
      const hidden = out.emb.hidden!.data as Float32Array;
      check('embedding_output', hidden);
      const imgRowsAt = (rows: Float32Array, ids: number[]) => {
        const sel = ids.flatMap((id, t) => (id === cfg.imgContextId ? [t] : []));
        const o = new Float32Array(sel.length * D);
        sel.forEach((t, k) => o.set(rows.subarray(t * D, (t + 1) * D), k * D));
        return o;
      };
      check('image_features', imgRowsAt(hidden, embIds));
      check('embedding_image_rows', imgRowsAt(hidden, embIds));
      if (out.post) {
        check('pixel_shuffle_out', out.post.pixel_shuffle_out!.data as Float32Array);
        check('pixel_shuffle_proj_out', out.post.image_rows!.data as Float32Array);
      }
      check('llm_inputs_embeds', out.llmInput);
      for (let i = 0; i < cfg.llm.spec.numLayers; i++) check(`llm_layer${i}_output`, out.llm[`hidden.layer.${i}`]!.data as Float32Array);
      check('llm_norm_output', out.llm['hidden.final_norm']!.data as Float32Array);
      check('logits', out.llm.logits!.data as Float32Array);

      await greedy(c, embIds, imageRows);
    });
  }

  /** Greedy ids through the cached loop: one row appended to both stacks per step. */
  async function greedy(c: FixtureCase, embIds: number[], imageRows?: Float32Array): Promise<void> {
    const idsKey = c.outputs.find((k) => k.endsWith('.greedy_ids'))!;
    const want = fx.ints(idsKey);
    cached ??= await HovleEngine.create(store, cfg, { device: DEVICE, attention });
    const st = cached.newState();
    let o = await cached.forward(st, embIds, imageRows);
    const got: number[] = [];
    const steps = new Float32Array(want.length * V);
    for (let k = 0; k < want.length; k++) {
      const row = cached.lastLogits(o);
      steps.set(row, k * V);
      got.push(argmax(row));
      if (k + 1 < want.length) o = await cached.forward(st, [got[k]!]);
    }
    console.log(`parity ${fx.name} [${attention}] ${c.name} ${idsKey}: ${JSON.stringify(got)}`);
    expect(got).toEqual(want);
    expect(st.emb.nextPos[0]).toBe(embIds.length + want.length - 1);
    const slKey = c.outputs.find((k) => k.endsWith('.greedy_step_logits'));
    if (slKey) checkTensor(fx, c, slKey, steps, undefined, deviceTolerance());
  }
});
