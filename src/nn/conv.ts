// Convolution-network layers shared by image models (NCHW activations): Conv2d from a PyTorch
// checkpoint weight [out, in, kh, kw], GroupNorm with per-channel affine.
import { f, type Value } from '../graph/builder.js';
import type { GraphWeights } from './weights.js';

export interface Conv2dOptions {
  stride?: number;
  /** Symmetric padding; default (k − 1) / 2 ("same" for odd kernels at stride 1). */
  padding?: number;
  /** Explicit ONNX pads [top, left, bottom, right] (overrides `padding`). */
  pads?: [number, number, number, number];
}

/** PyTorch nn.Conv2d: x [B, Cin, H, W] → [B, Cout, H', W']; bias used when the checkpoint has it. */
export function conv2d(w: GraphWeights, x: Value, prefix: string, opts: Conv2dOptions = {}): Value {
  const info = w.store.get(`${prefix}.weight`);
  if (info.shape.length !== 4) throw new Error(`${prefix}.weight has shape [${info.shape}], expected a Conv2d weight [out, in, kh, kw]`);
  const [, , kh, kw] = info.shape as [number, number, number, number];
  const ph = opts.padding ?? (kh - 1) / 2;
  const pw = opts.padding ?? (kw - 1) / 2;
  const s = opts.stride ?? 1;
  const inputs = [x, w.get(`${prefix}.weight`)];
  if (w.has(`${prefix}.bias`)) inputs.push(w.get(`${prefix}.bias`));
  return x.graph.op('Conv', inputs, {
    kernel_shape: [kh, kw],
    strides: [s, s],
    pads: opts.pads ?? [ph, pw, ph, pw],
  });
}

/** Output channels of a stored Conv2d / Linear weight. */
export function outChannels(w: GraphWeights, prefix: string): number {
  return w.store.get(`${prefix}.weight`).shape[0]!;
}

/**
 * torch.nn.GroupNorm(groups, C, eps, affine): statistics over (C/groups, H, W) per group, then a
 * per-channel scale and shift. ONNX GroupNormalization (opset 21: per-channel scale/bias).
 * x: [B, C, ...].
 */
export function groupNorm(w: GraphWeights, x: Value, prefix: string, groups: number, eps: number): Value {
  const C = outChannels(w, prefix);
  if (C % groups !== 0) throw new Error(`${prefix}: ${C} channels cannot be split into ${groups} groups`);
  return x.graph.op('GroupNormalization', [x, w.get(`${prefix}.weight`), w.get(`${prefix}.bias`)], {
    num_groups: groups,
    epsilon: f(eps),
  });
}
