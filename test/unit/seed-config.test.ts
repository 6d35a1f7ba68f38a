// SEED tokenizer sizes without config.json (the released seed_quantizer.pt has none): from the
// tensor shapes of a real-sized v2 state dict plus the published constructor defaults.
import { describe, expect, it } from 'vitest';
import { WeightStore } from '../../src/io/checkpoint.js';
import { seedConfig, seedVariantOf } from '../../src/models/seed/config.js';

/** A store holding only tensor headers (seedConfig never reads bytes). */
function headerStore(shapes: Record<string, number[]>): WeightStore {
  const s = new WeightStore();
  for (const [name, shape] of Object.entries(shapes)) {
    const n = shape.reduce((a, b) => a * b, 1);
    s.tensors.set(name, { name, dtype: 'F16', shape, file: '/nonexistent', offset: 0, length: 2 * n });
  }
  return s;
}

function realV2(): Record<string, number[]> {
  const t: Record<string, number[]> = {
    'visual_encoder.cls_token': [1, 1, 1408],
    'visual_encoder.pos_embed': [1, 257, 1408],
    'visual_encoder.patch_embed.proj.weight': [1408, 3, 14, 14],
    'ln_vision.weight': [1408],
    query_tokens: [1, 32, 768],
    'quantize.embedding.weight': [8192, 32],
    pos_embed_image: [1, 32, 768],
    'distill_image_proj.weight': [1024, 1024],
    'image_down.4.weight': [32, 128],
  };
  for (let i = 0; i < 39; i++) {
    t[`visual_encoder.blocks.${i}.attn.qkv.weight`] = [3 * 1408, 1408];
    t[`visual_encoder.blocks.${i}.mlp.fc1.weight`] = [6144, 1408];
  }
  for (let i = 0; i < 12; i++) {
    t[`Qformer.bert.encoder.layer.${i}.attention.self.query.weight`] = [768, 768];
    if (i % 2 === 0) {
      t[`Qformer.bert.encoder.layer.${i}.crossattention.self.query.weight`] = [768, 768];
      t[`Qformer.bert.encoder.layer.${i}.crossattention.self.key.weight`] = [768, 1408];
    }
  }
  for (let i = 0; i < 4; i++) t[`blocks_image.${i}.attn.qkv.weight`] = [3 * 768, 768];
  return t;
}

describe('seedConfig from tensor shapes only', () => {
  it('gives the published SEED v2 sizes', () => {
    const c = seedConfig(headerStore(realV2()));
    expect(c.variant).toBe('v2');
    expect(c.vit).toEqual({ imageSize: 224, patchSize: 14, tokens: 257, dim: 1408, depth: 39, heads: 16, mlp: 6144, eps: 1e-6 });
    expect(c.lnVisionEps).toBe(1e-5);
    expect(c.qformer).toMatchObject({ queries: 32, hidden: 768, heads: 12, eps: 1e-12, encoderWidth: 1408, causal: true });
    expect(c.qformer.crossAttention).toEqual(Array.from({ length: 12 }, (_, i) => i % 2 === 0));
    expect([c.codebookSize, c.codebookDim]).toEqual([8192, 32]);
    expect(c.blocks).toMatchObject({ prefix: 'blocks_image', depth: 4, heads: 12, eps: 1e-6 });
    expect(c.embeddingShape).toEqual([1024]);
    expect(c.resample).toBe('bicubic');
  });

  it('says what is missing for weights that are not a SEED tokenizer', () => {
    const t = realV2();
    delete t['quantize.embedding.weight'];
    expect(seedVariantOf(headerStore(t))).toBeUndefined();
    expect(() => seedConfig(headerStore(t))).toThrow(/not a SEED tokenizer/);
    const noVit = realV2();
    delete noVit['visual_encoder.patch_embed.proj.weight'];
    expect(() => seedConfig(headerStore(noVit))).toThrow(/no tensor visual_encoder\.patch_embed\.proj\.weight/);
    const odd = realV2();
    odd['visual_encoder.cls_token'] = [1, 1, 100];
    odd['visual_encoder.patch_embed.proj.weight'] = [100, 3, 14, 14];
    expect(() => seedConfig(headerStore(odd))).toThrow(/attention heads for width 100/);
  });
});
