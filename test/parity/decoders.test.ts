// Decoder LLM parity against transformers (*ForCausalLM) for every decoder fixture found:
// full-forward logits and hidden states, KV-cached greedy decoding, left-padded batches.
import { describe, it, expect } from 'vitest';
import { ATTENTIONS, FIXTURES_ROOT, discoverFixtures, checkTensor, DEVICE, deviceTolerance, withAttentions } from '../helpers/fixtures.js';
import { WeightStore } from '../../src/io/checkpoint.js';
import { DECODER_TYPES, parseDecoderConfig } from '../../src/models/decoders.js';
import { DecoderLM } from '../../src/generate/decoder-lm.js';
import { argmax } from '../../src/generate/sampler.js';

// SAIL checkpoints say model_type mistral but carry vision_patch_size: test/parity/sail.test.ts covers them.
const fixtures = discoverFixtures((cfg) => !!cfg && cfg.model_type in DECODER_TYPES && cfg.vision_patch_size === undefined);
// Without fixtures (another TSVLM_FIXTURES root), say so instead of failing on an empty file.
if (!fixtures.length) it.skip(`no matching fixtures under ${FIXTURES_ROOT}`, () => {});


function rowsOf(ids: number[], shape: number[]): number[][] {
  const [B, S] = (shape.length === 1 ? [1, shape[0]] : shape) as [number, number];
  return Array.from({ length: B }, (_, b) => ids.slice(b * S, (b + 1) * S));
}

describe.each(withAttentions(fixtures))('decoder parity %s', (_n, fx, attention) => {
  const store = WeightStore.open(fx.dir);
  const cfg = parseDecoderConfig(fx.config!, store);
  let full: DecoderLM | undefined;
  let last: DecoderLM | undefined;
  const getFull = async () => (full ??= await DecoderLM.create(store, cfg.spec, cfg.rope, { input: 'ids', allLogits: true, hiddenStates: true, device: DEVICE, attention }, cfg.slidingWindow));
  const getLast = async () => (last ??= await DecoderLM.create(store, cfg.spec, cfg.rope, { input: 'ids', device: DEVICE, attention }, cfg.slidingWindow));

  for (const c of fx.cases) {
    it(c.name, async () => {
      const idsKey = c.inputs.find((k) => k.endsWith('input_ids'))!;
      const ids = rowsOf(fx.ints(idsKey), fx.shape(idsKey));
      const maskKey = c.inputs.find((k) => k.endsWith('attention_mask'));
      const mask = maskKey ? rowsOf(fx.ints(maskKey), fx.shape(maskKey)) : undefined;
      const leftPad = mask?.map((r) => r.indexOf(1));
      const posKey = c.inputs.find((k) => k.endsWith('position_ids'));
      const B = ids.length, S = ids[0]!.length;

      // Full forward (no cache): logits + hidden states.
      const lmFull = await getFull();
      // The graph under test really is the one named (GroupQueryAttention takes seqlens_k).
      expect(lmFull.session.inputNames.includes('seqlens_k')).toBe(attention === 'gqa');
      const st = lmFull.newState(B, leftPad);
      const positions = posKey ? rowsOf(fx.ints(posKey), fx.shape(posKey)) : undefined;
      const out = await lmFull.forward(st, { ids, seq: S, positions });
      const V = cfg.spec.vocabSize;
      for (const key of c.outputs) {
        const suffix = key.slice(key.indexOf('.') + 1);
        if (suffix === 'logits') {
          const valid = mask ? (i: number) => mask.flat()[Math.floor(i / V)] === 1 : undefined;
          checkTensor(fx, c, key, out.logits!.data as Float32Array, valid, deviceTolerance());
        } else if (suffix.startsWith('hidden.')) {
          checkTensor(fx, c, key, out[suffix]!.data as Float32Array, undefined, deviceTolerance());
        }
      }

      // Greedy decode with the cache: prefill then one token at a time.
      const genKey = c.outputs.find((k) => k.endsWith('generated_ids') || k.endsWith('greedy_ids'));
      if (!genKey) return;
      const want = fx.ints(genKey);
      const steps = fx.shape(genKey).at(-1)!;
      const lm = await getLast();
      const state = lm.newState(B, leftPad);
      let o = await lm.forward(state, { ids, seq: S, positions });
      const got: number[][] = ids.map(() => []);
      const stepLogits: Float32Array[] = [];
      for (let k = 0; k < steps; k++) {
        const rows = lm.lastLogits(o);
        rows.forEach((r) => stepLogits.push(r.slice()));
        const next = rows.map((r) => argmax(r));
        next.forEach((t, b) => got[b]!.push(t));
        if (k + 1 < steps) o = await lm.forward(state, { ids: next.map((t) => [t]), seq: 1 });
      }
      console.log(`parity ${fx.name} [${attention}] ${c.name} ${genKey}: ${JSON.stringify(got)}`);
      expect(got.flat()).toEqual(want);
      const slKey = c.outputs.find((k) => k.endsWith('step_logits'));
      if (!slKey) return;
      const nSteps = fx.shape(slKey)[0]!;
      const gotSteps = new Float32Array(nSteps * B * V);
      for (let k = 0; k < nSteps; k++) for (let b = 0; b < B; b++) gotSteps.set(stepLogits[k * B + b]!, (k * B + b) * V);
      checkTensor(fx, c, slKey, gotSteps, undefined, deviceTolerance());

      // The cached decode must equal a full recompute of the same sequence.
      const seqFull = ids.map((r, b) => [...r, ...got[b]!.slice(0, -1)]);
      const fs = lmFull.newState(B, leftPad);
      const fo = await lmFull.forward(fs, { ids: seqFull, seq: seqFull[0]!.length });
      const fl = lmFull.lastLogits(fo);
      const cl = stepLogits.slice(-B);
      let worst = 0;
      fl.forEach((r, b) => r.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - cl[b]![i]!)))));
      console.log(`parity ${fx.name} [${attention}] ${c.name} cache-vs-nocache: worst ${worst.toExponential(2)} (tol 1e-4)`);
      expect(worst).toBeLessThanOrEqual(deviceTolerance()?.abs ?? 1e-4);
    });
  }
});

// A prompt fed in two chunks to a left-padded batch: the second chunk has several rows, several
// tokens and a past, which GroupQueryAttention refuses at batch > 1, so the 'gqa' decoder runs it
// row by row. Both kinds must give what one whole-prompt prefill gives, then the same greedy ids,
// and each row alone (no padding) must give its row of the batch.
describe.each(fixtures.filter((f) => f.cases.some((c) => c.inputs.some((k) => k.endsWith('attention_mask')))).map((f) => [f.name, f] as const))('chunked batched prefill %s', (_n, fx) => {
  it('ops and gqa: two chunks = one prefill = each row alone; greedy ids equal', async () => {
    const store = WeightStore.open(fx.dir);
    const cfg = parseDecoderConfig(fx.config!, store);
    const c = fx.cases.find((c) => c.inputs.some((k) => k.endsWith('attention_mask')))!;
    const idsKey = c.inputs.find((k) => k.endsWith('input_ids'))!;
    const maskKey = c.inputs.find((k) => k.endsWith('attention_mask'))!;
    const ids = rowsOf(fx.ints(idsKey), fx.shape(idsKey));
    const leftPad = rowsOf(fx.ints(maskKey), fx.shape(maskKey)).map((r) => r.indexOf(1));
    const S = ids[0]!.length, cut = Math.ceil(S / 2);
    const run = async (attention: 'ops' | 'gqa', chunks: number[], input = ids, pads = leftPad) => {
      const lm = await DecoderLM.create(store, cfg.spec, cfg.rope, { input: 'ids', device: DEVICE, attention }, cfg.slidingWindow);
      const st = lm.newState(input.length, pads, 1); // capacity 1: each chunk outgrows the preallocated buffer
      let o;
      let at = 0;
      for (const n of chunks) {
        o = await lm.forward(st, { ids: input.map((r) => r.slice(at, at + n)), seq: n });
        at += n;
      }
      const rows: Float32Array[] = lm.lastLogits(o!).map((r) => r.slice());
      const gen: number[][] = input.map(() => []);
      for (let k = 0; k < 4; k++) {
        const next = lm.lastLogits(o!).map((r) => argmax(r));
        next.forEach((t, b) => gen[b]!.push(t));
        o = await lm.forward(st, { ids: next.map((t) => [t]), seq: 1 });
      }
      await lm.release();
      return { rows, gen };
    };
    const whole = await run('ops', [S]);
    const tol = deviceTolerance()?.abs ?? 1e-4;
    const diff = (a: Float32Array, b: Float32Array) => a.reduce((w, v, i) => Math.max(w, Math.abs(v - b[i]!)), 0);
    for (const attention of ATTENTIONS) {
      const chunked = await run(attention, [cut, S - cut]);
      const worst = Math.max(...chunked.rows.map((r, b) => diff(r, whole.rows[b]!)));
      console.log(`parity ${fx.name} [${attention}] chunked batched prefill vs whole: worst ${worst.toExponential(2)}, greedy ${JSON.stringify(chunked.gen)}`);
      expect(worst).toBeLessThanOrEqual(tol);
      expect(chunked.gen).toEqual(whole.gen);
      for (let b = 0; b < ids.length; b++) {
        const pad = leftPad[b]!;
        const single = await run(attention, [S - pad], [ids[b]!.slice(pad)], [0]);
        const w = diff(single.rows[0]!, whole.rows[b]!);
        console.log(`parity ${fx.name} [${attention}] row ${b} alone vs batched: worst ${w.toExponential(2)}`);
        expect(w).toBeLessThanOrEqual(tol);
        expect(single.gen[0]).toEqual(whole.gen[b]);
      }
    }
  });
});
