// SEED tokenizer sizes. The released checkpoints have no config.json (seed_quantizer.pt, v1's
// .pth files): every size that a tensor shape fixes comes from the shapes; the rest (head counts,
// LayerNorm eps) from config.json when the folder has one (the tiny fixtures), else from the
// published constructor defaults (create_eva_vit_g: heads = 1408 // 88; BERT-base Q-Former:
// head dim 64, eps 1e-12; timm Blocks with 12 heads, eps 1e-6).
import { CheckpointError, type WeightStore } from '../../io/checkpoint.js';
import type { ResampleFilter } from '../../processors/resize.js';

export type SeedVariant = 'v2' | 'v1';

export interface EvaVitConfig {
  imageSize: number;
  patchSize: number;
  /** Tokens = 1 (CLS) + (imageSize / patchSize)². */
  tokens: number;
  dim: number;
  depth: number;
  heads: number;
  mlp: number;
  eps: number;
}

export interface QformerConfig {
  /** 'Qformer' or 'Reverse_Qformer' (tensor-name prefix). */
  prefix: string;
  /** query_tokens or reverse_tokens. */
  queryTokens: string;
  queries: number;
  hidden: number;
  heads: number;
  eps: number;
  /** Layer i has cross-attention iff crossAttention[i] (read from the tensors present). */
  crossAttention: boolean[];
  /** Width of the cross-attention memory. */
  encoderWidth: number;
  /** Causal self-attention among the queries (the reference sets it for exactly 32 query rows). */
  causal: boolean;
}

export interface BlocksConfig {
  /** 'blocks_image' (v2) or 'blocks_text' (v1). */
  prefix: string;
  depth: number;
  heads: number;
  eps: number;
  /** pos_embed_image / pos_embed_text */
  posEmbed: string;
}

export interface SeedConfig {
  variant: SeedVariant;
  vit: EvaVitConfig;
  lnVisionEps: number;
  qformer: QformerConfig;
  codebookSize: number;
  codebookDim: number;
  blocks: BlocksConfig;
  /** v1 only: the 77-query reverse Q-Former. */
  reverse?: QformerConfig;
  /** One decoded embedding: v2 [image_features_dim], v1 [77, text_features_dim]. */
  embeddingShape: number[];
  resample: ResampleFilter;
}

function countIndexed(store: WeightStore, prefix: string, suffix: string): number {
  let n = 0;
  while (store.has(`${prefix}.${n}.${suffix}`)) n++;
  return n;
}

function shapeOf(store: WeightStore, name: string): number[] {
  if (!store.has(name)) throw new CheckpointError(`checkpoint has no tensor ${name} (expected a SEED tokenizer checkpoint)`);
  return store.get(name).shape;
}

/** A head count: config value, else dim / headDim of the published model; must divide dim. */
function heads(cfgValue: unknown, dim: number, headDim: number, what: string): number {
  const h = typeof cfgValue === 'number' ? cfgValue : dim / headDim;
  if (!Number.isInteger(h) || h <= 0 || dim % h !== 0) {
    throw new CheckpointError(`${what}: cannot tell the number of attention heads for width ${dim} (set it in config.json)`);
  }
  return h;
}

const num = (v: unknown, fallback: number) => (typeof v === 'number' && Number.isFinite(v) ? v : fallback);

function qformerConfig(store: WeightStore, prefix: string, queryTokens: string, cfg: Record<string, any> | undefined, defaultHeads: number | undefined): QformerConfig {
  const [, queries, hidden] = shapeOf(store, queryTokens) as [number, number, number];
  const layer = `${prefix}.bert.encoder.layer`;
  const depth = countIndexed(store, layer, 'attention.self.query.weight');
  if (!depth) throw new CheckpointError(`checkpoint has no ${layer}.0.* tensors (expected a SEED ${prefix})`);
  const crossAttention = Array.from({ length: depth }, (_, i) => store.has(`${layer}.${i}.crossattention.self.query.weight`));
  const first = crossAttention.indexOf(true);
  if (first < 0) throw new CheckpointError(`${prefix}: no layer has cross-attention tensors`);
  return {
    prefix,
    queryTokens,
    queries,
    hidden,
    heads: heads(cfg?.num_attention_heads ?? defaultHeads, hidden, 64, prefix),
    eps: num(cfg?.layer_norm_eps, 1e-12),
    crossAttention,
    encoderWidth: shapeOf(store, `${layer}.${first}.crossattention.self.key.weight`)[1]!,
    // BertModel.forward: is_casual only when the query embeddings have exactly 32 rows.
    causal: queries === 32,
  };
}

/** Which SEED tokenizer a weight set is, from its tensor names. */
export function seedVariantOf(store: WeightStore): SeedVariant | undefined {
  if (!store.has('quantize.embedding.weight') || !store.has('visual_encoder.cls_token')) return undefined;
  if (store.has('reverse_tokens') && store.has('distill_text_proj.weight')) return 'v1';
  if (store.has('distill_image_proj.weight')) return 'v2';
  return undefined;
}

/** Sizes of a SEED tokenizer from its tensors (+ config.json's head counts / eps when present). */
export function seedConfig(store: WeightStore, config?: Record<string, any>): SeedConfig {
  const variant = seedVariantOf(store);
  if (!variant) throw new CheckpointError('the weights are not a SEED tokenizer (no quantize.embedding.weight / distill_*_proj tensors)');
  const [dim, , P] = shapeOf(store, 'visual_encoder.patch_embed.proj.weight') as [number, number, number];
  const tokens = shapeOf(store, 'visual_encoder.pos_embed')[1]!;
  const grid = Math.round(Math.sqrt(tokens - 1));
  if (grid * grid !== tokens - 1) throw new CheckpointError(`visual_encoder.pos_embed has ${tokens} rows, not 1 + a square number of patches`);
  const vc = config?.vision;
  const vit: EvaVitConfig = {
    imageSize: grid * P,
    patchSize: P,
    tokens,
    dim,
    depth: countIndexed(store, 'visual_encoder.blocks', 'attn.qkv.weight'),
    heads: heads(vc?.num_heads, dim, 88, 'visual_encoder'),
    mlp: shapeOf(store, 'visual_encoder.blocks.0.mlp.fc1.weight')[0]!,
    eps: num(vc?.layer_norm_eps, 1e-6),
  };
  const qformer = qformerConfig(store, 'Qformer', 'query_tokens', config?.qformer, undefined);
  const [codebookSize, codebookDim] = shapeOf(store, 'quantize.embedding.weight') as [number, number];
  const bPrefix = variant === 'v2' ? 'blocks_image' : 'blocks_text';
  const bc = variant === 'v2' ? config?.decoder : config?.blocks_text;
  const blocks: BlocksConfig = {
    prefix: bPrefix,
    depth: countIndexed(store, bPrefix, 'attn.qkv.weight'),
    heads: num(bc?.num_heads, 12), // hardcoded 12 in the reference
    eps: num(bc?.layer_norm_eps, 1e-6),
    posEmbed: variant === 'v2' ? 'pos_embed_image' : 'pos_embed_text',
  };
  let reverse: QformerConfig | undefined;
  let embeddingShape: number[];
  if (variant === 'v2') {
    embeddingShape = [shapeOf(store, 'distill_image_proj.weight')[0]!];
  } else {
    reverse = qformerConfig(store, 'Reverse_Qformer', 'reverse_tokens', config?.reverse_qformer, undefined);
    embeddingShape = [reverse.queries, shapeOf(store, 'distill_text_proj.weight')[0]!];
  }
  const resize = String(config?.preprocess?.resample ?? 'bicubic');
  return {
    variant,
    vit,
    lnVisionEps: num(config?.ln_vision?.layer_norm_eps, 1e-5),
    qformer,
    codebookSize,
    codebookDim,
    blocks,
    reverse,
    embeddingShape,
    resample: resize === 'bilinear' ? 'bilinear' : 'bicubic',
  };
}
