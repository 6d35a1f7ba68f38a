// InternLM2 decoder (InternLM2ForCausalLM, remote code): the Llama math with a packed `wqkv`
// (rows grouped per kv head: [q × H/KV, k, v] × head_dim) and its own names
// (tok_embeddings, attention.wo, feed_forward.w1/w3/w2, attention_norm, ffn_norm, output).
import type { WeightStore } from '../io/checkpoint.js';
import type { DecoderSpec } from '../nn/decoder.js';
import { decoderConfig, decoderDims, type DecoderConfig } from './llama.js';

/** `prefix` is 'model' for InternLM2ForCausalLM, 'language_model.model' inside HoVLE. */
export function parseInternLM2Config(cfg: Record<string, any>, store: WeightStore, prefix = 'model', head = 'output.weight'): DecoderConfig {
  const what = 'an InternLM2 checkpoint';
  // InternLM2 has no head_dim key: hidden / heads.
  const dims = decoderDims({ ...cfg, head_dim: undefined }, what);
  const embed = `${prefix}.tok_embeddings.weight`;
  const spec: DecoderSpec = {
    ...dims,
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
  return decoderConfig(cfg, spec, what);
}
