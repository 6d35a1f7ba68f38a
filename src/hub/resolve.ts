// What `--model` / loadModel accept: a checkpoint folder, a built-in model name (sail-scenes), or a
// Hugging Face repo id (org/name), looked up in the Hugging Face cache and downloaded into it when
// missing (unless offline).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { LoadOptions } from '../api.js';
import { BUILTIN_MODELS, builtinRoot } from '../builtin.js';
import { cachedSnapshot, hubCacheDir, isRepoId } from './cache.js';

/** The folder a model reference names; downloads a repo id that is not cached yet. */
export async function resolveModelRef(ref: string, opts: Pick<LoadOptions, 'revision' | 'download' | 'onProgress'> = {}): Promise<string> {
  if (existsSync(ref)) return ref;
  if ((Object.values(BUILTIN_MODELS) as string[]).includes(ref)) return join(builtinRoot(), ref);
  if (!isRepoId(ref) || !ref.includes('/')) return ref; // a missing folder: the loader names it
  const revision = opts.revision ?? 'main';
  const cached = cachedSnapshot(ref, revision);
  if (cached) return cached;
  const offline = opts.download === false || /^(1|on|yes|true)$/i.test(process.env.HF_HUB_OFFLINE ?? '');
  if (offline) {
    throw new Error(`${ref}@${revision} is not in the Hugging Face cache (${hubCacheDir()}) and downloads are off${process.env.HF_HUB_OFFLINE ? ' (HF_HUB_OFFLINE)' : ''}; run "tsvlm pull ${ref}" when online`);
  }
  const { pullModel } = await import('./download.js');
  try {
    return await pullModel(ref, { revision, ...(opts.onProgress ? { onProgress: opts.onProgress } : {}) });
  } catch (e) {
    throw new Error(`${ref} is not a folder, nor in the Hugging Face cache, and downloading it failed: ${(e as Error).message}`);
  }
}
