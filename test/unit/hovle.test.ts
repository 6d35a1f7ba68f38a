// HoVLE pieces that the tiny fixtures do not reach: the bicubic resize of the position table to
// another tile size (PyTorch oracle: tools/make-hovle-bicubic.py) and config errors.
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { writeSafetensors } from '../../src/io/safetensors.js';
import { WeightStore } from '../../src/io/checkpoint.js';
import { parseHovleConfig } from '../../src/models/hovle/model.js';
import { createSession, f32Tensor } from '../../src/graph/session.js';
import { buildHovleVisionGraph } from '../../src/models/hovle/model.js';
import { compare } from '../helpers/fixtures.js';

const oracle = JSON.parse(readFileSync(resolve(__dirname, '../data/hovle/bicubic-pos.json'), 'utf8'));
const D = oracle.dim as number, G = oracle.grid as number, P = 14;

/** A tiny embedding module (zero patch conv) whose vision rows are the position table itself. */
function checkpoint(forceImageSize: number, loc = 'pre') {
  const dir = mkdtempSync(join(tmpdir(), 'tsvlm-hovle-'));
  const f = (shape: number[], data?: number[]) => ({ dtype: 'F32' as const, shape, data: new Float32Array(data ?? shape.reduce((a, b) => a * b, 1)) });
  writeSafetensors(join(dir, 'model.safetensors'), {
    'embedding_model.vision_embeddings.patch_embedding.weight': f([D, 3, P, P]),
    'embedding_model.vision_embeddings.patch_embedding.bias': f([D]),
    'embedding_model.vision_embeddings.position_embedding': f([1, G * G + 1, D], [...new Array(D).fill(9), ...oracle.pos]),
    'embedding_model.llm_text_embeddings.weight': f([8, D]),
    'embedding_model.pixel_shuffle_proj.0.weight': f([D, 4 * D]),
    'embedding_model.pixel_shuffle_proj.0.bias': f([D]),
    'embedding_model.pixel_shuffle_proj.2.weight': f([D, D]),
    'embedding_model.pixel_shuffle_proj.2.bias': f([D]),
  });
  const layer = { hidden_size: D, num_attention_heads: 1, num_key_value_heads: 1, intermediate_size: 8, num_hidden_layers: 1 };
  const config = {
    model_type: 'internvl_chat', force_image_size: forceImageSize, downsample_ratio: 0.5,
    embedding_config: { ...layer, model_type: 'holistic_embedding', patch_size: P, image_size: G * P, llm_vocab_size: 8, img_context_token_id: 7, pixel_shuffle_loc: loc, special_token_maps: {} },
    llm_config: { ...layer, model_type: 'internlm2', vocab_size: 8 },
  };
  const store = WeightStore.open(dir);
  return { store, config };
}

describe('HoVLE position table', () => {
  for (const n of ['6', '2', '4']) {
    it(`resizes ${G}×${G} to ${n}×${n} as F.interpolate(bicubic, align_corners=False)`, async () => {
      const { store, config } = checkpoint(Number(n) * P);
      const cfg = parseHovleConfig(config, store);
      const s = await createSession(buildHovleVisionGraph(store, cfg));
      const S = cfg.imageSize;
      const out = await s.run({ pixel_values: f32Tensor(new Float32Array(3 * S * S), [1, 3, S, S]) });
      const c = compare(out.vision_embeds!.data as Float32Array, oracle.resized[n], { abs: 1e-5, rel: 1e-5 });
      expect(c.ok, `worst ${c.worst}`).toBe(true);
      await s.release();
    });
  }

  it('rejects what the reference cannot run', () => {
    const { store, config } = checkpoint(6 * P, 'post');
    expect(() => parseHovleConfig(config, store)).toThrow(/post" needs force_image_size/);
    expect(() => parseHovleConfig({ ...config, force_image_size: 5 * P }, store)).toThrow(/cannot be pixel-shuffled/);
    expect(() => parseHovleConfig({ ...config, embedding_config: undefined }, store)).toThrow(/embedding_config missing/);
    expect(() => parseHovleConfig({ ...config, llm_config: { ...config.llm_config, model_type: 'qwen2' } }, store)).toThrow(/InternLM2 LLM only/);
  });
});
