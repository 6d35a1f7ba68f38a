// diffusers resnet.py: ResnetBlock2D (GroupNorm → SiLU → conv, time-embedding shift, GroupNorm →
// SiLU → conv, 1×1 conv shortcut when channels change), Downsample2D, Upsample2D (nearest).
import type { Value } from '../../graph/builder.js';
import { conv2d, groupNorm } from '../../nn/conv.js';
import { activation, linear } from '../../nn/layers.js';
import type { GraphWeights } from '../../nn/weights.js';

export interface ResnetOptions {
  groups: number;
  eps: number;
  /** output_scale_factor (1 in every SD checkpoint). */
  outputScale?: number;
  act?: string;
}

/**
 * x: [B, Cin, H, W]; tembAct: act(emb) [B, T] (diffusers applies the nonlinearity to temb
 * inside every block; it is the same value, computed once) or null (VAE). → [B, Cout, H, W].
 */
export function resnetBlock2D(w: GraphWeights, x: Value, tembAct: Value | null, prefix: string, o: ResnetOptions): Value {
  const g = x.graph;
  const act = o.act ?? 'silu';
  let h = activation(g, groupNorm(w, x, `${prefix}.norm1`, o.groups, o.eps), act);
  h = conv2d(w, h, `${prefix}.conv1`);
  if (tembAct && w.has(`${prefix}.time_emb_proj.weight`)) {
    const t = linear(w, tembAct, `${prefix}.time_emb_proj`); // [B, Cout]
    h = g.op('Add', [h, g.op('Unsqueeze', [t, g.ints([2, 3])])]);
  }
  h = activation(g, groupNorm(w, h, `${prefix}.norm2`, o.groups, o.eps), act);
  h = conv2d(w, h, `${prefix}.conv2`);
  const shortcut = w.has(`${prefix}.conv_shortcut.weight`) ? conv2d(w, x, `${prefix}.conv_shortcut`, { padding: 0 }) : x;
  const out = g.op('Add', [shortcut, h]);
  const s = o.outputScale ?? 1;
  return s === 1 ? out : g.op('Div', [out, g.scalar(s)]);
}

/** Downsample2D with conv: 3×3 stride 2; padding 0 means F.pad(0,1,0,1) first (VAE encoder). */
export function downsample2D(w: GraphWeights, x: Value, prefix: string, padding: number): Value {
  return conv2d(w, x, `${prefix}.conv`, padding === 0 ? { stride: 2, pads: [0, 0, 1, 1] } : { stride: 2, padding });
}

/**
 * Upsample2D with conv: nearest-neighbour 2× (or to the spatial size of `sizeLike`, as the UNet
 * does when the latent is not a multiple of 2^n), then 3×3 conv.
 */
export function upsample2D(w: GraphWeights, x: Value, prefix: string, sizeLike?: Value): Value {
  const g = x.graph;
  // torch "nearest": src = floor(dst · in/out) = ONNX asymmetric + floor.
  const attrs = { mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' };
  let up: Value;
  if (sizeLike) {
    const sizes = g.op('Concat', [g.op('Slice', [g.op('Shape', [x]), g.ints([0]), g.ints([2])]), g.op('Slice', [g.op('Shape', [sizeLike]), g.ints([2]), g.ints([4])])], { axis: 0 });
    up = g.op('Resize', [x, null, null, sizes], attrs);
  } else {
    up = g.op('Resize', [x, null, g.constant('float32', [4], [1, 1, 2, 2])], attrs);
  }
  return conv2d(w, up, `${prefix}.conv`);
}
