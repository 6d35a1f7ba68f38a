// tsvlm public API: load a Hugging Face checkpoint folder and get a chat or embedding model.
// The CLI and the server import only from here.
import { CheckpointError } from './io/checkpoint.js';
import type { LoadOptions, Model } from './api.js';
import { findModelEntry, probeCheckpoint, supportedModelIds, supportedModelsText } from './models/registry.js';
import { resolveModelRef } from './hub/resolve.js';
import { withProgress } from './generate/progress.js';
import { readWeights } from './io/read-weights.js';

export * from './api.js';
export { CheckpointError } from './io/checkpoint.js';
export { decodeImage, readImageHeader } from './processors/image.js';
export { SiglipEmbeddingModel } from './models/siglip.js';
export { SailChatModel } from './models/sail.js';
export { HovleChatModel } from './models/hovle/index.js';
export { DecoderChatModel } from './models/causal-lm.js';
export { SeedLlamaChatModel } from './models/seed-llama/seed-llama.js';
export { builtinModelDir, BUILTIN_MODELS } from './builtin.js';
export { resolveModelRef } from './hub/resolve.js';
export { pullModel, type PullOptions } from './hub/download.js';
export { listCachedModels, hubCacheDir, type CachedModel } from './hub/cache.js';
export { MODEL_REGISTRY, supportedModelsText, type ModelEntry, type CheckpointProbe } from './models/registry.js';
export { StableDiffusionPipeline } from './models/diffusion/pipeline_stable_diffusion.js';
export { StableUnCLIPPipeline, type DiffusionImage } from './models/diffusion/pipeline_stable_unclip.js';
export { openPipelineFolder } from './models/diffusion/pipeline-folder.js';
export { SCHEDULER_NAMES } from './models/diffusion/schedulers/index.js';
export { SeedImageRenderer, decodeCodesToImages, decodedImage, type SeedRendererOptions } from './models/diffusion/image-renderer.js';

/** The checkpoint types loadModel recognises (ids of the registry's entries). */
export const SUPPORTED_MODEL_TYPES = supportedModelIds();

/**
 * Loads a checkpoint folder by what identifies it (config.json's model_type and fields, or the
 * files it holds): the first matching entry of the model registry (src/models/registry.ts).
 */
export async function loadModel(ref: string, opts: LoadOptions = {}): Promise<Model> {
  const dir = await resolveModelRef(ref, opts);
  // A repo id names the model (its snapshot folder is a commit hash).
  if (dir !== ref && opts.name === undefined) opts = { ...opts, name: ref };
  const probe = probeCheckpoint(dir);
  const entry = findModelEntry(probe, opts);
  if (!entry) {
    const what = probe.config
      ? `model_type ${JSON.stringify(probe.config.model_type)} is not a supported checkpoint`
      : 'not a checkpoint folder tsvlm recognises (no config.json, and no other known layout)';
    throw new CheckpointError(`${dir}: ${what}; tsvlm loads:\n${supportedModelsText()}`);
  }
  // Session creation deep inside the model's load reports to opts.onProgress (generate/progress.ts).
  if (opts.onProgress) await readWeights(dir, opts.onProgress);
  return withProgress(opts.onProgress, () => entry.load(probe, opts));
}
