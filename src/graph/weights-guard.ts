// Weights are memory-mapped from the checkpoint's safetensors files. A file truncated or rewritten
// in place under a running process makes the next access to a vanished page a SIGBUS, which kills
// the process. So every session records its files' inode, size and mtime, and checks them (one
// stat per file, microseconds) before each run: a file changed in place stops the run with a clear
// error instead. A file replaced by rename (a new inode) is safe: the mapping keeps the old inode
// alive, so runs go on with the weights that were loaded. A truncation during a run cannot be
// caught this way; replace checkpoints by renaming a new file into place.
import { statSync } from 'node:fs';
import { basename } from 'node:path';

export interface FileStamp {
  path: string;
  ino: number;
  size: number;
  mtimeMs: number;
}

export class WeightsChangedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WeightsChangedError';
  }
}

export function stampFiles(paths: Iterable<string>): FileStamp[] {
  return [...paths].map((path) => {
    const st = statSync(path);
    return { path, ino: st.ino, size: st.size, mtimeMs: st.mtimeMs };
  });
}

/** Throws WeightsChangedError when a file was changed in place since it was stamped. */
export function checkStamps(stamps: readonly FileStamp[]): void {
  for (const s of stamps) {
    let st;
    try {
      st = statSync(s.path);
    } catch {
      continue; // removed: the mapping keeps the loaded bytes alive
    }
    if (st.ino !== s.ino) continue; // replaced by rename: same as removed
    if (st.size !== s.size || st.mtimeMs !== s.mtimeMs) {
      throw new WeightsChangedError(
        `${basename(s.path)} changed on disk while the model is loaded (${s.size} → ${st.size} bytes): its memory-mapped weights are no longer valid. ` +
          'Restart with the new checkpoint; to update a checkpoint under a running process, write the new file elsewhere and rename it into place.',
      );
    }
  }
}

/** Wraps `session.run` so that it checks the files first. */
export function guardRuns<S extends { run: (...args: any[]) => Promise<any> }>(session: S, files: Iterable<string>): S {
  const stamps = stampFiles(files);
  if (!stamps.length) return session;
  const run = session.run.bind(session);
  session.run = ((...args: unknown[]) => {
    checkStamps(stamps);
    return run(...args);
  }) as S['run'];
  return session;
}
