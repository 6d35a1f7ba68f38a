// diffusers vae.py Encoder and Decoder of AutoencoderKL (plus its quant_conv / post_quant_conv),
// as ONNX graphs over NCHW maps. eps 1e-6 everywhere, as diffusers hard-codes for the VAE.
import { Graph } from '../../graph/builder.js';
import type { Value } from '../../graph/builder.js';
import type { WeightStore } from '../../io/checkpoint.js';
import { CheckpointError } from '../../io/checkpoint.js';
import { conv2d, groupNorm } from '../../nn/conv.js';
import { activation } from '../../nn/layers.js';
import { GraphWeights } from '../../nn/weights.js';
import { cfgNumber, cfgNumbers, cfgStrings } from './component.js';
import { downEncoderBlock, upDecoderBlock, vaeMidBlock } from './unet_2d_blocks.js';

export interface VaeConfig {
  inChannels: number;
  outChannels: number;
  latentChannels: number;
  blockOutChannels: number[];
  layersPerBlock: number;
  normGroups: number;
  scalingFactor: number;
}

const WHAT = 'AutoencoderKL';
const EPS = 1e-6;

export function parseVaeConfig(cfg: Record<string, any>): VaeConfig {
  const boc = cfgNumbers(cfg, 'block_out_channels', WHAT);
  for (const [key, allowed] of [['down_block_types', 'DownEncoderBlock2D'], ['up_block_types', 'UpDecoderBlock2D']] as const) {
    const types = cfg[key] === undefined ? Array(boc.length).fill(allowed) : cfgStrings(cfg, key, WHAT);
    if (types.length !== boc.length) throw new CheckpointError(`${WHAT} config.json: ${key} has ${types.length} entries for ${boc.length} block_out_channels`);
    for (const t of types) if (t !== allowed) throw new CheckpointError(`${WHAT} config.json: ${key} entry ${JSON.stringify(t)} is not supported (tsvlm supports ${allowed})`);
  }
  if ((cfg.act_fn ?? 'silu') !== 'silu') throw new CheckpointError(`${WHAT} config.json: act_fn ${JSON.stringify(cfg.act_fn)} is not supported (tsvlm supports "silu")`);
  return {
    inChannels: cfgNumber(cfg, 'in_channels', WHAT, 3),
    outChannels: cfgNumber(cfg, 'out_channels', WHAT, 3),
    latentChannels: cfgNumber(cfg, 'latent_channels', WHAT, 4),
    blockOutChannels: boc,
    layersPerBlock: cfgNumber(cfg, 'layers_per_block', WHAT, 1),
    normGroups: cfgNumber(cfg, 'norm_num_groups', WHAT, 32),
    scalingFactor: cfgNumber(cfg, 'scaling_factor', WHAT, 0.18215),
  };
}

export interface VaeGraphOptions {
  /** Also output the stages the parity fixtures record (post_quant_conv, decoder_mid, …). */
  intermediates?: boolean;
}

/**
 * Decoder graph. In: latents [B, Cl, h, w] as a pipeline holds them (scaled); the graph divides
 * by scaling_factor first (diffusers pipelines call vae.decode(latents / scaling_factor)).
 * Out: sample [B, Cout, 8h, 8w], roughly in [−1, 1].
 */
export function buildVaeDecoderGraph(store: WeightStore, c: VaeConfig, opts: VaeGraphOptions = {}): Graph {
  const g = new Graph('vae_decoder');
  const w = new GraphWeights(g, store);
  const n = c.blockOutChannels.length;
  const top = c.blockOutChannels[n - 1]!;
  store.expect({
    'post_quant_conv.weight': [c.latentChannels, c.latentChannels, 1, 1],
    'decoder.conv_in.weight': [top, c.latentChannels, 3, 3],
    'decoder.conv_out.weight': [c.outChannels, c.blockOutChannels[0]!, 3, 3],
  });
  const dbg = (v: Value, name: string) => { if (opts.intermediates) g.output(v, name); };
  const ro = { groups: c.normGroups, eps: EPS };
  const latents = g.input('latents', 'float32', ['batch', c.latentChannels, 'height', 'width']);
  let x = conv2d(w, g.op('Div', [latents, g.scalar(c.scalingFactor)]), 'post_quant_conv');
  dbg(x, 'post_quant_conv');
  x = conv2d(w, x, 'decoder.conv_in');
  dbg(x, 'decoder_conv_in');
  x = vaeMidBlock(w, x, 'decoder.mid_block', ro);
  dbg(x, 'decoder_mid');
  for (let i = 0; i < n; i++) {
    x = upDecoderBlock(w, x, { type: 'UpDecoderBlock2D', prefix: `decoder.up_blocks.${i}`, layers: c.layersPerBlock + 1, sample: i < n - 1 }, ro);
    dbg(x, `decoder_up${i}`);
  }
  x = activation(g, groupNorm(w, x, 'decoder.conv_norm_out', c.normGroups, EPS), 'silu');
  g.output(conv2d(w, x, 'decoder.conv_out'), 'sample', 'float32', ['batch', c.outChannels, 'out_height', 'out_width']);
  return g;
}

/**
 * Encoder graph. In: image [B, Cin, H, W] in [−1, 1]. Out: mean and logvar (clamped to
 * [−30, 20]) of the latent distribution [B, Cl, H/8, W/8], unscaled (diffusers latent_dist).
 */
export function buildVaeEncoderGraph(store: WeightStore, c: VaeConfig): Graph {
  const g = new Graph('vae_encoder');
  const w = new GraphWeights(g, store);
  const n = c.blockOutChannels.length;
  const top = c.blockOutChannels[n - 1]!;
  store.expect({
    'encoder.conv_in.weight': [c.blockOutChannels[0]!, c.inChannels, 3, 3],
    'encoder.conv_out.weight': [2 * c.latentChannels, top, 3, 3],
    'quant_conv.weight': [2 * c.latentChannels, 2 * c.latentChannels, 1, 1],
  });
  const ro = { groups: c.normGroups, eps: EPS };
  const image = g.input('image', 'float32', ['batch', c.inChannels, 'height', 'width']);
  let x = conv2d(w, image, 'encoder.conv_in');
  for (let i = 0; i < n; i++) {
    x = downEncoderBlock(w, x, { type: 'DownEncoderBlock2D', prefix: `encoder.down_blocks.${i}`, layers: c.layersPerBlock, sample: i < n - 1 }, ro);
  }
  x = vaeMidBlock(w, x, 'encoder.mid_block', ro);
  x = activation(g, groupNorm(w, x, 'encoder.conv_norm_out', c.normGroups, EPS), 'silu');
  const moments = conv2d(w, conv2d(w, x, 'encoder.conv_out'), 'quant_conv'); // [B, 2·Cl, h, w]
  const [mean, logvar] = g.opN('Split', [moments], { axis: 1, num_outputs: 2 }, 2) as [Value, Value];
  g.output(mean, 'mean');
  g.output(g.op('Clip', [logvar, g.scalar(-30), g.scalar(20)]), 'logvar');
  return g;
}
