// LLaMA decoder (LlamaForCausalLM): RMSNorm, RoPE, GQA, SwiGLU; optional attention/mlp biases.
// Matches transformers' modeling_llama.py.
import { CheckpointError, CONFIG_BOUNDS as B, configFloat, configInt, type WeightStore } from '../io/checkpoint.js';
import type { DecoderSpec } from '../nn/decoder.js';
import { parseRopeConfig, type RopeConfig } from '../generate/rope.js';

export interface DecoderConfig {
  spec: DecoderSpec;
  rope: RopeConfig;
  slidingWindow?: number;
  bosTokenId?: number;
  eosTokenIds: number[];
  padTokenId?: number;
  maxPositions: number;
}

export function eosList(v: unknown): number[] {
  if (typeof v === 'number') return [v];
  if (Array.isArray(v)) return v.filter((x): x is number => typeof x === 'number');
  return [];
}

/** Shape fields every Llama-family config shares (names are the caller's). */
export function decoderDims(cfg: Record<string, any>, what: string): Omit<DecoderSpec, 'names'> {
  // Every number bounded: a zero, negative, fractional or huge value fails here with the field's
  // name instead of producing NaN or hanging the graph build.
  const hidden = configInt(cfg, 'hidden_size', what, { max: B.hidden });
  const heads = configInt(cfg, 'num_attention_heads', what, { max: B.heads });
  const kvHeads = configInt(cfg, 'num_key_value_heads', what, { max: heads }, heads);
  if (heads % kvHeads !== 0) {
    throw new CheckpointError(`config.json: num_attention_heads ${heads} is not a multiple of num_key_value_heads ${kvHeads} (${what})`);
  }
  return {
    hiddenSize: hidden,
    numLayers: configInt(cfg, 'num_hidden_layers', what, { max: B.layers }),
    numHeads: heads,
    numKvHeads: kvHeads,
    headDim: configInt(cfg, 'head_dim', what, { min: 2, max: B.hidden }, hidden / heads),
    intermediateSize: configInt(cfg, 'intermediate_size', what, { max: B.intermediate }),
    vocabSize: configInt(cfg, 'vocab_size', what, { max: B.vocab }),
    rmsNormEps: configFloat(cfg, 'rms_norm_eps', what, { min: 0, max: 1 }, 1e-6),
    hiddenAct: cfg.hidden_act ?? 'silu',
  };
}

/** sliding_window for the models that have one: null/absent → off; otherwise a positive integer. */
export function slidingWindowOf(cfg: Record<string, any>, what: string): { slidingWindow?: number } {
  if (cfg.sliding_window === undefined || cfg.sliding_window === null) return {};
  return { slidingWindow: configInt(cfg, 'sliding_window', what, { max: B.positions }) };
}

/** Token ids, RoPE and context length from config.json, around a spec. */
export function decoderConfig(cfg: Record<string, any>, spec: DecoderSpec, what: string): DecoderConfig {
  return {
    spec,
    rope: parseRopeConfig(cfg, spec.headDim),
    bosTokenId: typeof cfg.bos_token_id === 'number' ? cfg.bos_token_id : undefined,
    eosTokenIds: eosList(cfg.eos_token_id),
    padTokenId: typeof cfg.pad_token_id === 'number' ? cfg.pad_token_id : undefined,
    maxPositions: configInt(cfg, 'max_position_embeddings', what, { max: B.positions }, 4096),
  };
}

/** The config fields every Llama-family decoder shares; names default to the HF Llama layout. */
export function parseLlamaLike(cfg: Record<string, any>, store: WeightStore, what: string, prefix = 'model'): DecoderConfig {
  const tied = cfg.tie_word_embeddings === true || !store.has('lm_head.weight');
  if (cfg.tie_word_embeddings === false && !store.has('lm_head.weight')) {
    throw new CheckpointError(`checkpoint has no lm_head.weight but config.json says tie_word_embeddings is false`);
  }
  const embed = `${prefix}.embed_tokens.weight`;
  const spec: DecoderSpec = {
    ...decoderDims(cfg, what),
    names: {
      embed,
      norm: `${prefix}.norm.weight`,
      lmHead: tied ? embed : 'lm_head.weight',
      layer: (i) => {
        const p = `${prefix}.layers.${i}`;
        return {
          inputNorm: `${p}.input_layernorm.weight`,
          postNorm: `${p}.post_attention_layernorm.weight`,
          q: `${p}.self_attn.q_proj`,
          k: `${p}.self_attn.k_proj`,
          v: `${p}.self_attn.v_proj`,
          o: `${p}.self_attn.o_proj`,
          gate: `${p}.mlp.gate_proj`,
          up: `${p}.mlp.up_proj`,
          down: `${p}.mlp.down_proj`,
        };
      },
    },
  };
  return decoderConfig(cfg, spec, what);
}

export function parseLlamaConfig(cfg: Record<string, any>, store: WeightStore): DecoderConfig {
  return parseLlamaLike(cfg, store, 'a LLaMA checkpoint');
}
