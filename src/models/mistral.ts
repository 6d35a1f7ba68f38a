// Mistral decoder (MistralForCausalLM): the Llama layout plus sliding-window attention.
// Matches transformers' modeling_mistral.py.
import type { WeightStore } from '../io/checkpoint.js';
import { parseLlamaLike, slidingWindowOf, type DecoderConfig } from './llama.js';

export function parseMistralConfig(cfg: Record<string, any>, store: WeightStore): DecoderConfig {
  const what = 'a Mistral checkpoint';
  // Mistral's reference masks keys older than sliding_window positions (null = off).
  return Object.assign(parseLlamaLike(cfg, store, what), slidingWindowOf(cfg, what));
}
