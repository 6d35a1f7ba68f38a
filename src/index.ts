// tsvlm public API: load a Hugging Face checkpoint folder and get a chat or embedding model.
// The CLI and the server import only from here.
import { CheckpointError } from './io/checkpoint.js';
import type { LoadOptions, Model } from './api.js';
import { findModelEntry, probeCheckpoint, supportedModelIds, supportedModelsText } from './models/registry.js';

export * from './api.js';
export { CheckpointError } from './io/checkpoint.js';
export { decodeImage, readImageHeader } from './processors/image.js';
export { SiglipEmbeddingModel } from './models/siglip.js';
export { SailChatModel } from './models/sail.js';
export { DecoderChatModel } from './models/causal-lm.js';
export { builtinModelDir, BUILTIN_MODELS } from './builtin.js';
export { loadModelInWorker } from './serve/worker-model.js';
export { MODEL_REGISTRY, supportedModelsText, type ModelEntry, type CheckpointProbe } from './models/registry.js';

/** The checkpoint types loadModel recognises (ids of the registry's entries). */
export const SUPPORTED_MODEL_TYPES = supportedModelIds();

/**
 * Loads a checkpoint folder by what identifies it (config.json's model_type and fields, or the
 * files it holds): the first matching entry of the model registry (src/models/registry.ts).
 */
export async function loadModel(dir: string, opts: LoadOptions = {}): Promise<Model> {
  const probe = probeCheckpoint(dir);
  const entry = findModelEntry(probe);
  if (!entry) {
    const what = probe.config
      ? `model_type ${JSON.stringify(probe.config.model_type)} is not a supported checkpoint`
      : 'not a checkpoint folder tsvlm recognises (no config.json, and no other known layout)';
    throw new CheckpointError(`${dir}: ${what}; tsvlm loads:\n${supportedModelsText()}`);
  }
  return entry.load(probe, opts);
}
