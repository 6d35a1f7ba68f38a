// Downloads a model repository into the standard Hugging Face cache (see cache.ts): the file list
// and commit come from the Hub API through @huggingface/hub; the bytes are fetched here so that a
// download reports progress and resumes (HTTP Range on blobs/<etag>.incomplete) after an
// interruption. Only the files tsvlm reads are fetched (configs, tokenizers, safetensors).
import { existsSync, mkdirSync, renameSync, statSync, symlinkSync, writeFileSync, lstatSync, unlinkSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { open } from 'node:fs/promises';
import { listFiles, modelInfo, type ListFileEntry } from '@huggingface/hub';
import type { Progress } from '../api.js';
import { COMMIT_HASH, hubCacheDir, repoFolder } from './cache.js';

export interface PullOptions {
  /** Branch, tag or commit (default "main"). */
  revision?: string;
  /** Access token for gated/private repositories (default $HF_TOKEN). */
  token?: string;
  /** The Hub's address (default $HF_ENDPOINT, else https://huggingface.co). */
  hubUrl?: string;
  cacheDir?: string;
  onProgress?: (p: Progress) => void;
  signal?: AbortSignal;
}

/** Files a checkpoint folder needs: JSON configs, tokenizer files and safetensors weights, at any depth. */
export function wantedFile(path: string): boolean {
  return /\.(json|safetensors|model|txt|tiktoken)$/i.test(path) && !/(^|\/)\./.test(path);
}

export class DownloadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DownloadError';
  }
}

/** Makes `link` a relative symlink to `target` (replacing an older link). */
function link(target: string, linkPath: string): void {
  mkdirSync(dirname(linkPath), { recursive: true });
  if (existsSync(linkPath) || (() => { try { return lstatSync(linkPath).isSymbolicLink(); } catch { return false; } })()) unlinkSync(linkPath);
  symlinkSync(relative(dirname(linkPath), target), linkPath);
}

/**
 * Downloads `id` at `revision` into the cache and returns its snapshot folder. Files already in
 * the cache are not fetched again; a partial file resumes where it stopped.
 */
export async function pullModel(id: string, opts: PullOptions = {}): Promise<string> {
  const revision = opts.revision ?? 'main';
  const hubUrl = (opts.hubUrl ?? process.env.HF_ENDPOINT ?? 'https://huggingface.co').replace(/\/$/, '');
  const accessToken = opts.token ?? process.env.HF_TOKEN ?? process.env.HUGGING_FACE_HUB_TOKEN;
  const cacheDir = opts.cacheDir ?? hubCacheDir();
  const creds = { hubUrl, ...(accessToken ? { accessToken } : {}) };
  const auth: Record<string, string> = accessToken ? { Authorization: `Bearer ${accessToken}` } : {};
  let commit: string;
  try {
    commit = COMMIT_HASH.test(revision) ? revision : ((await modelInfo({ name: id, revision, additionalFields: ['sha'], ...creds })) as { sha: string }).sha;
  } catch (e) {
    throw new DownloadError(`${id}@${revision}: ${(e as Error).message} (${hubUrl})`);
  }
  const files: ListFileEntry[] = [];
  for await (const f of listFiles({ repo: { type: 'model', name: id }, recursive: true, revision: commit, ...creds })) {
    if (f.type === 'file' && wantedFile(f.path)) files.push(f);
  }
  if (!files.some((f) => /(^|\/)(config|model_index)\.json$/.test(f.path))) {
    throw new DownloadError(`${id}@${revision} has no config.json: not a checkpoint tsvlm can load`);
  }
  const repo = repoFolder(id, cacheDir);
  if (!COMMIT_HASH.test(revision)) {
    mkdirSync(join(repo, 'refs'), { recursive: true });
    writeFileSync(join(repo, 'refs', revision), commit);
  }
  const snapshot = join(repo, 'snapshots', commit);
  const total = files.reduce((n, f) => n + (f.lfs?.size ?? f.size), 0);
  let done = 0;
  const report = (message: string) => opts.onProgress?.({ stage: 'download', done, total, unit: 'bytes', message });
  for (const f of files) {
    const size = f.lfs?.size ?? f.size;
    const etag = f.lfs?.oid ?? f.oid ?? `${commit}-${f.path.replaceAll('/', '_')}`;
    const blob = join(repo, 'blobs', etag);
    if (!existsSync(blob)) {
      mkdirSync(dirname(blob), { recursive: true });
      const partial = `${blob}.incomplete`;
      const have = existsSync(partial) ? statSync(partial).size : 0;
      const url = `${hubUrl}/${id}/resolve/${commit}/${f.path.split('/').map(encodeURIComponent).join('/')}`;
      const res = await fetch(url, { headers: { ...auth, ...(have > 0 && have < size ? { Range: `bytes=${have}-` } : {}) }, signal: opts.signal });
      if (!res.ok || !res.body) throw new DownloadError(`${id}: ${f.path}: HTTP ${res.status} ${res.statusText}${res.status === 401 || res.status === 403 ? ' (a gated or private repository needs HF_TOKEN)' : ''}`);
      const resumed = res.status === 206 ? have : 0;
      done += resumed;
      report(`${f.path}${resumed ? ' (resumed)' : ''}`);
      let last = 0;
      // Each chunk is on disk before the next is read, so a dropped connection keeps every byte
      // received (a stream pipeline would drop its buffered writes when it fails).
      const fh = await open(partial, resumed ? 'a' : 'w');
      try {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          await fh.write(chunk);
          done += chunk.length;
          if (Date.now() - last > 200) { last = Date.now(); report(f.path); }
        }
      } catch (e) {
        if (opts.signal?.aborted) throw e;
        await fh.close().catch(() => {});
        throw new DownloadError(`${id}: ${f.path}: the download stopped after ${statSync(partial).size} of ${size} bytes (${(e as Error).message}); run the same command again to resume`);
      } finally {
        await fh.close().catch(() => {});
      }
      const got = statSync(partial).size;
      if (got !== size) throw new DownloadError(`${id}: ${f.path}: got ${got} bytes, expected ${size}; run the same command again to resume`);
      renameSync(partial, blob);
    } else {
      done += size;
    }
    link(blob, join(snapshot, f.path));
    report(f.path);
  }
  return snapshot;
}
