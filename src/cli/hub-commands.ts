// `tsvlm pull ID` (download a Hugging Face repo into the standard cache) and `tsvlm list` (the
// built-in models and the models in that cache, with sizes).
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { BUILTIN_MODELS, builtinRoot } from '../builtin.js';
import { hubCacheDir, isRepoId, listCachedModels } from '../hub/cache.js';
import { pullModel } from '../hub/download.js';
import { UsageError } from './args.js';
import type { CliValues } from './commands.js';
import { formatBytes, progressPrinter } from './progress.js';

export async function cmdPull(v: CliValues, positionals: string[]): Promise<void> {
  if (positionals.length !== 1) throw new UsageError('pull needs one Hugging Face repo id: tsvlm pull ORG/NAME');
  const id = positionals[0]!;
  if (!isRepoId(id) || !id.includes('/')) throw new UsageError(`${JSON.stringify(id)} is not a Hugging Face repo id (ORG/NAME)`);
  const revision = (v.revision as string | undefined) ?? 'main';
  const dir = await pullModel(id, { revision, ...(v.quiet ? {} : { onProgress: progressPrinter() }) });
  if (v.json) process.stdout.write(JSON.stringify({ id, revision, path: dir }) + '\n');
  else process.stdout.write(`${dir}\n`);
}

function folderBytes(dir: string): number {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    n += e.isDirectory() ? folderBytes(p) : statSync(p).size;
  }
  return n;
}

export async function cmdList(v: CliValues): Promise<void> {
  const builtin = Object.entries(BUILTIN_MODELS).map(([kind, name]) => {
    const path = join(builtinRoot(), name);
    return { name, kind, path, bytes: existsSync(path) ? folderBytes(path) : 0 };
  });
  const cached = listCachedModels();
  if (v.json) {
    process.stdout.write(JSON.stringify({ builtin, cache: hubCacheDir(), cached }) + '\n');
    return;
  }
  process.stdout.write('built-in models:\n');
  for (const b of builtin) process.stdout.write(`  ${b.name.padEnd(40)} ${b.kind.padEnd(10)} ${formatBytes(b.bytes).padStart(10)}\n`);
  process.stdout.write(`Hugging Face cache (${hubCacheDir()}):\n`);
  if (!cached.length) process.stdout.write('  (empty; tsvlm pull ORG/NAME downloads a model)\n');
  for (const c of cached) {
    const refs = Object.entries(c.refs).map(([r, h]) => `${r}=${h.slice(0, 7)}`).join(' ') || `${c.snapshots.length} snapshot(s)`;
    process.stdout.write(`  ${c.id.padEnd(40)} ${formatBytes(c.bytes).padStart(10)}  ${refs}\n`);
  }
}
