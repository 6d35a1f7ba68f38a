// `tsvlm batch tokenize|embed`: the command line of the batch pipeline (run.ts).
import { parseArgs } from 'node:util';
import type { Device } from '../api.js';
import { loadModel } from '../index.js';
import { progressPrinter } from '../cli/progress.js';
import { parseShard } from './inputs.js';
import { encoderFor, runBatch, type BatchTask } from './run.js';
import { UsageError } from './errors.js';

export const BATCH_USAGE = `tsvlm batch — codes or embeddings for a whole image dataset, as Parquet parts

Usage:
  tsvlm batch tokenize --model DIR --input IN... --out DIR [options]   codes (image tokenizer, e.g. SEED)
  tsvlm batch embed    --model DIR --input IN... --out DIR [options]   embeddings (e.g. SigLIP)

Inputs (--input is repeatable; order is kept, each input sorted):
  a folder            every .jpg/.jpeg/.png/.webp/.gif and webdataset .tar below it, recursively
  a .tar file         a webdataset shard; brace ranges work: shards-{000000..000099}.tar
  any other file      a list: one image path or .tar per line, relative to the list's folder

Output in --out: PREFIX-000000.parquet, … (columns key, source, and codes list<int32> or
embedding list<float>), _PREFIX-errors.jsonl (unreadable images; the job never stops for them)
and _PREFIX.job.json ('_' files are skipped by pyarrow.parquet.read_table(OUT)). PREFIX is "part", or "shard-0000i-of-0000N" with --shard.

Options:
  --shard i/N         process only part i (0-based) of N: whole tars / images, no overlap
  --resume            continue a killed job after its last complete part
  --part-size N       images per Parquet file (default 1000)
  --batch-size N      images per model call (default 8)
  --device cpu|webgpu
  --json              print the summary as JSON
  -q, --quiet         no progress line on stderr
`;

const options = {
  model: { type: 'string' },
  input: { type: 'string', multiple: true },
  out: { type: 'string' },
  shard: { type: 'string' },
  resume: { type: 'boolean' },
  'part-size': { type: 'string' },
  'batch-size': { type: 'string' },
  device: { type: 'string' },
  json: { type: 'boolean' },
  quiet: { type: 'boolean', short: 'q' },
  help: { type: 'boolean', short: 'h' },
} as const;

function int(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--${name} must be a positive integer (got ${JSON.stringify(v)})`);
  return n;
}

/** Runs `tsvlm batch …` (argv after "batch"); returns the exit code. */
export async function runBatchCli(argv: string[]): Promise<number> {
  try {
    const { values: v, positionals } = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
    if (v.help || !positionals.length) {
      process.stdout.write(BATCH_USAGE);
      return v.help ? 0 : 2;
    }
    const task = positionals[0] as BatchTask;
    if (positionals.length !== 1 || (task !== 'tokenize' && task !== 'embed')) throw new UsageError(`batch needs one task, tokenize or embed (got ${positionals.join(' ')})`);
    if (!v.model) throw new UsageError(`batch ${task} needs --model DIR`);
    if (!v.out) throw new UsageError(`batch ${task} needs --out DIR`);
    const device = (v.device ?? 'cpu') as Device;
    if (device !== 'cpu' && device !== 'webgpu') throw new UsageError(`--device must be cpu or webgpu (got ${device})`);
    const shard = parseShard(v.shard);
    const tty = process.stderr.isTTY === true;
    const say = v.quiet ? undefined : (s: string) => process.stderr.write(s);
    const model = await loadModel(v.model, { device, onProgress: say ? progressPrinter() : undefined });
    try {
      const enc = encoderFor(model, task);
      const s = await runBatch(enc, {
        inputs: v.input ?? [],
        out: v.out,
        shard,
        resume: v.resume,
        partSize: int(v['part-size'], 'part-size'),
        batchSize: int(v['batch-size'], 'batch-size'),
        progress: say ? { write: say, tty } : undefined,
      });
      if (v.json) process.stdout.write(JSON.stringify(s) + '\n');
      else {
        const resumed = s.resumedParts ? `, ${s.resumedParts} part(s) already done` : '';
        process.stdout.write(`${s.rows} rows in ${s.parts} part(s) under ${v.out}${resumed}; ${s.errors} error(s); ${s.imagesPerSecond.toFixed(1)} images/s\n`);
      }
    } finally {
      await model.dispose();
    }
    return 0;
  } catch (e) {
    const err = e as Error & { code?: string };
    const usage = e instanceof UsageError || err.code?.startsWith('ERR_PARSE_ARGS');
    process.stderr.write(`tsvlm batch: error: ${err.message}\n`);
    if (usage) process.stderr.write(`run "tsvlm batch --help" for usage\n`);
    if (process.env.TSVLM_DEBUG && err.stack) process.stderr.write(err.stack + '\n');
    return usage ? 2 : 1;
  }
}
