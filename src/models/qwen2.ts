// Qwen2 decoder (Qwen2ForCausalLM): Llama layout with q/k/v biases, usually tied embeddings,
// sliding window only when use_sliding_window is set. Matches transformers' modeling_qwen2.py.
import type { WeightStore } from '../io/checkpoint.js';
import { parseLlamaLike, slidingWindowOf, type DecoderConfig } from './llama.js';

export function parseQwen2Config(cfg: Record<string, any>, store: WeightStore): DecoderConfig {
  const what = 'a Qwen2 checkpoint';
  const c = parseLlamaLike(cfg, store, what);
  // Biases are picked up from the checkpoint (linear() uses `.bias` when present).
  return cfg.use_sliding_window === true ? Object.assign(c, slidingWindowOf(cfg, what)) : c;
}
