// CLIPVisionModelWithProjection, the image encoder of the Stable unCLIP repos (image variations:
// picture → image_embeds): transformers' modeling_clip.py vision tower (patch conv without bias,
// class token, learned positions, pre_layrnorm, pre-LN encoder, post_layernorm on the class
// token, visual_projection) and CLIPImageProcessor's slow path (shortest edge resize, Pillow
// bicubic, center crop, rescale + CLIP normalisation).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Graph } from '../../graph/builder.js';
import { createSession, f32Tensor, type ort } from '../../graph/session.js';
import { CheckpointError, configNumber, type WeightStore } from '../../io/checkpoint.js';
import { flatten2d, layerNorm, linear, reshapeLead } from '../../nn/layers.js';
import { GraphWeights } from '../../nn/weights.js';
import { decodeImage } from '../../processors/image.js';
import { resampleFilter } from '../../processors/resize.js';
import { CLIP_MEAN, CLIP_STD, normalize, resizeRGB, type RGBPixels } from '../../processors/vision.js';
import type { Device, ImageInput } from '../../api.js';
import { clipEncoderLayers, type ClipEncoderConfig } from './clip_text_model.js';
import { openComponentWeights, readPythonJsonFile, type WeightOptions } from './pipeline-folder.js';

export interface ClipVisionConfig extends ClipEncoderConfig {
  image_size: number;
  patch_size: number;
  num_channels: number;
  projection_dim: number;
}

export function parseClipVisionConfig(cfg: Record<string, any>): ClipVisionConfig {
  const c = cfg.model_type === 'clip' && cfg.vision_config ? { projection_dim: cfg.projection_dim, ...cfg.vision_config } : cfg;
  const what = 'a CLIPVisionModelWithProjection config';
  return {
    hidden_size: configNumber(c, 'hidden_size', what, 768),
    num_hidden_layers: configNumber(c, 'num_hidden_layers', what, 12),
    num_attention_heads: configNumber(c, 'num_attention_heads', what, 12),
    hidden_act: typeof c.hidden_act === 'string' ? c.hidden_act : 'quick_gelu',
    layer_norm_eps: configNumber(c, 'layer_norm_eps', what, 1e-5),
    image_size: configNumber(c, 'image_size', what, 224),
    patch_size: configNumber(c, 'patch_size', what, 32),
    num_channels: configNumber(c, 'num_channels', what, 3),
    projection_dim: configNumber(c, 'projection_dim', what, 512),
  };
}

/** In: pixel_values [B, C, S, S]. Out: image_embeds [B, P], last_hidden_state [B, N + 1, D]. */
export function buildClipVisionGraph(store: WeightStore, c: ClipVisionConfig): Graph {
  const g = new Graph('clip_vision_model');
  const w = new GraphWeights(g, store);
  const D = c.hidden_size, P = c.patch_size;
  const grid = Math.floor(c.image_size / P);
  const N = grid * grid + 1;
  const p = 'vision_model';
  store.expect({
    [`${p}.embeddings.patch_embedding.weight`]: [D, c.num_channels, P, P],
    [`${p}.embeddings.class_embedding`]: [D],
    [`${p}.embeddings.position_embedding.weight`]: [N, D],
    'visual_projection.weight': [c.projection_dim, D],
  });
  const px = g.input('pixel_values', 'float32', ['batch', c.num_channels, c.image_size, c.image_size]);
  const conv = g.op('Conv', [px, w.get(`${p}.embeddings.patch_embedding.weight`)], { kernel_shape: [P, P], strides: [P, P] }); // [B, D, g, g]
  const patches = g.op('Transpose', [g.op('Reshape', [conv, g.ints([0, D, N - 1])])], { perm: [0, 2, 1] }); // [B, N−1, D]
  const b1 = g.op('Slice', [g.op('Shape', [px]), g.ints([0]), g.ints([1])]);
  const cls = g.op('Expand', [g.op('Reshape', [w.get(`${p}.embeddings.class_embedding`), g.ints([1, 1, D])]), g.op('Concat', [b1, g.ints([1, D])], { axis: 0 })]);
  const emb = g.op('Add', [g.op('Concat', [cls, patches], { axis: 1 }), w.get(`${p}.embeddings.position_embedding.weight`)]); // [B, N, D]
  const bs = g.op('Concat', [b1, g.ints([N])], { axis: 0 });
  let x = layerNorm(w, flatten2d(emb, D), `${p}.pre_layrnorm`, c.layer_norm_eps);
  x = clipEncoderLayers(w, x, bs, `${p}.encoder`, c, { causal: false });
  const last = reshapeLead(x, bs, [D]);
  g.output(last, 'last_hidden_state', 'float32', ['batch', N, D]);
  const first = g.op('Reshape', [g.op('Slice', [last, g.ints([0]), g.ints([1]), g.ints([1])]), g.ints([-1, D])]); // [B, D]
  const pooled = layerNorm(w, first, `${p}.post_layernorm`, c.layer_norm_eps);
  g.output(linear(w, pooled, 'visual_projection', false), 'image_embeds', 'float32', ['batch', c.projection_dim]);
  return g;
}

export interface ClipImageProcessorConfig {
  shortestEdge: number;
  cropHeight: number;
  cropWidth: number;
  resample: ReturnType<typeof resampleFilter>;
  rescale: number;
  mean: number[];
  std: number[];
}

/** The slow CLIPImageProcessor settings of a preprocessor_config.json. */
export function clipImageProcessorConfig(pc: Record<string, any> = {}): ClipImageProcessorConfig {
  const size = pc.size ?? { shortest_edge: 224 };
  const crop = pc.crop_size ?? { height: 224, width: 224 };
  const shortest = typeof size === 'number' ? size : size.shortest_edge;
  if (typeof shortest !== 'number') throw new CheckpointError(`preprocessor_config.json: size ${JSON.stringify(size)} has no shortest_edge (expected a CLIPImageProcessor)`);
  if (pc.do_resize === false || pc.do_center_crop === false || pc.do_normalize === false) {
    throw new CheckpointError('preprocessor_config.json: a CLIPImageProcessor without resize, center crop or normalisation is not supported');
  }
  return {
    shortestEdge: shortest,
    cropHeight: typeof crop === 'number' ? crop : crop.height,
    cropWidth: typeof crop === 'number' ? crop : crop.width,
    resample: resampleFilter(pc.resample ?? 3),
    rescale: pc.do_rescale === false ? 1 : pc.rescale_factor ?? 1 / 255,
    mean: pc.image_mean ?? [...CLIP_MEAN],
    std: pc.image_std ?? [...CLIP_STD],
  };
}

/** CHW float32 pixels: shortest edge → `shortestEdge` (long edge int(s·long/short)), center crop, normalise. */
export function clipImagePixels(img: RGBPixels, c: ClipImageProcessorConfig): Float32Array {
  const short = Math.min(img.width, img.height), long = Math.max(img.width, img.height);
  const l = Math.floor((c.shortestEdge * long) / short);
  const [w, h] = img.width <= img.height ? [c.shortestEdge, l] : [l, c.shortestEdge];
  const r = w === img.width && h === img.height ? img : resizeRGB(img, w, h, c.resample);
  const top = Math.floor((h - c.cropHeight) / 2), left = Math.floor((w - c.cropWidth) / 2);
  if (top < 0 || left < 0) throw new RangeError(`center crop ${c.cropWidth}×${c.cropHeight} is larger than the resized ${w}×${h}`);
  const data = new Uint8Array(c.cropWidth * c.cropHeight * 3);
  for (let y = 0; y < c.cropHeight; y++) {
    const src = ((top + y) * w + left) * 3;
    data.set(r.data.subarray(src, src + c.cropWidth * 3), y * c.cropWidth * 3);
  }
  return normalize({ width: c.cropWidth, height: c.cropHeight, data }, c.mean, c.std, { rescale: c.rescale });
}

/** image_encoder/ + feature_extractor/ of an unCLIP folder: pictures → image_embeds [B, P]. */
export class ClipImageEncoder {
  private constructor(
    readonly config: ClipVisionConfig,
    readonly processor: ClipImageProcessorConfig,
    private readonly session: ort.InferenceSession,
  ) {}

  static async load(encoderDir: string, processorDir: string | undefined, opts: WeightOptions & { device?: Device } = {}): Promise<ClipImageEncoder> {
    const cfgPath = join(encoderDir, 'config.json');
    if (!existsSync(cfgPath)) throw new CheckpointError(`${encoderDir}: no config.json (expected a CLIPVisionModelWithProjection folder)`);
    const config = parseClipVisionConfig(readPythonJsonFile(cfgPath));
    const pcPath = processorDir ? join(processorDir, 'preprocessor_config.json') : undefined;
    const processor = clipImageProcessorConfig(pcPath && existsSync(pcPath) ? readPythonJsonFile(pcPath) : { size: { shortest_edge: config.image_size }, crop_size: config.image_size });
    if (processor.cropHeight !== config.image_size || processor.cropWidth !== config.image_size) {
      throw new CheckpointError(`${pcPath}: crop ${processor.cropWidth}×${processor.cropHeight} does not match the encoder's image_size ${config.image_size}`);
    }
    const session = await createSession(buildClipVisionGraph(openComponentWeights(encoderDir, opts), config), { device: opts.device });
    return new ClipImageEncoder(config, processor, session);
  }

  /** image_embeds [B, projection_dim] of the pictures. */
  async embed(images: ImageInput[]): Promise<Float32Array> {
    const S = this.config.image_size;
    const px = new Float32Array(images.length * 3 * S * S);
    for (let i = 0; i < images.length; i++) px.set(clipImagePixels(await decodeImage(images[i]!), this.processor), i * 3 * S * S);
    const out = await this.session.run({ pixel_values: f32Tensor(px, [images.length, 3, S, S]) });
    return out.image_embeds!.data as Float32Array;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
