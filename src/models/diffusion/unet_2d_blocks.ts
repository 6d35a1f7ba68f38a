// diffusers unet_2d_blocks.py: the UNet's CrossAttnDownBlock2D / DownBlock2D /
// UNetMidBlock2DCrossAttn / CrossAttnUpBlock2D / UpBlock2D and the VAE's DownEncoderBlock2D /
// UpDecoderBlock2D / UNetMidBlock2D (resnet, single-head attention, resnet). NCHW maps.
import type { Value } from '../../graph/builder.js';
import { groupNorm, outChannels } from '../../nn/conv.js';
import type { GraphWeights } from '../../nn/weights.js';
import { attention, attentionNames, type AttentionNames, type Tokens } from './attention_processor.js';
import { downsample2D, resnetBlock2D, upsample2D, type ResnetOptions } from './resnet.js';
import { mapToTokens, tokensToMap, transformer2D, type Transformer2DOptions } from './transformer_2d.js';

export const UNET_DOWN_BLOCKS = ['CrossAttnDownBlock2D', 'DownBlock2D'] as const;
export const UNET_UP_BLOCKS = ['CrossAttnUpBlock2D', 'UpBlock2D'] as const;

/** What every UNet block needs: weights, act(emb), the text context and per-model settings. */
export interface UNetBlockContext {
  w: GraphWeights;
  tembAct: Value;
  context: Tokens;
  resnet: ResnetOptions;
  /** Transformer settings except the head count, which is per block. */
  transformer: Omit<Transformer2DOptions, 'heads'>;
}

export interface BlockSpec {
  type: string;
  prefix: string;
  /** Resnets in the block (layers_per_block; +1 in up blocks). */
  layers: number;
  heads: number;
  /** Not the final block: has a down/upsampler. */
  sample: boolean;
}

/** Down block: returns its output and the skip states it contributes (one per layer + downsampler). */
export function unetDownBlock(c: UNetBlockContext, x: Value, b: BlockSpec, downsamplePadding: number, onLayer?: (i: number, resnet: Value, attn?: Value) => void): { out: Value; skips: Value[] } {
  const cross = b.type === 'CrossAttnDownBlock2D';
  const skips: Value[] = [];
  for (let i = 0; i < b.layers; i++) {
    x = resnetBlock2D(c.w, x, c.tembAct, `${b.prefix}.resnets.${i}`, c.resnet);
    const r = x;
    if (cross) x = transformer2D(c.w, x, c.context, `${b.prefix}.attentions.${i}`, { ...c.transformer, heads: b.heads });
    onLayer?.(i, r, cross ? x : undefined);
    skips.push(x);
  }
  if (b.sample) {
    x = downsample2D(c.w, x, `${b.prefix}.downsamplers.0`, downsamplePadding);
    skips.push(x);
  }
  return { out: x, skips };
}

/** UNetMidBlock2DCrossAttn: resnet, then (transformer, resnet) per layer. */
export function unetMidBlockCrossAttn(c: UNetBlockContext, x: Value, prefix: string, heads: number, outputScale: number): Value {
  const ro = { ...c.resnet, outputScale };
  x = resnetBlock2D(c.w, x, c.tembAct, `${prefix}.resnets.0`, ro);
  for (let i = 0; c.w.has(`${prefix}.attentions.${i}.norm.weight`); i++) {
    x = transformer2D(c.w, x, c.context, `${prefix}.attentions.${i}`, { ...c.transformer, heads });
    x = resnetBlock2D(c.w, x, c.tembAct, `${prefix}.resnets.${i + 1}`, ro);
  }
  return x;
}

/**
 * Up block: each resnet takes cat([x, skip], channels) with skips popped from the end of
 * `skips` (mutated). The upsampler scales to the spatial size of the next skip in line.
 */
export function unetUpBlock(c: UNetBlockContext, x: Value, b: BlockSpec, skips: Value[]): Value {
  const g = x.graph;
  const cross = b.type === 'CrossAttnUpBlock2D';
  for (let i = 0; i < b.layers; i++) {
    const skip = skips.pop();
    if (!skip) throw new Error(`${b.prefix}: no skip connection left for resnet ${i} (block layout does not match the down blocks)`);
    x = resnetBlock2D(c.w, g.op('Concat', [x, skip], { axis: 1 }), c.tembAct, `${b.prefix}.resnets.${i}`, c.resnet);
    if (cross) x = transformer2D(c.w, x, c.context, `${b.prefix}.attentions.${i}`, { ...c.transformer, heads: b.heads });
  }
  if (b.sample) x = upsample2D(c.w, x, `${b.prefix}.upsamplers.0`, skips[skips.length - 1]);
  return x;
}

// ---- VAE blocks (no time embedding, no text) ----

/** VAE attention names: diffusers ≥ 0.17 to_q/to_k/to_v/to_out.0; older uploads query/key/value/proj_attn. */
export function vaeAttentionNames(w: GraphWeights, prefix: string): AttentionNames {
  if (w.has(`${prefix}.to_q.weight`) || !w.has(`${prefix}.query.weight`)) return attentionNames(prefix);
  return { q: `${prefix}.query`, k: `${prefix}.key`, v: `${prefix}.value`, out: `${prefix}.proj_attn` };
}

/** Attention with its own GroupNorm and a residual (VAE mid block; heads = C / attention_head_dim). */
export function vaeAttention(w: GraphWeights, x: Value, prefix: string, groups: number, eps: number): Value {
  const g = x.graph;
  const C = outChannels(w, `${prefix}.group_norm`);
  const t = mapToTokens(groupNorm(w, x, `${prefix}.group_norm`, groups, eps), C);
  const a = attention(w, t, null, vaeAttentionNames(w, prefix), 1);
  return g.op('Add', [tokensToMap({ x: a, bs: t.bs }, C, x), x]);
}

/** UNetMidBlock2D as the VAE uses it: resnet, attention, resnet. */
export function vaeMidBlock(w: GraphWeights, x: Value, prefix: string, o: ResnetOptions): Value {
  x = resnetBlock2D(w, x, null, `${prefix}.resnets.0`, o);
  for (let i = 0; w.has(`${prefix}.resnets.${i + 1}.conv1.weight`); i++) {
    if (w.has(`${prefix}.attentions.${i}.group_norm.weight`)) x = vaeAttention(w, x, `${prefix}.attentions.${i}`, o.groups, o.eps);
    x = resnetBlock2D(w, x, null, `${prefix}.resnets.${i + 1}`, o);
  }
  return x;
}

/** DownEncoderBlock2D: resnets, then a padding-0 downsampler unless final. */
export function downEncoderBlock(w: GraphWeights, x: Value, b: Omit<BlockSpec, 'heads'>, o: ResnetOptions): Value {
  for (let i = 0; i < b.layers; i++) x = resnetBlock2D(w, x, null, `${b.prefix}.resnets.${i}`, o);
  return b.sample ? downsample2D(w, x, `${b.prefix}.downsamplers.0`, 0) : x;
}

/** UpDecoderBlock2D: resnets, then a nearest-2× upsampler unless final. */
export function upDecoderBlock(w: GraphWeights, x: Value, b: Omit<BlockSpec, 'heads'>, o: ResnetOptions): Value {
  for (let i = 0; i < b.layers; i++) x = resnetBlock2D(w, x, null, `${b.prefix}.resnets.${i}`, o);
  return b.sample ? upsample2D(w, x, `${b.prefix}.upsamplers.0`) : x;
}
