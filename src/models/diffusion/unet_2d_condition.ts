// diffusers unet_2d_condition.py UNet2DConditionModel (0.20.2 semantics) as one ONNX graph built
// from the component folder: config.json drives the block layout, tensor names are the
// checkpoint's. Covers SD 1.x / 2.x and Stable unCLIP (class_embed_type "projection").
import { Graph } from '../../graph/builder.js';
import type { Value } from '../../graph/builder.js';
import { createSession, f32Tensor, type ort } from '../../graph/session.js';
import { CheckpointError } from '../../io/checkpoint.js';
import { conv2d, groupNorm, outChannels } from '../../nn/conv.js';
import { activation, flatten2d } from '../../nn/layers.js';
import { GraphWeights } from '../../nn/weights.js';
import { InputError, type Device } from '../../api.js';
import type { WeightStore } from '../../io/checkpoint.js';
import { cfgNumber, cfgNumbers, cfgStrings, openDiffusersComponent, type ComponentOptions } from './component.js';
import { timestepEmbedding, timestepSinusoid } from './embeddings.js';
import { UNET_DOWN_BLOCKS, UNET_UP_BLOCKS, unetDownBlock, unetMidBlockCrossAttn, unetUpBlock, type BlockSpec, type UNetBlockContext } from './unet_2d_blocks.js';

export interface UNetConfig {
  inChannels: number;
  outChannels: number;
  downBlockTypes: string[];
  upBlockTypes: string[];
  midBlockType: string | null;
  blockOutChannels: number[];
  layersPerBlock: number;
  /** Attention heads per down block (diffusers 0.20.2: num_attention_heads = attention_head_dim). */
  heads: number[];
  crossAttentionDim: number;
  useLinearProjection: boolean;
  onlyCrossAttention: boolean;
  transformerLayers: number;
  normGroups: number;
  normEps: number;
  flipSinToCos: boolean;
  freqShift: number;
  downsamplePadding: number;
  midBlockScaleFactor: number;
  centerInputSample: boolean;
  /** null or "projection" (unCLIP: TimestepEmbedding on the given class_labels vector). */
  classEmbedType: 'projection' | null;
  classInputDim: number | null;
}

const WHAT = 'UNet2DConditionModel';

function unsupported(key: string, v: unknown, allowed: string): never {
  throw new CheckpointError(`${WHAT} config.json: ${key} = ${JSON.stringify(v)} is not supported (tsvlm supports ${allowed})`);
}

/** Parses and checks a UNet2DConditionModel config.json (defaults are diffusers 0.20.2's). */
export function parseUNetConfig(cfg: Record<string, any>): UNetConfig {
  const down = cfgStrings(cfg, 'down_block_types', WHAT);
  const up = cfgStrings(cfg, 'up_block_types', WHAT);
  const n = down.length;
  if (up.length !== n) throw new CheckpointError(`${WHAT} config.json: ${n} down blocks but ${up.length} up blocks`);
  for (const t of down) if (!(UNET_DOWN_BLOCKS as readonly string[]).includes(t)) unsupported('down_block_types', t, UNET_DOWN_BLOCKS.join(', '));
  for (const t of up) if (!(UNET_UP_BLOCKS as readonly string[]).includes(t)) unsupported('up_block_types', t, UNET_UP_BLOCKS.join(', '));
  const mid = cfg.mid_block_type === undefined ? 'UNetMidBlock2DCrossAttn' : cfg.mid_block_type;
  if (mid !== null && mid !== 'UNetMidBlock2DCrossAttn') unsupported('mid_block_type', mid, 'UNetMidBlock2DCrossAttn or null');
  const boc = cfgNumbers(cfg, 'block_out_channels', WHAT);
  if (boc.length !== n) throw new CheckpointError(`${WHAT} config.json: block_out_channels has ${boc.length} entries for ${n} blocks`);
  // The naming quirk of diffusers ≤ 0.20: "attention_head_dim" holds the number of heads.
  const headsKey = cfg.num_attention_heads != null ? 'num_attention_heads' : 'attention_head_dim';
  const heads = cfgNumbers(cfg, headsKey, WHAT, n);
  boc.forEach((c, i) => {
    if (c % heads[i]! !== 0) throw new CheckpointError(`${WHAT} config.json: block ${i} has ${c} channels, not divisible by ${heads[i]} heads (${headsKey})`);
  });
  const cls = cfg.class_embed_type ?? null;
  if (cls !== null && cls !== 'projection') unsupported('class_embed_type', cls, 'null or "projection"');
  if (cfg.class_embeddings_concat) unsupported('class_embeddings_concat', true, 'false');
  for (const key of ['addition_embed_type', 'encoder_hid_dim', 'time_cond_proj_dim', 'timestep_post_act', 'time_embedding_act_fn', 'num_class_embeds']) {
    if (cfg[key] != null) unsupported(key, cfg[key], 'null');
  }
  if ((cfg.time_embedding_type ?? 'positional') !== 'positional') unsupported('time_embedding_type', cfg.time_embedding_type, '"positional"');
  if ((cfg.resnet_time_scale_shift ?? 'default') !== 'default') unsupported('resnet_time_scale_shift', cfg.resnet_time_scale_shift, '"default"');
  if ((cfg.act_fn ?? 'silu') !== 'silu') unsupported('act_fn', cfg.act_fn, '"silu"');
  if (cfg.dual_cross_attention) unsupported('dual_cross_attention', true, 'false');
  if (Array.isArray(cfg.only_cross_attention)) unsupported('only_cross_attention', cfg.only_cross_attention, 'a single boolean');
  if ((cfg.attention_type ?? 'default') !== 'default') unsupported('attention_type', cfg.attention_type, '"default"');
  if ((cfg.resnet_out_scale_factor ?? 1) !== 1) unsupported('resnet_out_scale_factor', cfg.resnet_out_scale_factor, '1');
  if (cfg.resnet_skip_time_act) unsupported('resnet_skip_time_act', true, 'false');
  if (cfg.cross_attention_norm != null) unsupported('cross_attention_norm', cfg.cross_attention_norm, 'null');
  const tl = cfg.transformer_layers_per_block ?? 1;
  if (typeof tl !== 'number') unsupported('transformer_layers_per_block', tl, 'a single number');
  const cad = cfg.cross_attention_dim ?? 1280;
  if (typeof cad !== 'number') unsupported('cross_attention_dim', cad, 'a single number');
  return {
    inChannels: cfgNumber(cfg, 'in_channels', WHAT, 4),
    outChannels: cfgNumber(cfg, 'out_channels', WHAT, 4),
    downBlockTypes: down,
    upBlockTypes: up,
    midBlockType: mid,
    blockOutChannels: boc,
    layersPerBlock: cfgNumber(cfg, 'layers_per_block', WHAT, 2),
    heads,
    crossAttentionDim: cad,
    useLinearProjection: !!cfg.use_linear_projection,
    onlyCrossAttention: !!cfg.only_cross_attention,
    transformerLayers: tl,
    normGroups: cfgNumber(cfg, 'norm_num_groups', WHAT, 32),
    normEps: cfgNumber(cfg, 'norm_eps', WHAT, 1e-5),
    flipSinToCos: cfg.flip_sin_to_cos ?? true,
    freqShift: cfgNumber(cfg, 'freq_shift', WHAT, 0),
    downsamplePadding: cfgNumber(cfg, 'downsample_padding', WHAT, 1),
    midBlockScaleFactor: cfgNumber(cfg, 'mid_block_scale_factor', WHAT, 1),
    centerInputSample: !!cfg.center_input_sample,
    classEmbedType: cls,
    classInputDim: cls === 'projection' ? cfgNumber(cfg, 'projection_class_embeddings_input_dim', WHAT) : null,
  };
}

export interface UNetGraphOptions {
  /** Also output the intermediates the parity fixtures record (time_embedding, down0, mid, …). */
  intermediates?: boolean;
}

/**
 * Inputs: sample [B, Cin, h, w], time_proj [B, C0] (the sinusoid, computed in TypeScript),
 * encoder_hidden_states [B, T, Dc], class_labels [B, P] (projection class embedding only).
 * Output: out [B, Cout, h, w] (the model's epsilon / v prediction).
 */
export function buildUNetGraph(store: WeightStore, c: UNetConfig, opts: UNetGraphOptions = {}): Graph {
  const g = new Graph('unet_2d_condition');
  const w = new GraphWeights(g, store);
  const C0 = c.blockOutChannels[0]!;
  const T = outChannels(w, 'time_embedding.linear_2');
  store.expect({
    'conv_in.weight': [C0, c.inChannels, ...store.get('conv_in.weight').shape.slice(2)],
    'time_embedding.linear_1.weight': [T, C0],
    'conv_out.weight': [c.outChannels, C0, ...store.get('conv_out.weight').shape.slice(2)],
    ...(c.classEmbedType === 'projection' ? { 'class_embedding.linear_1.weight': [T, c.classInputDim!] } : {}),
    'down_blocks.0.resnets.0.conv1.weight': [C0, C0, 3, 3],
  });
  const dbg = (v: Value, name: string) => { if (opts.intermediates) g.output(v, name); };

  let sample = g.input('sample', 'float32', ['batch', c.inChannels, 'height', 'width']);
  const tproj = g.input('time_proj', 'float32', ['batch', C0]);
  const ehs = g.input('encoder_hidden_states', 'float32', ['batch', 'tokens', c.crossAttentionDim]);
  if (c.centerInputSample) sample = g.op('Sub', [g.op('Mul', [sample, g.scalar(2)]), g.scalar(1)]);

  let emb = timestepEmbedding(w, tproj, 'time_embedding'); // [B, T]
  dbg(emb, 'time_embedding');
  if (c.classEmbedType === 'projection') {
    const labels = g.input('class_labels', 'float32', ['batch', c.classInputDim!]);
    const ce = timestepEmbedding(w, labels, 'class_embedding');
    dbg(ce, 'class_embedding');
    emb = g.op('Add', [emb, ce]);
  }
  const context = { x: flatten2d(ehs, c.crossAttentionDim), bs: g.op('Slice', [g.op('Shape', [ehs]), g.ints([0]), g.ints([2])]) };
  const ctx: UNetBlockContext = {
    w,
    tembAct: activation(g, emb, 'silu'),
    context,
    resnet: { groups: c.normGroups, eps: c.normEps },
    transformer: {
      groups: c.normGroups,
      eps: 1e-5, // BasicTransformerBlock LayerNorms: Transformer2DModel's norm_eps default
      useLinearProjection: c.useLinearProjection,
      onlyCrossAttention: c.onlyCrossAttention,
      layers: c.transformerLayers,
    },
  };

  let x = conv2d(w, sample, 'conv_in');
  dbg(x, 'conv_in');
  const skips: Value[] = [x];
  const n = c.downBlockTypes.length;
  c.downBlockTypes.forEach((type, i) => {
    const spec: BlockSpec = { type, prefix: `down_blocks.${i}`, layers: c.layersPerBlock, heads: c.heads[i]!, sample: i < n - 1 };
    const r = unetDownBlock(ctx, x, spec, c.downsamplePadding, i === 0 ? (j, res, attn) => {
      if (j === 0) { dbg(res, 'down0_resnet0'); if (attn) dbg(attn, 'down0_attn0'); }
    } : undefined);
    x = r.out;
    skips.push(...r.skips);
    dbg(x, `down${i}`);
  });
  if (c.midBlockType) {
    x = unetMidBlockCrossAttn(ctx, x, 'mid_block', c.heads[n - 1]!, c.midBlockScaleFactor);
    dbg(x, 'mid');
  }
  const upHeads = [...c.heads].reverse();
  c.upBlockTypes.forEach((type, i) => {
    x = unetUpBlock(ctx, x, { type, prefix: `up_blocks.${i}`, layers: c.layersPerBlock + 1, heads: upHeads[i]!, sample: i < n - 1 }, skips);
    dbg(x, `up${i}`);
  });
  if (skips.length) throw new CheckpointError(`${WHAT}: ${skips.length} skip connections left unused (block layout mismatch)`);
  if (w.has('conv_norm_out.weight')) {
    x = groupNorm(w, x, 'conv_norm_out', c.normGroups, c.normEps);
    dbg(x, 'conv_norm_out');
    x = activation(g, x, 'silu');
  }
  g.output(conv2d(w, x, 'conv_out'), 'out', 'float32', ['batch', c.outChannels, 'height', 'width']);
  return g;
}

export interface UNetLoadOptions extends ComponentOptions, UNetGraphOptions {
  device?: Device;
  /** Keep fp32 weights memory-mapped instead of pre-packed (halves peak memory; see ort-facts.md). */
  disablePrepacking?: boolean;
}

export interface UNetInputs {
  /** Latents [B, Cin, h, w] row-major. */
  sample: Float32Array;
  /** [B, Cin, h, w] of `sample`. */
  shape: readonly number[];
  /** One timestep for the whole batch or one per row; may be fractional. */
  timestep: number | ArrayLike<number>;
  /** Text embeddings [B, T, cross_attention_dim] row-major (T inferred). */
  encoderHiddenStates: Float32Array;
  /** unCLIP: noised image embedding ‖ noise-level sinusoid [B, projection_class_embeddings_input_dim]. */
  classLabels?: Float32Array;
}

/** A loaded UNet: `run` = diffusers `unet(sample, t, encoder_hidden_states, class_labels=…).sample`. */
export class UNet2DConditionModel {
  private constructor(readonly config: UNetConfig, readonly session: ort.InferenceSession, readonly dir: string) {}

  static async load(dir: string, opts: UNetLoadOptions = {}): Promise<UNet2DConditionModel> {
    const comp = openDiffusersComponent(dir, 'UNet2DConditionModel', opts);
    const config = parseUNetConfig(comp.config);
    const graph = buildUNetGraph(comp.store, config, opts);
    const session = await createSession(graph, { device: opts.device, disablePrepacking: opts.disablePrepacking });
    return new UNet2DConditionModel(config, session, comp.dir);
  }

  /** Checks shapes and builds the session feeds. */
  private feeds(inp: UNetInputs): Record<string, ort.Tensor> {
    const c = this.config;
    const [B, C, h, w] = inp.shape;
    if (inp.shape.length !== 4 || C !== c.inChannels || !(B! > 0 && h! > 0 && w! > 0)) {
      throw new InputError(`UNet sample shape [${inp.shape}] must be [batch, ${c.inChannels}, height, width]`);
    }
    if (inp.sample.length !== B! * C * h! * w!) throw new InputError(`UNet sample has ${inp.sample.length} values, shape [${inp.shape}] needs ${B! * C * h! * w!}`);
    const ts = typeof inp.timestep === 'number' ? Array(B).fill(inp.timestep) : Array.from(inp.timestep);
    if (ts.length === 1 && B! > 1) ts.length = B!, ts.fill(ts[0]);
    if (ts.length !== B || ts.some((t) => !Number.isFinite(t))) throw new InputError(`UNet needs one finite timestep or ${B}, got ${JSON.stringify(Array.from(ts))}`);
    const D = c.crossAttentionDim;
    const ehs = inp.encoderHiddenStates;
    if (ehs.length === 0 || ehs.length % (B! * D) !== 0) {
      throw new InputError(`UNet encoder_hidden_states has ${ehs.length} values, not a multiple of batch ${B} × ${D} (cross_attention_dim)`);
    }
    const feeds: Record<string, ort.Tensor> = {
      sample: f32Tensor(inp.sample, [B!, C, h!, w!]),
      time_proj: f32Tensor(timestepSinusoid(ts, c.blockOutChannels[0]!, c.flipSinToCos, c.freqShift), [B!, c.blockOutChannels[0]!]),
      encoder_hidden_states: f32Tensor(ehs, [B!, ehs.length / (B! * D), D]),
    };
    if (c.classEmbedType === 'projection') {
      const P = c.classInputDim!;
      if (!inp.classLabels) throw new InputError(`this UNet has a projection class embedding: classLabels [${B}, ${P}] (the unCLIP image embedding ‖ noise-level embedding) is required`);
      if (inp.classLabels.length !== B! * P) throw new InputError(`UNet classLabels has ${inp.classLabels.length} values, expected [${B}, ${P}]`);
      feeds.class_labels = f32Tensor(inp.classLabels, [B!, P]);
    } else if (inp.classLabels) {
      throw new InputError('this UNet has no class embedding; classLabels must not be given');
    }
    return feeds;
  }

  /** All graph outputs by name (`out` plus intermediates when loaded with `intermediates`). */
  async forward(inp: UNetInputs): Promise<Record<string, Float32Array>> {
    const r = await this.session.run(this.feeds(inp));
    return Object.fromEntries(Object.entries(r).map(([k, t]) => [k, t.data as Float32Array]));
  }

  /** The prediction [B, Cout, h, w] (epsilon or v, as the checkpoint was trained). */
  async run(inp: UNetInputs): Promise<Float32Array> {
    const feeds = this.feeds(inp);
    const r = await this.session.run(feeds, ['out']);
    return r.out!.data as Float32Array;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
