// Quantized weights against fp32 on every decoder fixture (llama, mistral, qwen2, SAIL): q8 logits
// stay within a stated bound of fp32 and greedy ids agree for STEPS steps; q4 and the float32-
// compute path (accuracy_level 0) are reported. The bound is relative to the largest |logit| of the
// fp32 run (random-weight fixtures have logits of a few units).
import { describe, it, expect, afterAll } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FIXTURES_ROOT, discoverFixtures, withAttentions, type Fixture } from '../helpers/fixtures.js';
import type { AttentionKind } from '../../src/nn/decoder.js';
import { WeightStore } from '../../src/io/checkpoint.js';
import { DECODER_TYPES, parseDecoderConfig } from '../../src/models/decoders.js';
import { buildSailEmbedGraph, isSailConfig, parseSailConfig, sailPositions, sailRope } from '../../src/models/sail.js';
import { buildSiglipTextGraph, buildSiglipVisionGraph, parseSiglipConfig } from '../../src/models/siglip.js';
import { DecoderLM } from '../../src/generate/decoder-lm.js';
import { argmax } from '../../src/generate/sampler.js';
import { createSession, f32Tensor, i64Tensor } from '../../src/graph/session.js';
import type { WeightSettings } from '../../src/quant/plan.js';

/** q8 (both accuracy levels) and fp16: max |logit − fp32| ≤ Q8_REL × max |fp32 logit| (measured 1.1–3.9%). */
const Q8_REL = 0.05;
const STEPS = 16;
/**
 * Greedy: the first MIN_FREE ids equal fp32's. Random-weight fixtures have top-1/top-2 margins down
 * to 0.03 (facts.top1_top2_margins) while q8 moves logits by 0.05–0.15, so a free-running sequence
 * may fork later; fed fp32's ids (teacher forcing), q8 must pick fp32's token at every step whose
 * fp32 margin exceeds MARGIN.
 */
const MIN_FREE = 4;
const MARGIN = 0.08; // × max |fp32 logit| (0.3 on the llama/mistral/qwen2 fixtures)

const fixtures = discoverFixtures((cfg) => !!cfg && cfg.model_type in DECODER_TYPES);
if (!fixtures.length) it.skip(`no matching fixtures under ${FIXTURES_ROOT}`, () => {});
const cacheDir = mkdtempSync(join(tmpdir(), 'tsvlm-quant-parity-'));
afterAll(() => rmSync(cacheDir, { recursive: true, force: true }));

/** Prompt logits, and greedy decoding (own choices, or `forced` ids fed back: teacher forcing). */
interface Runner { logits: Float32Array; greedy(forced?: number[]): Promise<{ ids: number[]; margins: number[] }> }

function top2(row: Float32Array): { id: number; margin: number } {
  const id = argmax(row);
  let second = -Infinity;
  for (let i = 0; i < row.length; i++) if (i !== id && row[i]! > second) second = row[i]!;
  return { id, margin: row[id]! - second };
}

async function runDecoder(fx: Fixture, prompt: number[], w: WeightSettings, attention: AttentionKind): Promise<Runner> {
  const store = WeightStore.open(fx.dir);
  store.weights = w;
  const cfg = parseDecoderConfig(fx.config!, store);
  const full = await DecoderLM.create(store, cfg.spec, cfg.rope, { input: 'ids', allLogits: true, attention }, cfg.slidingWindow);
  const logits = (await full.forward(full.newState(1), { ids: [prompt], seq: prompt.length })).logits!.data as Float32Array;
  const lm = await DecoderLM.create(store, cfg.spec, cfg.rope, { input: 'ids', attention }, cfg.slidingWindow);
  const greedy = async (forced?: number[]) => {
    const st = lm.newState(1, undefined, prompt.length + STEPS + 1);
    let o = await lm.forward(st, { ids: [prompt], seq: prompt.length });
    const ids: number[] = [], margins: number[] = [];
    for (let k = 0; k < STEPS; k++) {
      const { id, margin } = top2(lm.lastLogits(o)[0]!);
      ids.push(id);
      margins.push(margin);
      o = await lm.forward(st, { ids: [[forced?.[k] ?? id]], seq: 1 });
    }
    return { ids, margins };
  };
  return { logits, greedy };
}

/** SAIL: image prefix (bidirectional) + text, through the embed graph (vis_embed quantized too). */
async function runSail(fx: Fixture, w: WeightSettings, attention: AttentionKind): Promise<Runner> {
  const store = WeightStore.open(fx.dir);
  store.weights = w;
  const cfg = parseSailConfig(fx.config!, store);
  const c = fx.cases.find((c) => c.inputs.some((k) => k.endsWith('vision_patches')))!;
  const key = (s: string) => c.inputs.concat(c.outputs).find((k) => k.endsWith(s))!;
  const ids = fx.ints(key('input_ids'));
  const pp = 3 * cfg.patchSize ** 2;
  const patches = fx.f32(key('vision_patches'));
  const embed = await createSession(buildSailEmbedGraph(store, cfg));
  const emb = (ids: number[], patches: Float32Array, idx: number[]) => embed.run({
    input_ids: i64Tensor(ids, [1, ids.length]), vision_patches: f32Tensor(patches, [patches.length / pp, pp]), vision_patch_indices: i64Tensor(idx, [1, idx.length]),
  }).then((o) => o.inputs_embeds!.data as Float32Array);
  const embeds = await emb(ids, patches, fx.ints(key('vision_patch_indices')));
  const L = ids.length;
  const grid = { nh: c.facts!.nh as number, nw: c.facts!.nw as number, start: ids.indexOf(cfg.visionTokenIds['<vpatch>']!) };
  const pos = sailPositions(L, grid);
  const prefix = grid.nh * grid.nw + 2;
  const rope = sailRope(cfg.rope, pos.map((a) => [a]));
  const full = await DecoderLM.create(store, cfg.spec, cfg.rope, { input: 'embeds', allLogits: true, attention });
  const logits = (await full.forward(full.newState(1), { embeds, seq: L, rope, prefix })).logits!.data as Float32Array;
  const lm = await DecoderLM.create(store, cfg.spec, cfg.rope, { input: 'embeds', attention });
  const greedy = async (forced?: number[]) => {
    const st = lm.newState(1, undefined, L + STEPS + 1);
    st.nextPos = [0];
    let o = await lm.forward(st, { embeds, seq: L, rope, positions: [Array(L - 1).fill(0).concat([Math.max(...pos.flat())])], prefix });
    const ids: number[] = [], margins: number[] = [];
    for (let k = 0; k < STEPS; k++) {
      const { id, margin } = top2(lm.lastLogits(o)[0]!);
      ids.push(id);
      margins.push(margin);
      o = await lm.forward(st, { embeds: await emb([forced?.[k] ?? id], new Float32Array(0), [-1]), seq: 1 });
    }
    return { ids, margins };
  };
  return { logits, greedy };
}

function top1Agreement(a: Float32Array, b: Float32Array, V: number): string {
  let same = 0;
  const n = a.length / V;
  for (let r = 0; r < n; r++) if (argmax(a.subarray(r * V, (r + 1) * V)) === argmax(b.subarray(r * V, (r + 1) * V))) same++;
  return `${same}/${n}`;
}

describe.each(withAttentions(fixtures))('quantized vs fp32 %s', (_n, fx, attention) => {
  it(`q8: logits within ${Q8_REL} of max |logit|, greedy ids agree ≥ ${MIN_FREE} steps and wherever fp32's margin > ${MARGIN}·max|logit|; q4 reported`, async () => {
    const sail = isSailConfig(fx.config!);
    const c = fx.cases.find((c) => c.inputs.some((k) => k.endsWith('input_ids')))!;
    const idsKey = c.inputs.find((k) => k.endsWith('input_ids'))!;
    const prompt = fx.ints(idsKey).slice(0, fx.shape(idsKey).at(-1));
    const run = (w: WeightSettings) => (sail ? runSail(fx, w, attention) : runDecoder(fx, prompt, w, attention));
    const V = fx.config!.vocab_size as number;
    const ref = await run({ dtype: 'fp32' });
    const refGreedy = await ref.greedy();
    let refMax = 0;
    for (const v of ref.logits) refMax = Math.max(refMax, Math.abs(v));
    const margin = MARGIN * refMax;
    const checked = refGreedy.margins.filter((m) => m > margin).length;
    const res: Record<string, { rel: number; free: number; forcedBad: number }> = {};
    for (const [name, w] of [['q8', { dtype: 'q8', accuracyLevel: 4 }], ['q8/acc0', { dtype: 'q8', accuracyLevel: 0 }], ['q4', { dtype: 'q4', accuracyLevel: 4 }], ['q4/acc0', { dtype: 'q4', accuracyLevel: 0 }], ['fp16', { dtype: 'fp16' }]] as const) {
      const r = await run({ ...w, cacheDir });
      let maxErr = 0, maxAbs = 0;
      for (let i = 0; i < ref.logits.length; i++) {
        maxErr = Math.max(maxErr, Math.abs(ref.logits[i]! - r.logits[i]!));
        maxAbs = Math.max(maxAbs, Math.abs(ref.logits[i]!));
      }
      const free = (await r.greedy()).ids;
      let agree = 0;
      while (agree < STEPS && free[agree] === refGreedy.ids[agree]) agree++;
      const forced = (await r.greedy(refGreedy.ids)).ids;
      const forcedBad = forced.filter((t, k) => refGreedy.margins[k]! > margin && t !== refGreedy.ids[k]).length;
      const forcedSame = forced.filter((t, k) => t === refGreedy.ids[k]).length;
      res[name] = { rel: maxErr / maxAbs, free: agree, forcedBad };
      console.log(`quant ${fx.name} [${attention}] ${name}: max |Δlogit| ${maxErr.toExponential(2)} (${(100 * maxErr / maxAbs).toFixed(2)}% of max |logit|), prompt top-1 ${top1Agreement(ref.logits, r.logits, V)}, ` +
        `greedy: first ${agree}/${STEPS} ids equal, teacher-forced top-1 ${forcedSame}/${STEPS} (${checked - forcedBad}/${checked} where fp32 margin > ${margin.toFixed(3)})`);
    }
    for (const name of ['q8', 'q8/acc0', 'fp16']) {
      expect(res[name]!.rel, name).toBeLessThanOrEqual(Q8_REL);
      expect(res[name]!.free, name).toBeGreaterThanOrEqual(MIN_FREE);
      expect(res[name]!.forcedBad, name).toBe(0);
    }
  });
});

// SigLIP: both towers (encoder Linears, the MAP head's in_proj row slices, the token table) quantized.
const siglips = discoverFixtures((cfg) => cfg?.model_type === 'siglip');
describe.each(siglips.map((f) => [f.name, f] as [string, Fixture]))('quantized SigLIP %s', (_n, fx) => {
  it('q8 pooled embeddings: cosine ≥ 0.999 to fp32 (q4, fp16 reported)', async () => {
    const cfg = parseSiglipConfig(fx.config!);
    const { image_size: S, num_channels: C = 3 } = cfg.vision as any;
    const px = Float32Array.from({ length: C * S * S }, (_, i) => Math.sin(i * 0.37));
    const L = Math.min(cfg.text.max_position_embeddings, 16);
    const ids = Array.from({ length: L }, (_, i) => (i * 7 + 3) % cfg.text.vocab_size);
    const embed = async (dtype: WeightSettings['dtype']) => {
      const store = WeightStore.open(fx.dir);
      store.weights = { dtype, cacheDir };
      const v = await createSession(buildSiglipVisionGraph(store, cfg.vision));
      const t = await createSession(buildSiglipTextGraph(store, cfg.text));
      const iv = (await v.run({ pixel_values: f32Tensor(px, [1, C, S, S]) })).pooler_output!.data as Float32Array;
      const tv = (await t.run({ input_ids: i64Tensor(ids, [1, L]) })).pooler_output!.data as Float32Array;
      return [iv, tv];
    };
    const cos = (a: Float32Array, b: Float32Array) => {
      let ab = 0, aa = 0, bb = 0;
      for (let i = 0; i < a.length; i++) { ab += a[i]! * b[i]!; aa += a[i]! ** 2; bb += b[i]! ** 2; }
      return ab / Math.sqrt(aa * bb);
    };
    const ref = await embed('fp32');
    for (const dtype of ['q8', 'q4', 'fp16'] as const) {
      const [iv, tv] = await embed(dtype);
      const ci = cos(ref[0]!, iv!), ct = cos(ref[1]!, tv!);
      console.log(`quant ${fx.name} ${dtype}: image cosine ${ci.toFixed(5)}, text cosine ${ct.toFixed(5)}`);
      if (dtype !== 'q4') expect(Math.min(ci, ct), dtype).toBeGreaterThanOrEqual(0.999);
    }
  });
});
