// Batch output: one Parquet file per part, written atomically (temp file, fsync, rename, fsync of
// the folder), so a killed job leaves only whole parts behind. Parquet because Python training
// code reads it without tsvlm (pyarrow, pandas, polars, Hugging Face datasets), codes and
// embeddings keep their types as list<int32> / list<float>, and a part is one self-describing file.
// Writer: hyparquet-writer (maintained, pure JavaScript, no native build).
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { parquetWriteBuffer } from 'hyparquet-writer';

export interface BatchRow {
  key: string;
  source: string;
  /** Codes (tokenize) or an embedding (embed). */
  value: number[] | Float32Array;
}

/** Writes bytes to `path` so that `path` either does not exist or holds all of them. */
export function writeFileAtomic(path: string, data: Uint8Array | string): void {
  // A dot name: dataset readers skip it while it is incomplete.
  const tmp = join(dirname(path), `.${basename(path)}.tmp-${process.pid}`);
  const fd = openSync(tmp, 'w');
  try {
    const buf = typeof data === 'string' ? Buffer.from(data) : data;
    let done = 0;
    while (done < buf.length) done += writeSync(fd, buf, done, buf.length - done);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
  closeSync(fd);
  renameSync(tmp, path);
  // The rename itself must survive a crash: sync the folder entry (not possible on every OS).
  try {
    const dfd = openSync(dirname(path), 'r');
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
  } catch {
    // Windows cannot open folders for fsync; the rename is still atomic there.
  }
}

/** The Parquet bytes of one part: key, source, and `codes` list<int32> or `embedding` list<float>. */
export function encodeParquetPart(rows: BatchRow[], column: 'codes' | 'embedding', metadata: Record<string, string>): Uint8Array {
  const element = column === 'codes' ? 'INT32' : 'FLOAT';
  const buf = parquetWriteBuffer({
    columnData: [
      { name: 'key', data: rows.map((r) => r.key) },
      { name: 'source', data: rows.map((r) => r.source) },
      { name: column, data: rows.map((r) => Array.from(r.value)) },
    ],
    schema: [
      { name: 'schema', num_children: 3 },
      { name: 'key', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'REQUIRED' },
      { name: 'source', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'REQUIRED' },
      { name: column, repetition_type: 'REQUIRED', converted_type: 'LIST', num_children: 1 },
      { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
      { name: 'element', type: element, repetition_type: 'REQUIRED' },
    ],
    kvMetadata: Object.entries(metadata).map(([key, value]) => ({ key, value })),
    createdBy: 'tsvlm batch (hyparquet-writer)',
    rowGroupSize: Math.max(1, rows.length),
  });
  return new Uint8Array(buf);
}
