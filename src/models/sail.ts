// SAIL: one Mistral transformer reading raw 32×32 pixel patches (no vision encoder).
// Matches ByteDance-Seed/SAIL modeling_sail.py (SailForCausalLM) and example.py.
import { Graph } from '../graph/builder.js';
import { GraphWeights } from '../nn/weights.js';
import { linear } from '../nn/layers.js';
import { CheckpointError, type WeightStore } from '../io/checkpoint.js';
import { parseMistralConfig } from './mistral.js';
import type { DecoderConfig } from './llama.js';
import { mropeTables, invFreq, type RopeConfig } from '../generate/rope.js';

export const SAIL_SPECIAL_TOKENS = ['<vision>', '<vpatch>', '<vrow_sep>', '<vframe_sep>', '</vision>', '<|vis_cls|>'] as const;

export interface SailConfig extends DecoderConfig {
  patchSize: number;
  /** Token ids of <vision>, <vpatch>, </vision> when config.json names them (else from the tokenizer). */
  visionTokenIds: Partial<Record<(typeof SAIL_SPECIAL_TOKENS)[number], number>>;
}

export function isSailConfig(cfg: Record<string, any>): boolean {
  return typeof cfg.vision_patch_size === 'number' && (cfg.model_type === 'mistral' || cfg.model_type === 'sail');
}

export function parseSailConfig(cfg: Record<string, any>, store: WeightStore): SailConfig {
  if (typeof cfg.vision_patch_size !== 'number') {
    throw new CheckpointError('config.json: vision_patch_size missing (expected a SAIL checkpoint)');
  }
  const dec = parseMistralConfig({ ...cfg, model_type: 'mistral' }, store);
  const ids: SailConfig['visionTokenIds'] = { ...(cfg.vision_special_tokens ?? {}) };
  const legacy: Record<string, string> = {
    vis_beg_tok_id: '<vision>', vis_patch_tok_id: '<vpatch>', vis_rsep_tok_id: '<vrow_sep>',
    vis_frm_tok_id: '<vframe_sep>', vis_end_tok_id: '</vision>', vis_cls_tok_id: '<|vis_cls|>',
  };
  for (const [k, tok] of Object.entries(legacy)) if (typeof cfg[k] === 'number') (ids as Record<string, number>)[tok] = cfg[k];
  const p = cfg.vision_patch_size;
  store.expect({ 'model.vis_embed.weight': [dec.spec.hiddenSize, 3 * p * p] });
  return { ...dec, patchSize: p, visionTokenIds: ids };
}

/**
 * Input embeddings: embed_tokens(ids), plus vis_embed(patch) added at <vpatch> tokens.
 * In: input_ids [B, S], vision_patches [N, 3·p·p], vision_patch_indices [B, S] (-1 = none).
 * Out: inputs_embeds [B, S, D], vis_embed [N, D].
 */
export function buildSailEmbedGraph(store: WeightStore, c: SailConfig): Graph {
  const g = new Graph('sail_embed');
  const w = new GraphWeights(g, store);
  const D = c.spec.hiddenSize;
  const ids = g.input('input_ids', 'int64', ['batch', 'seq']);
  const patches = g.input('vision_patches', 'float32', ['patches', 3 * c.patchSize * c.patchSize]);
  const idx = g.input('vision_patch_indices', 'int64', ['batch', 'seq']);
  const tok = g.op('Gather', [w.get(c.spec.names.embed), ids]);
  const vis = linear(w, patches, 'model.vis_embed', false); // [N, D]
  // Row 0 is a zero vector for tokens without a patch (index -1 → 0).
  const table = g.op('Concat', [g.constant('float32', [1, D], new Float32Array(D)), vis], { axis: 0 });
  const add = g.op('Gather', [table, g.op('Add', [idx, g.constant('int64', [], [1])])]);
  g.output(g.op('Add', [tok, add]), 'inputs_embeds');
  g.output(vis, 'vis_embed');
  return g;
}

/**
 * 3-axis positions (T, H, W) of an image prompt, as example.py's generate_mm_pos_ids_singleit:
 * tokens before the first patch s: (t,t,t); patch k: (s, s+k//nw, s+k%nw); after the image:
 * t − nh·nw + max(nh, nw) on all axes. Returns [3][L].
 */
export function sailPositions(len: number, grid?: { nh: number; nw: number; start: number }): number[][] {
  const T: number[] = [], H: number[] = [], W: number[] = [];
  for (let t = 0; t < len; t++) {
    if (!grid || t < grid.start) {
      T.push(t); H.push(t); W.push(t);
      continue;
    }
    const { nh, nw, start: s } = grid;
    const k = t - s;
    if (k < nh * nw) {
      T.push(s); H.push(s + Math.floor(k / nw)); W.push(s + (k % nw));
    } else {
      const p = t - nh * nw + Math.max(nh, nw);
      T.push(p); H.push(p); W.push(p);
    }
  }
  return [T, H, W];
}

/** SAIL's M-RoPE: the first half of the frequencies rotate by H, the second half by W. */
export function sailRope(rope: RopeConfig, positions: number[][][]): { cos: Float32Array; sin: Float32Array } {
  const half = rope.headDim / 2;
  const axisOf = Array.from({ length: half }, (_, k) => (k < half / 2 ? 1 : 2));
  const maxPos = Math.max(...positions.flat(2));
  return mropeTables(invFreq(rope, maxPos + 1), axisOf, positions);
}
