// The standard Hugging Face cache (shared with transformers, huggingface-cli, transformers.js):
// $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub, holding
// models--ORG--NAME/{refs/REVISION (a commit hash), snapshots/COMMIT/<files>, blobs/<etag>}.
// Checkpoints a user already downloaded resolve here with no network.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { getHFHubCachePath, getRepoFolderName } from '@huggingface/hub';

export const COMMIT_HASH = /^[0-9a-f]{40}$/;

/** The hub cache folder, as the Hugging Face libraries compute it. */
export function hubCacheDir(): string {
  return getHFHubCachePath();
}

/** "org/name" (or "name") with the characters the Hub allows; not a path that exists. */
export function isRepoId(s: string): boolean {
  return /^[A-Za-z0-9][\w.-]*(\/[\w.-]+)?$/.test(s) && !s.includes('..') && !s.endsWith('.') && s.split('/').length <= 2;
}

export function repoFolder(id: string, cacheDir = hubCacheDir()): string {
  return join(cacheDir, getRepoFolderName({ name: id, type: 'model' }));
}

/** The commit a revision (branch, tag or commit hash) points to in the cache, if it is known there. */
export function cachedCommit(id: string, revision = 'main', cacheDir = hubCacheDir()): string | undefined {
  if (COMMIT_HASH.test(revision)) return revision;
  const ref = join(repoFolder(id, cacheDir), 'refs', revision);
  return existsSync(ref) ? readFileSync(ref, 'utf8').trim() : undefined;
}

/** The snapshot folder of `id` at `revision` when it is in the cache (with a config.json or model_index.json). */
export function cachedSnapshot(id: string, revision = 'main', cacheDir = hubCacheDir()): string | undefined {
  const commit = cachedCommit(id, revision, cacheDir);
  if (!commit) return undefined;
  const dir = join(repoFolder(id, cacheDir), 'snapshots', commit);
  return ['config.json', 'model_index.json'].some((f) => existsSync(join(dir, f))) ? dir : undefined;
}

export interface CachedModel {
  id: string;
  /** Branches/tags → commit; plus every snapshot's commit. */
  refs: Record<string, string>;
  snapshots: string[];
  /** Bytes of the blobs (each stored once, whatever the number of snapshots). */
  bytes: number;
  path: string;
}

/** Every model repository in the cache (datasets and spaces are skipped). */
export function listCachedModels(cacheDir = hubCacheDir()): CachedModel[] {
  if (!existsSync(cacheDir)) return [];
  const out: CachedModel[] = [];
  for (const entry of readdirSync(cacheDir).sort()) {
    if (!entry.startsWith('models--')) continue;
    const path = join(cacheDir, entry);
    const id = entry.slice('models--'.length).split('--').join('/');
    const refsDir = join(path, 'refs');
    const refs: Record<string, string> = {};
    if (existsSync(refsDir)) for (const r of readdirSync(refsDir)) {
      const f = join(refsDir, r);
      if (statSync(f).isFile()) refs[r] = readFileSync(f, 'utf8').trim();
    }
    const snapDir = join(path, 'snapshots');
    const snapshots = existsSync(snapDir) ? readdirSync(snapDir) : [];
    const blobDir = join(path, 'blobs');
    const bytes = existsSync(blobDir) ? readdirSync(blobDir).filter((b) => !b.endsWith('.incomplete')).reduce((n, b) => n + statSync(join(blobDir, b)).size, 0) : 0;
    out.push({ id, refs, snapshots, bytes, path });
  }
  return out;
}
