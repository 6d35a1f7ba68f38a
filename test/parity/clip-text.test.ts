// Stable Diffusion prompt encoding parity (CLIP BPE tokenizer from vocab.json + merges.txt and
// CLIPTextModel) against transformers + diffusers encode_prompt, for every clip-text fixture found.
import { describe, it, expect } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES_ROOT, discoverFixtures, checkTensor, DEVICE, deviceTolerance, type Fixture } from '../helpers/fixtures.js';
import { createSession, i64Tensor } from '../../src/graph/session.js';
import { loadTokenizer } from '../../src/tokenizers/index.js';
import {
  buildClipTextGraph, clipPooledIndex, ClipTextEncoder, parseClipTextConfig, tokenizeClipPrompts,
} from '../../src/models/diffusion/clip_text_model.js';
import { openComponentWeights } from '../../src/models/diffusion/pipeline-folder.js';

const fixtures = discoverFixtures((_cfg, dir) => {
  const p = join(dir, 'text_encoder', 'config.json');
  return existsSync(p) && existsSync(join(dir, 'tokenizer')) && JSON.parse(readFileSync(p, 'utf8')).model_type === 'clip_text_model';
});
if (!fixtures.length) it.skip(`no matching fixtures under ${FIXTURES_ROOT}`, () => {});

/** [B, D]: each row's hidden state at its pooled position. */
function pooledRows(last: Float32Array, ids: number[], B: number, L: number, D: number, eos: number): Float32Array {
  const pooled = new Float32Array(B * D);
  for (let b = 0; b < B; b++) {
    const j = clipPooledIndex(ids.slice(b * L, (b + 1) * L), eos);
    pooled.set(last.subarray((b * L + j) * D, (b * L + j + 1) * D), b * D);
  }
  return pooled;
}

const caseOf = (fx: Fixture, name: string) => fx.cases.find((c) => c.name === name);

describe.each(fixtures.map((f) => [f.name, f] as [string, Fixture]))('clip text parity %s', (_name, fx) => {
  const tokDir = join(fx.dir, 'tokenizer');
  const encDir = join(fx.dir, 'text_encoder');
  const cfg = parseClipTextConfig(JSON.parse(readFileSync(join(encDir, 'config.json'), 'utf8')));
  const store = openComponentWeights(encDir);
  const ids = fx.ints('input_ids');
  const [B, L] = fx.shape('input_ids') as [number, number];

  for (const [name, idsKey, maskKey, strings] of [
    ['tokenize', 'input_ids', 'attention_mask', (c: any) => c.facts.prompts as string[]],
    ['tokenize_edge', 'edge.input_ids', 'edge.attention_mask', (c: any) => (c.facts.edge as any[]).map((e) => e.string as string)],
  ] as const) {
    const c = caseOf(fx, name);
    if (!c) continue;
    it(`${name}: ids and mask exact`, async () => {
      const tok = await loadTokenizer(tokDir);
      expect(tok.modelMaxLength).toBe(77);
      const got = tokenizeClipPrompts(tok, strings(c));
      const want = fx.ints(idsKey);
      const n = fx.shape(idsKey)[1]!;
      const prompts = strings(c);
      prompts.forEach((p, i) => {
        expect(got.ids[i], `ids of ${JSON.stringify(p)}`).toEqual(want.slice(i * n, (i + 1) * n));
        expect(got.attentionMask[i], `mask of ${JSON.stringify(p)}`).toEqual(fx.ints(maskKey).slice(i * n, (i + 1) * n));
      });
    });
  }

  it('text_encoder: hidden states, last_hidden_state, pooled output', async () => {
    const c = caseOf(fx, 'text_encoder')!;
    const s = await createSession(buildClipTextGraph(store, cfg, { hiddenStates: true }), { device: DEVICE });
    const out = await s.run({ input_ids: i64Tensor(ids, [B, L]) });
    const D = cfg.hidden_size;
    const last = out.last_hidden_state!.data as Float32Array;
    const pooled = pooledRows(last, ids, B, L, D, cfg.eos_token_id);
    for (const key of c.outputs) {
      const got = key === 'prompt_embeds' ? last : key === 'pooler_output' ? pooled : (out[key]!.data as Float32Array);
      checkTensor(fx, c, key, got, undefined, deviceTolerance());
    }
  });

  it('clip_skip: final LayerNorm of the penultimate hidden state', async () => {
    const c = caseOf(fx, 'clip_skip');
    if (!c) return;
    const s = await createSession(buildClipTextGraph(store, cfg, { clipSkip: 1 }), { device: DEVICE });
    const out = await s.run({ input_ids: i64Tensor(ids, [B, L]) });
    checkTensor(fx, c, 'clip_skip_1', out.prompt_embeds!.data as Float32Array, undefined, deviceTolerance());
  });

  it('encode_prompt: prompt strings → prompt_embeds and the "" negative embedding', async () => {
    const c = caseOf(fx, 'encode_prompt')!;
    const enc = await ClipTextEncoder.load(tokDir, encDir);
    const prompts: string[] = caseOf(fx, 'tokenize')!.facts!.prompts;
    const pos = await enc.encode(prompts);
    expect(pos.dims).toEqual([B, L, cfg.hidden_size]);
    checkTensor(fx, c, 'prompt_embeds', pos.data, undefined, deviceTolerance());
    const neg = await enc.encode(['']);
    checkTensor(fx, c, 'negative_prompt_embeds', neg.data, undefined, deviceTolerance());
  });

  it('attention_mask_variant: transformers\' masked call (causal + padding mask; the pipelines pass none)', async () => {
    const c = caseOf(fx, 'attention_mask_variant');
    if (!c) return;
    const s = await createSession(buildClipTextGraph(store, cfg, { attentionMask: true }), { device: DEVICE });
    const [n, l] = fx.shape('masked.input_ids') as [number, number];
    const out = await s.run({
      input_ids: i64Tensor(fx.ints('masked.input_ids'), [n, l]),
      attention_mask: i64Tensor(fx.ints('masked.attention_mask'), [n, l]),
    });
    const last = out.last_hidden_state!.data as Float32Array;
    checkTensor(fx, c, 'masked.last_hidden_state', last, undefined, deviceTolerance());
    checkTensor(fx, c, 'masked.pooler_output', pooledRows(last, fx.ints('masked.input_ids'), n, l, cfg.hidden_size, cfg.eos_token_id), undefined, deviceTolerance());
  });
});
