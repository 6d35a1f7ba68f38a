// Mistral decoder (MistralForCausalLM): the Llama layout plus sliding-window attention.
// Matches transformers' modeling_mistral.py.
import type { WeightStore } from '../io/checkpoint.js';
import { parseLlamaLike, type DecoderConfig } from './llama.js';

export function parseMistralConfig(cfg: Record<string, any>, store: WeightStore): DecoderConfig {
  const c = parseLlamaLike(cfg, store, 'a Mistral checkpoint');
  // Mistral's reference masks keys older than sliding_window positions (null = off).
  if (typeof cfg.sliding_window === 'number') c.slidingWindow = cfg.sliding_window;
  return c;
}
