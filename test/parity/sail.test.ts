// SAIL parity against modeling_sail.py (SailForCausalLM) for every SAIL fixture found:
// vis_embed, 3-axis positions, prefix mask, full-forward logits, prefix-cache logits, greedy ids.
import { describe, it, expect } from 'vitest';
import { FIXTURES_ROOT, discoverFixtures, checkTensor, DEVICE, deviceTolerance, withAttentions } from '../helpers/fixtures.js';
import { WeightStore } from '../../src/io/checkpoint.js';
import { buildSailEmbedGraph, isSailConfig, parseSailConfig, sailPositions, sailRope } from '../../src/models/sail.js';
import { DecoderLM } from '../../src/generate/decoder-lm.js';
import { buildMask, MASKED } from '../../src/generate/mask.js';
import { argmax } from '../../src/generate/sampler.js';
import { createSession, f32Tensor, i64Tensor } from '../../src/graph/session.js';

const fixtures = discoverFixtures((cfg) => !!cfg && isSailConfig(cfg));
// Without fixtures (another TSVLM_FIXTURES root), say so instead of failing on an empty file.
if (!fixtures.length) it.skip(`no matching fixtures under ${FIXTURES_ROOT}`, () => {});


describe.each(withAttentions(fixtures))('sail parity %s', (_n, fx, attention) => {
  const store = WeightStore.open(fx.dir);
  const cfg = parseSailConfig(fx.config!, store);
  const D = cfg.spec.hiddenSize, V = cfg.spec.vocabSize, pp = 3 * cfg.patchSize ** 2;
  let embedS: Awaited<ReturnType<typeof createSession>> | undefined;
  let lmAll: DecoderLM | undefined;
  let lmLast: DecoderLM | undefined;

  for (const c of fx.cases) {
    it(c.name, async () => {
      const key = (suffix: string) => c.inputs.concat(c.outputs).find((k) => k.endsWith(suffix));
      const ids = fx.ints(key('input_ids')!);
      const L = ids.length;
      const pKey = key('vision_patches');
      const patches = pKey ? fx.f32(pKey) : new Float32Array(0);
      const nPatches = patches.length / pp;
      const indices = fx.ints(key('vision_patch_indices')!);
      embedS ??= await createSession(buildSailEmbedGraph(store, cfg), { device: DEVICE });
      const emb = await embedS.run({
        input_ids: i64Tensor(ids, [1, L]),
        vision_patches: f32Tensor(patches, [nPatches, pp]),
        vision_patch_indices: i64Tensor(indices, [1, L]),
      });
      const visKey = c.outputs.find((k) => k.endsWith('hidden.vis_embed'));
      if (visKey) checkTensor(fx, c, visKey, emb.vis_embed!.data as Float32Array, undefined, deviceTolerance());

      // Positions and mask from our own rules must equal the reference inputs.
      const vpatch = cfg.visionTokenIds['<vpatch>'];
      const start = ids.indexOf(vpatch!);
      const nh = c.facts?.nh as number | undefined, nw = c.facts?.nw as number | undefined;
      const grid = start >= 0 && nh && nw ? { nh, nw, start } : undefined;
      const pos = sailPositions(L, grid);
      expect(pos.flat()).toEqual(fx.ints(key('position_ids')!));
      const prefix = grid ? nh! * nw! + 2 : undefined;
      const m4Key = key('attention_mask_4d');
      if (m4Key) {
        const ours = buildMask({ batch: 1, past: 0, seq: L, prefix });
        expect(Array.from(ours, (x) => (x === MASKED ? 0 : 1))).toEqual(fx.ints(m4Key));
      }

      // Full forward with the prefix mask.
      lmAll ??= await DecoderLM.create(store, cfg.spec, cfg.rope, { input: 'embeds', allLogits: true, hiddenStates: true, device: DEVICE, attention });
      const embeds = emb.inputs_embeds!.data as Float32Array;
      const posB = pos.map((a) => [a]);
      const st = lmAll.newState(1);
      const out = await lmAll.forward(st, { embeds, seq: L, rope: sailRope(cfg.rope, posB), positions: [pos[0]!.map((_, t) => Math.max(pos[0]![t]!, pos[1]![t]!, pos[2]![t]!))], prefix });
      checkTensor(fx, c, key('.logits')!, out.logits!.data as Float32Array, undefined, deviceTolerance());
      for (const k of c.outputs.filter((k) => k.includes('hidden.layer.'))) {
        checkTensor(fx, c, k, out[k.slice(k.indexOf('hidden.'))]!.data as Float32Array, undefined, deviceTolerance());
      }

      // Prefix cache: the image prefix alone (bidirectional), then the text on top of the cache.
      const pcKey = key('text_logits_prefix_cache');
      if (pcKey && prefix) {
        const st2 = lmAll.newState(1);
        const sub = (a: number, b: number) => ({ embeds: embeds.slice(a * D, b * D), seq: b - a, rope: sailRope(cfg.rope, pos.map((x) => [x.slice(a, b)])), positions: [pos[0]!.slice(a, b).map((_, t) => Math.max(pos[0]![a + t]!, pos[1]![a + t]!, pos[2]![a + t]!))] });
        await lmAll.forward(st2, { ...sub(0, prefix), prefix });
        const o2 = await lmAll.forward(st2, sub(prefix, L));
        checkTensor(fx, c, pcKey, o2.logits!.data as Float32Array, undefined, deviceTolerance());
      }

      // Greedy decoding with the cache; new tokens continue at max(position)+1 on all axes.
      const genKey = key('generated_ids')!;
      const want = fx.ints(genKey);
      lmLast ??= await DecoderLM.create(store, cfg.spec, cfg.rope, { input: 'embeds', device: DEVICE, attention });
      const st3 = lmLast.newState(1);
      st3.nextPos = [0];
      let o = await lmLast.forward(st3, { embeds, seq: L, rope: sailRope(cfg.rope, posB), positions: [[Math.max(...pos.flat())]].map((r) => Array(L - 1).fill(0).concat(r)), prefix });
      const got: number[] = [];
      const steps: Float32Array[] = [];
      for (let k = 0; k < want.length; k++) {
        const row = lmLast.lastLogits(o)[0]!;
        steps.push(row.slice());
        const t = argmax(row);
        got.push(t);
        if (k + 1 === want.length) break;
        const e = await embedS.run({ input_ids: i64Tensor([t], [1, 1]), vision_patches: f32Tensor(new Float32Array(0), [0, pp]), vision_patch_indices: i64Tensor([-1], [1, 1]) });
        o = await lmLast.forward(st3, { embeds: e.inputs_embeds!.data as Float32Array, seq: 1 });
      }
      console.log(`parity ${fx.name} [${attention}] ${c.name} ${genKey}: ${JSON.stringify(got)}`);
      expect(got).toEqual(want);
      const slKey = key('step_logits')!;
      const n = fx.shape(slKey)[0]!;
      const flat = new Float32Array(n * V);
      for (let k = 0; k < n; k++) flat.set(steps[k]!, k * V);
      checkTensor(fx, c, slKey, flat, undefined, deviceTolerance());
    });
  }
});
