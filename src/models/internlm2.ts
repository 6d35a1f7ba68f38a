// InternLM2 decoder (InternLM2ForCausalLM, remote code): the Llama math with a packed `wqkv`
// (rows grouped per kv head: [q × H/KV, k, v] × head_dim) and its own names
// (tok_embeddings, attention.wo, feed_forward.w1/w3/w2, attention_norm, ffn_norm, output).
import { configNumber, type WeightStore } from '../io/checkpoint.js';
import type { DecoderSpec } from '../nn/decoder.js';
import { parseRopeConfig } from '../generate/rope.js';
import { eosList, type DecoderConfig } from './llama.js';

/** `prefix` is 'model' for InternLM2ForCausalLM, 'language_model.model' inside HoVLE. */
export function parseInternLM2Config(cfg: Record<string, any>, store: WeightStore, prefix = 'model', head = 'output.weight'): DecoderConfig {
  const what = 'an InternLM2 checkpoint';
  const hidden = configNumber(cfg, 'hidden_size', what);
  const heads = configNumber(cfg, 'num_attention_heads', what);
  const headDim = hidden / heads;
  const embed = `${prefix}.tok_embeddings.weight`;
  const spec: DecoderSpec = {
    hiddenSize: hidden,
    numLayers: configNumber(cfg, 'num_hidden_layers', what),
    numHeads: heads,
    numKvHeads: configNumber(cfg, 'num_key_value_heads', what, heads),
    headDim,
    intermediateSize: configNumber(cfg, 'intermediate_size', what),
    vocabSize: configNumber(cfg, 'vocab_size', what),
    rmsNormEps: configNumber(cfg, 'rms_norm_eps', what, 1e-6),
    hiddenAct: cfg.hidden_act ?? 'silu',
    names: {
      embed,
      norm: `${prefix}.norm.weight`,
      lmHead: cfg.tie_word_embeddings === true ? embed : head,
      layer: (i) => {
        const p = `${prefix}.layers.${i}`;
        return {
          inputNorm: `${p}.attention_norm.weight`,
          postNorm: `${p}.ffn_norm.weight`,
          qkvPacked: `${p}.attention.wqkv`,
          o: `${p}.attention.wo`,
          gate: `${p}.feed_forward.w1`,
          up: `${p}.feed_forward.w3`,
          down: `${p}.feed_forward.w2`,
        };
      },
    },
  };
  void store;
  return {
    spec,
    rope: parseRopeConfig(cfg, headDim),
    bosTokenId: typeof cfg.bos_token_id === 'number' ? cfg.bos_token_id : undefined,
    eosTokenIds: eosList(cfg.eos_token_id),
    padTokenId: typeof cfg.pad_token_id === 'number' ? cfg.pad_token_id : undefined,
    maxPositions: configNumber(cfg, 'max_position_embeddings', what, 4096),
  };
}
