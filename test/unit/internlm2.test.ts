// InternLM2's packed wqkv (rows grouped per kv head: [q × H/KV, k, v] × head_dim) and its names,
// checked against the equivalent unpacked Llama: the llama-tiny fixture repacked into the
// InternLM2 layout must give the same logits as the Llama graph (same math).
import { describe, it, expect } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { discoverFixtures } from '../helpers/fixtures.js';
import { WeightStore } from '../../src/io/checkpoint.js';
import { writeSafetensors, type TensorToWrite } from '../../src/io/safetensors.js';
import { parseLlamaConfig } from '../../src/models/llama.js';
import { parseInternLM2Config } from '../../src/models/internlm2.js';
import { DecoderLM } from '../../src/generate/decoder-lm.js';

const llama = discoverFixtures((cfg) => cfg?.model_type === 'llama' && cfg?.num_key_value_heads < cfg?.num_attention_heads)[0];

describe.skipIf(!llama)('internlm2 packed layout', () => {
  it('repacked llama-tiny gives the same logits', async () => {
    const src = WeightStore.open(llama!.dir);
    const cfg = llama!.config!;
    const H = cfg.num_attention_heads, KV = cfg.num_key_value_heads, D = cfg.hidden_size, hd = cfg.head_dim ?? D / H, G = H / KV;
    const f32 = (name: string): TensorToWrite => ({ dtype: 'F32', shape: src.get(name).shape, data: src.readFloat32(name) });
    const out: Record<string, TensorToWrite> = {
      'model.tok_embeddings.weight': f32('model.embed_tokens.weight'),
      'model.norm.weight': f32('model.norm.weight'),
      'output.weight': f32('lm_head.weight'),
    };
    for (let i = 0; i < cfg.num_hidden_layers; i++) {
      const p = `model.layers.${i}`;
      const q = src.readFloat32(`${p}.self_attn.q_proj.weight`), k = src.readFloat32(`${p}.self_attn.k_proj.weight`), v = src.readFloat32(`${p}.self_attn.v_proj.weight`);
      const packed = new Float32Array((H + 2 * KV) * hd * D);
      let row = 0;
      const put = (m: Float32Array, head: number) => packed.set(m.subarray(head * hd * D, (head + 1) * hd * D), (row++ * hd) * D);
      for (let j = 0; j < KV; j++) {
        for (let g = 0; g < G; g++) put(q, j * G + g);
        put(k, j);
        put(v, j);
      }
      out[`${p}.attention.wqkv.weight`] = { dtype: 'F32', shape: [(H + 2 * KV) * hd, D], data: packed };
      out[`${p}.attention.wo.weight`] = f32(`${p}.self_attn.o_proj.weight`);
      out[`${p}.feed_forward.w1.weight`] = f32(`${p}.mlp.gate_proj.weight`);
      out[`${p}.feed_forward.w3.weight`] = f32(`${p}.mlp.up_proj.weight`);
      out[`${p}.feed_forward.w2.weight`] = f32(`${p}.mlp.down_proj.weight`);
      out[`${p}.attention_norm.weight`] = f32(`${p}.input_layernorm.weight`);
      out[`${p}.ffn_norm.weight`] = f32(`${p}.post_attention_layernorm.weight`);
    }
    const dir = mkdtempSync(join(tmpdir(), 'tsvlm-internlm2-'));
    writeSafetensors(join(dir, 'model.safetensors'), out);
    const icfg = { ...cfg, model_type: 'internlm2', architectures: ['InternLM2ForCausalLM'] };
    writeFileSync(join(dir, 'config.json'), JSON.stringify(icfg));
    const store = WeightStore.open(dir);
    const ic = parseInternLM2Config(icfg, store);
    const lc = parseLlamaConfig(cfg, src);
    const ids = [[1, 17, 42, 99, 5, 300, 7, 8]];
    const a = await DecoderLM.create(store, ic.spec, ic.rope, { input: 'ids', allLogits: true });
    const b = await DecoderLM.create(src, lc.spec, lc.rope, { input: 'ids', allLogits: true });
    const la = (await a.forward(a.newState(1), { ids, seq: 8 })).logits!.data as Float32Array;
    const lb = (await b.forward(b.newState(1), { ids, seq: 8 })).logits!.data as Float32Array;
    let worst = 0;
    la.forEach((x, i) => (worst = Math.max(worst, Math.abs(x - lb[i]!))));
    console.log(`internlm2 repacked vs llama logits: worst ${worst.toExponential(2)} (tol 1e-5)`);
    expect(worst).toBeLessThan(1e-5);
  });
});
