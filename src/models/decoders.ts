// Decoder-only LLM architectures by HF model_type.
import { CheckpointError, type WeightStore } from '../io/checkpoint.js';
import { parseLlamaConfig, type DecoderConfig } from './llama.js';
import { parseMistralConfig } from './mistral.js';
import { parseQwen2Config } from './qwen2.js';
import { parseInternLM2Config } from './internlm2.js';

export const DECODER_TYPES: Record<string, (cfg: Record<string, any>, store: WeightStore) => DecoderConfig> = {
  llama: parseLlamaConfig,
  mistral: parseMistralConfig,
  qwen2: parseQwen2Config,
  internlm2: (cfg, store) => parseInternLM2Config(cfg, store),
};

export function parseDecoderConfig(cfg: Record<string, any>, store: WeightStore): DecoderConfig {
  const parse = Object.hasOwn(DECODER_TYPES, cfg.model_type) ? DECODER_TYPES[cfg.model_type] : undefined;
  if (!parse) {
    throw new CheckpointError(`config.json: model_type ${JSON.stringify(cfg.model_type)} is not a supported decoder (${Object.keys(DECODER_TYPES).join(', ')})`);
  }
  return parse(cfg, store);
}
