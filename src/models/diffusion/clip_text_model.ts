// CLIPTextModel (Stable Diffusion's prompt encoder): token + position embeddings, pre-LN causal
// transformer, final LayerNorm. Matches transformers' modeling_clip.py CLIPTextTransformer as
// diffusers' StableDiffusionPipeline.encode_prompt calls it (no attention mask, clip_skip).
import { Graph, type Value } from '../../graph/builder.js';
import { createSession, i64Tensor, type ort } from '../../graph/session.js';
import { CheckpointError, configNumber, type WeightStore } from '../../io/checkpoint.js';
import { activation, flatten2d, layerNorm, linear, reshapeLead } from '../../nn/layers.js';
import { GraphWeights } from '../../nn/weights.js';
import { loadTokenizer, type Tokenizer } from '../../tokenizers/index.js';
import type { Device } from '../../api.js';
import { openComponentWeights, readPythonJsonFile, type WeightOptions } from './pipeline-folder.js';
import { join } from 'node:path';
import { existsSync } from 'node:fs';

export interface ClipTextConfig {
  vocab_size: number;
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  max_position_embeddings: number;
  hidden_act: string;
  layer_norm_eps: number;
  eos_token_id: number;
}

/** Parses a CLIPTextConfig config.json (defaults: transformers' CLIPTextConfig). */
export function parseClipTextConfig(cfg: Record<string, any>): ClipTextConfig {
  const c = cfg.model_type === 'clip' && cfg.text_config ? cfg.text_config : cfg;
  const what = 'a CLIPTextModel config';
  return {
    vocab_size: configNumber(c, 'vocab_size', what, 49408),
    hidden_size: configNumber(c, 'hidden_size', what, 512),
    intermediate_size: configNumber(c, 'intermediate_size', what, 2048),
    num_hidden_layers: configNumber(c, 'num_hidden_layers', what, 12),
    num_attention_heads: configNumber(c, 'num_attention_heads', what, 8),
    max_position_embeddings: configNumber(c, 'max_position_embeddings', what, 77),
    hidden_act: typeof c.hidden_act === 'string' ? c.hidden_act : 'quick_gelu',
    layer_norm_eps: configNumber(c, 'layer_norm_eps', what, 1e-5),
    eos_token_id: configNumber(c, 'eos_token_id', what, 2),
  };
}

export interface ClipTextGraphOptions {
  /** Also output every hidden state `hidden_states.i` (0 = embeddings), before the final LayerNorm. */
  hiddenStates?: boolean;
  /**
   * diffusers' clip_skip: `prompt_embeds` = final_layer_norm(hidden_states[-(clipSkip + 1)]).
   * 0 (default) = last_hidden_state.
   */
  clipSkip?: number;
  /**
   * Add an `attention_mask` [B, L] int64 input (1 = token, 0 = padding) masking padding keys on
   * top of the causal mask, as transformers does when one is passed. The SD pipelines pass none.
   */
  attentionMask?: boolean;
}

/** "text_model." in checkpoints saved by transformers 4.x; transformers 5 drops it. */
function weightPrefix(store: WeightStore): string {
  if (store.has('text_model.embeddings.token_embedding.weight')) return 'text_model.';
  if (store.has('embeddings.token_embedding.weight')) return '';
  throw new CheckpointError('text encoder weights: no text_model.embeddings.token_embedding.weight (expected a CLIPTextModel checkpoint)');
}

/**
 * In: input_ids [B, L] int64 (L ≤ max_position_embeddings). Out: last_hidden_state [B, L, D],
 * prompt_embeds [B, L, D] (= last_hidden_state unless clipSkip), hidden_states.i when asked.
 */
export function buildClipTextGraph(store: WeightStore, c: ClipTextConfig, opts: ClipTextGraphOptions = {}): Graph {
  const g = new Graph('clip_text_model');
  const w = new GraphWeights(g, store);
  const D = c.hidden_size;
  const p = weightPrefix(store);
  store.expect({
    [`${p}embeddings.token_embedding.weight`]: [c.vocab_size, D],
    [`${p}embeddings.position_embedding.weight`]: [c.max_position_embeddings, D],
    [`${p}final_layer_norm.weight`]: [D],
  });
  const skip = opts.clipSkip ?? 0;
  if (!Number.isInteger(skip) || skip < 0 || skip >= c.num_hidden_layers) {
    throw new RangeError(`clipSkip must be an integer in [0, ${c.num_hidden_layers - 1}], got ${skip}`);
  }
  const ids = g.input('input_ids', 'int64', ['batch', 'length']);
  const bs = g.op('Shape', [ids]); // [B, L]
  const L = g.op('Slice', [bs, g.ints([1]), g.ints([2])]);
  const tok = g.op('Gather', [w.get(`${p}embeddings.token_embedding.weight`), ids]); // [B, L, D]
  const pos = g.op('Slice', [w.get(`${p}embeddings.position_embedding.weight`), g.ints([0]), L, g.ints([0])]); // [L, D]
  let bias: Value | null = null;
  if (opts.attentionMask) {
    // [B, L] → additive [B, 1, 1, L]: 0 for tokens, the float32 minimum for padding (as transformers).
    const m = g.op('Cast', [g.input('attention_mask', 'int64', ['batch', 'length'])], { to: 1 });
    const add = g.op('Mul', [g.op('Sub', [g.scalar(1), m]), g.scalar(-3.4028234663852886e38)]);
    const b1 = g.op('Slice', [bs, g.ints([0]), g.ints([1])]);
    bias = g.op('Expand', [g.op('Unsqueeze', [add, g.ints([1, 2])]), g.op('Concat', [b1, g.ints([1]), L, L], { axis: 0 })]); // [B, 1, L, L]
  }
  let x = flatten2d(g.op('Add', [tok, pos]), D); // [B·L, D]
  const hidden: Value[] = [x];
  // Causal mask only: the SD pipelines pass no attention mask, so padding positions attend too.
  x = clipEncoderLayers(w, x, bs, `${p}encoder`, c, { causal: true, bias, hidden });
  const last = reshapeLead(layerNorm(w, x, `${p}final_layer_norm`, c.layer_norm_eps), bs, [D]);
  g.output(last, 'last_hidden_state', 'float32', ['batch', 'length', D]);
  const embeds = skip === 0 ? last : reshapeLead(layerNorm(w, hidden[hidden.length - 1 - skip]!, `${p}final_layer_norm`, c.layer_norm_eps), bs, [D]);
  g.output(embeds, 'prompt_embeds', 'float32', ['batch', 'length', D]);
  if (opts.hiddenStates) hidden.forEach((h, i) => g.output(reshapeLead(h, bs, [D]), `hidden_states.${i}`));
  return g;
}

/** The CLIP encoder layer sizes (text and vision towers alike). */
export type ClipEncoderConfig = Pick<ClipTextConfig, 'hidden_size' | 'num_hidden_layers' | 'num_attention_heads' | 'hidden_act' | 'layer_norm_eps'>;

/**
 * transformers' CLIPEncoder: pre-LN layers `x += out_proj(attn(layer_norm1(x)))`,
 * `x += fc2(act(fc1(layer_norm2(x))))`. x: [B·S, D]; bs: [B, S] int64; `bias` an additive
 * [B, 1, S, S] mask; every layer's output is pushed to `hidden`.
 */
export function clipEncoderLayers(
  w: GraphWeights, x: Value, bs: Value, prefix: string, c: ClipEncoderConfig,
  o: { causal: boolean; bias?: Value | null; hidden?: Value[] },
): Value {
  const g = x.graph;
  const D = c.hidden_size;
  for (let i = 0; i < c.num_hidden_layers; i++) {
    const lp = `${prefix}.layers.${i}`;
    const h = layerNorm(w, x, `${lp}.layer_norm1`, c.layer_norm_eps);
    const q = reshapeLead(linear(w, h, `${lp}.self_attn.q_proj`), bs, [D]);
    const k = reshapeLead(linear(w, h, `${lp}.self_attn.k_proj`), bs, [D]);
    const v = reshapeLead(linear(w, h, `${lp}.self_attn.v_proj`), bs, [D]);
    const a = g.op('MultiHeadAttention', [q, k, v, null, null, o.bias ?? null], { num_heads: c.num_attention_heads, unidirectional: o.causal ? 1 : 0 }, 'com.microsoft');
    x = g.op('Add', [x, linear(w, flatten2d(a, D), `${lp}.self_attn.out_proj`)]);
    const m = layerNorm(w, x, `${lp}.layer_norm2`, c.layer_norm_eps);
    x = g.op('Add', [x, linear(w, activation(g, linear(w, m, `${lp}.mlp.fc1`), c.hidden_act), `${lp}.mlp.fc2`)]);
    o.hidden?.push(x);
  }
  return x;
}

/** Pooled output of transformers' CLIPTextTransformer: the row at the first eos (legacy eos id 2: argmax of the ids). */
export function clipPooledIndex(ids: readonly number[], eosTokenId: number): number {
  if (eosTokenId === 2) {
    let best = 0;
    for (let i = 1; i < ids.length; i++) if (ids[i]! > ids[best]!) best = i;
    return best;
  }
  const i = ids.indexOf(eosTokenId);
  return i < 0 ? ids.length - 1 : i;
}

export interface ClipPromptIds {
  /** [B][maxLength] ids: bos + up to maxLength − 2 tokens + eos, padded with the pad token. */
  ids: number[][];
  /** 1 = bos..eos, 0 = padding (not passed to the encoder by the SD pipelines). */
  attentionMask: number[][];
}

/** tokenizer(prompts, padding="max_length", max_length, truncation=True), as the SD pipelines call it. */
export function tokenizeClipPrompts(tok: Tokenizer, prompts: readonly string[], maxLength = tok.modelMaxLength ?? 77): ClipPromptIds {
  const seqs = prompts.map((p) => tok.encode(p, { maxLength }));
  return tok.padBatch(seqs, { side: 'right', length: maxLength });
}

/** A Stable Diffusion prompt encoder: tokenizer/ + text_encoder/ of a diffusers folder. */
export class ClipTextEncoder {
  private constructor(
    readonly tokenizer: Tokenizer,
    readonly config: ClipTextConfig,
    private readonly session: ort.InferenceSession,
    readonly maxLength: number,
  ) {}

  static async load(tokenizerDir: string, textEncoderDir: string, opts: WeightOptions & ClipTextGraphOptions & { device?: Device } = {}): Promise<ClipTextEncoder> {
    const cfgPath = join(textEncoderDir, 'config.json');
    if (!existsSync(cfgPath)) throw new CheckpointError(`${textEncoderDir}: no config.json (expected a CLIPTextModel folder)`);
    const config = parseClipTextConfig(readPythonJsonFile(cfgPath));
    const tokenizer = await loadTokenizer(tokenizerDir);
    const store = openComponentWeights(textEncoderDir, opts);
    const session = await createSession(buildClipTextGraph(store, config, { clipSkip: opts.clipSkip }), { device: opts.device });
    const maxLength = Math.min(tokenizer.modelMaxLength ?? config.max_position_embeddings, config.max_position_embeddings);
    return new ClipTextEncoder(tokenizer, config, session, maxLength);
  }

  /** prompt_embeds [B, maxLength, D] of the prompts (the empty prompt "" is the unconditional embedding). */
  async encode(prompts: readonly string[]): Promise<{ data: Float32Array; dims: number[] }> {
    const { ids } = tokenizeClipPrompts(this.tokenizer, prompts, this.maxLength);
    const out = await this.session.run({ input_ids: i64Tensor(ids.flat(), [ids.length, this.maxLength]) });
    const t = out.prompt_embeds!;
    return { data: t.data as Float32Array, dims: t.dims as number[] };
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
