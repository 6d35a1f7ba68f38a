// tsvlm public API: load a Hugging Face checkpoint folder and get a chat or embedding model.
// The CLI and the server import only from here.
import { openModelFolder, WeightStore, CheckpointError } from './io/checkpoint.js';
import type { LoadOptions, Model } from './api.js';
import { SiglipEmbeddingModel } from './models/siglip.js';
import { SailChatModel, isSailConfig } from './models/sail.js';
import { DecoderChatModel } from './models/causal-lm.js';
import { DECODER_TYPES } from './models/decoders.js';

export * from './api.js';
export { CheckpointError } from './io/checkpoint.js';
export { decodeImage, readImageHeader } from './processors/image.js';
export { SiglipEmbeddingModel } from './models/siglip.js';
export { SailChatModel } from './models/sail.js';
export { DecoderChatModel } from './models/causal-lm.js';
export { builtinModelDir, BUILTIN_MODELS } from './builtin.js';

export const SUPPORTED_MODEL_TYPES = ['siglip', 'sail (mistral + vision_patch_size)', ...Object.keys(DECODER_TYPES)];

/**
 * Loads a checkpoint folder (config.json + safetensors + tokenizer files) by its model_type:
 * SigLIP → EmbeddingModel; SAIL → ChatModel with images; Llama/Mistral/Qwen2/InternLM2 → ChatModel.
 */
export async function loadModel(dir: string, opts: LoadOptions = {}): Promise<Model> {
  const folder = openModelFolder(dir);
  const type = folder.config.model_type;
  const known = type === 'siglip' || isSailConfig(folder.config) || type in DECODER_TYPES;
  if (!known) throw new CheckpointError(`${dir}: model_type ${JSON.stringify(type)} is not supported (supported: ${SUPPORTED_MODEL_TYPES.join(', ')})`);
  opts.onProgress?.({ stage: 'load', done: 0, total: 1, message: `reading ${dir}` });
  const store = WeightStore.open(folder.dir);
  opts.onProgress?.({ stage: 'load', done: 1, total: 1, message: `${store.tensors.size} tensors` });
  if (type === 'siglip') return SiglipEmbeddingModel.load(folder, store, opts);
  if (isSailConfig(folder.config)) return SailChatModel.load(folder, store, opts);
  return DecoderChatModel.load(folder, store, opts);
}
