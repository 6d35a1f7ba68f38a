// `tsvlm batch`: images → codes (an ImageTokenizer) or embeddings (an EmbeddingModel) for a whole
// dataset, written part by part. Restartable: a part is complete once its file exists (atomic
// rename), `resume` continues at the first missing part, and because parts, rows and error lines
// are a pure function of the inputs, a resumed job ends with the same files as an uninterrupted one.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { DecodedImage, EmbeddingModel, ImageTokenizer, Model } from '../api.js';
import { decodeImage } from '../processors/image.js';
import { collectUnits, selectShard, type BatchItem, type ShardSpec } from './inputs.js';
import { encodeParquetPart, writeFileAtomic, type BatchRow } from './output.js';
import { ProgressLine } from './progress.js';
import { UsageError } from './errors.js';

export type BatchTask = 'tokenize' | 'embed';

/** What the batch loop needs from a model: images in, one row value per image out. */
export interface BatchEncoder {
  column: 'codes' | 'embedding';
  metadata: Record<string, string>;
  encode(images: DecodedImage[]): Promise<Array<number[] | Float32Array>>;
}

export function encoderFor(model: Model, task: BatchTask): BatchEncoder {
  const base = { 'tsvlm.task': task, 'tsvlm.model_type': model.info.modelType, 'tsvlm.model_name': model.info.name };
  if (task === 'tokenize') {
    if (model.kind !== 'image-tokenizer') throw new UsageError(`batch tokenize needs an image tokenizer (such as SEED); ${model.info.name} is a ${model.kind} model`);
    const m = model as ImageTokenizer;
    return { column: 'codes', metadata: { ...base, 'tsvlm.codes_per_image': String(m.codesPerImage), 'tsvlm.codebook_size': String(m.codebookSize) }, encode: (im) => m.encode(im) };
  }
  if (model.kind !== 'embedding') throw new UsageError(`batch embed needs an embedding model (such as SigLIP); ${model.info.name} is a ${model.kind} model`);
  const m = model as EmbeddingModel;
  return { column: 'embedding', metadata: { ...base, 'tsvlm.dimensions': String(m.dimensions) }, encode: (im) => m.embedImages(im) };
}

export interface BatchOptions {
  inputs: string[];
  out: string;
  shard?: ShardSpec;
  /** Images per output part (default 1000). */
  partSize?: number;
  /** Images per model call (default 8). */
  batchSize?: number;
  resume?: boolean;
  /** Progress lines (stderr in the CLI); `tty` redraws one line. */
  progress?: { write: (s: string) => void; tty: boolean };
}

export interface BatchSummary {
  images: number;
  rows: number;
  errors: number;
  parts: number;
  /** Parts found complete and skipped by --resume. */
  resumedParts: number;
  imagesPerSecond: number;
  files: string[];
}

interface ErrorLine {
  part: number;
  key?: string;
  source: string;
  error: string;
}

const pad = (n: number, w: number) => String(n).padStart(w, '0');

function message(e: unknown): string {
  return (e as Error)?.message ?? String(e);
}

/** Decodes a batch's images; unreadable ones become error lines instead of stopping the job. */
async function loadBatch(items: BatchItem[], part: number): Promise<{ ok: { item: BatchItem; img: DecodedImage }[]; errs: ErrorLine[] }> {
  const res = await Promise.all(
    items.map(async (item) => {
      try {
        return { item, img: await decodeImage(await item.read()) };
      } catch (e) {
        return { item, error: message(e) };
      }
    }),
  );
  const ok: { item: BatchItem; img: DecodedImage }[] = [];
  const errs: ErrorLine[] = [];
  for (const r of res) {
    if ('img' in r) ok.push(r as { item: BatchItem; img: DecodedImage });
    else errs.push({ part, key: r.item.key, source: r.item.source, error: r.error! });
  }
  return { ok, errs };
}

/** Runs the model on a batch; when the batch fails, image by image, so one bad image costs one row. */
async function encodeBatch(enc: BatchEncoder, batch: { item: BatchItem; img: DecodedImage }[], part: number, rows: BatchRow[], errs: ErrorLine[]): Promise<void> {
  if (!batch.length) return;
  try {
    const out = await enc.encode(batch.map((b) => b.img));
    if (out.length !== batch.length) throw new Error(`model returned ${out.length} results for ${batch.length} images`);
    batch.forEach((b, i) => rows.push({ key: b.item.key, source: b.item.source, value: out[i]! }));
  } catch {
    for (const b of batch) {
      try {
        const [v] = await enc.encode([b.img]);
        rows.push({ key: b.item.key, source: b.item.source, value: v! });
      } catch (e) {
        errs.push({ part, key: b.item.key, source: b.item.source, error: `model: ${message(e)}` });
      }
    }
  }
}

export async function runBatch(enc: BatchEncoder, opts: BatchOptions): Promise<BatchSummary> {
  const shard = opts.shard ?? { index: 0, count: 1 };
  const partSize = opts.partSize ?? 1000;
  const batchSize = opts.batchSize ?? 8;
  if (!(Number.isInteger(partSize) && partSize >= 1)) throw new UsageError(`--part-size must be a positive integer (got ${partSize})`);
  if (!(Number.isInteger(batchSize) && batchSize >= 1)) throw new UsageError(`--batch-size must be a positive integer (got ${batchSize})`);
  const prefix = shard.count > 1 ? `shard-${pad(shard.index, 5)}-of-${pad(shard.count, 5)}` : 'part';
  const partFile = (k: number) => join(opts.out, `${prefix}-${pad(k, 6)}.parquet`);
  // '_' names: pyarrow/Spark dataset readers skip them, so `pq.read_table(out)` reads only parts.
  const errorsFile = join(opts.out, `_${prefix}-errors.jsonl`);
  const jobFile = join(opts.out, `_${prefix}.job.json`);

  // Inputs: units of this shard, then their images (a tar that cannot be read is an error line).
  const unitErrors: ErrorLine[] = [];
  const items: BatchItem[] = [];
  for (const u of selectShard(collectUnits(opts.inputs), shard)) {
    try {
      items.push(...u.items());
    } catch (e) {
      unitErrors.push({ part: -1, source: u.id, error: message(e) });
    }
  }
  const hash = createHash('sha256');
  for (const it of items) hash.update(`${it.key}\t${it.source}\n`);
  const job = { task: enc.column === 'codes' ? 'tokenize' : 'embed', metadata: enc.metadata, shard: `${shard.index}/${shard.count}`, part_size: partSize, images: items.length, inputs_sha256: hash.digest('hex') };

  mkdirSync(opts.out, { recursive: true });
  const mine = readdirSync(opts.out).filter((f) => f.replace(/^[._]+/, '').startsWith(`${prefix}-`) || f.replace(/^[._]+/, '').startsWith(`${prefix}.`));
  for (const f of mine) if (f.startsWith('.') && f.includes('.tmp-')) rmSync(join(opts.out, f), { force: true }); // a killed run's half-written file
  const nParts = Math.ceil(items.length / partSize);
  let resumeFrom = 0;
  let partErrors: ErrorLine[] = [];
  if (existsSync(jobFile)) {
    if (!opts.resume) throw new UsageError(`${opts.out} already holds ${prefix} output of a batch job; pass --resume to continue it, or use another --out`);
    const old = JSON.parse(readFileSync(jobFile, 'utf8'));
    for (const k of Object.keys(job) as (keyof typeof job)[]) {
      if (JSON.stringify(old[k]) !== JSON.stringify(job[k])) {
        throw new UsageError(`--resume: ${k} differs from the job in ${opts.out} (was ${JSON.stringify(old[k])}, now ${JSON.stringify(job[k])}); resume with the same inputs, model and options, or use another --out`);
      }
    }
    while (resumeFrom < nParts && existsSync(partFile(resumeFrom))) resumeFrom++;
    if (existsSync(errorsFile)) {
      partErrors = readFileSync(errorsFile, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as ErrorLine).filter((e) => e.part >= 0 && e.part < resumeFrom);
    }
  } else {
    if (mine.some((f) => f.startsWith(prefix) && f.endsWith('.parquet'))) throw new UsageError(`${opts.out} holds ${prefix}-*.parquet files of an unknown job; use an empty --out`);
    writeFileAtomic(jobFile, JSON.stringify({ ...job, complete: false }, null, 1) + '\n');
  }

  const progress = new ProgressLine(items.length, Math.min(items.length, resumeFrom * partSize), opts.progress?.write, opts.progress?.tty ?? false);
  const delayMs = Number(process.env.TSVLM_BATCH_TEST_DELAY_MS ?? 0); // tests: slow down to be killed mid-run
  let done = resumeFrom * partSize;
  const errorCount = () => unitErrors.length + partErrors.length;
  // Batches of every remaining part, decoded one batch ahead of the model.
  const batches: { part: number; items: BatchItem[]; last: boolean }[] = [];
  for (let k = resumeFrom; k < nParts; k++) {
    const partItems = items.slice(k * partSize, (k + 1) * partSize);
    for (let b = 0; b < partItems.length; b += batchSize) batches.push({ part: k, items: partItems.slice(b, b + batchSize), last: b + batchSize >= partItems.length });
  }
  let rows: BatchRow[] = [];
  let errs: ErrorLine[] = [];
  let next = batches.length ? loadBatch(batches[0]!.items, batches[0]!.part) : undefined;
  for (let i = 0; i < batches.length; i++) {
    const b = batches[i]!;
    const loaded = await next!;
    next = i + 1 < batches.length ? loadBatch(batches[i + 1]!.items, batches[i + 1]!.part) : undefined;
    errs.push(...loaded.errs);
    await encodeBatch(enc, loaded.ok, b.part, rows, errs);
    if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
    done += b.items.length;
    if (b.last) {
      // Errors first, then the part: a part that exists always has its error lines on disk.
      partErrors.push(...errs);
      writeFileAtomic(errorsFile, [...unitErrors, ...partErrors].map((e) => JSON.stringify(e) + '\n').join(''));
      writeFileAtomic(partFile(b.part), encodeParquetPart(rows, enc.column, enc.metadata));
      rows = [];
      errs = [];
    }
    progress.update(done, errorCount() + errs.length);
  }
  writeFileAtomic(errorsFile, [...unitErrors, ...partErrors].map((e) => JSON.stringify(e) + '\n').join(''));
  progress.finish();
  const errors = errorCount();
  const imagesErrored = partErrors.length;
  writeFileAtomic(jobFile, JSON.stringify({ ...job, complete: true, parts: nParts, rows: items.length - imagesErrored, errors }, null, 1) + '\n');
  return {
    images: items.length,
    rows: items.length - imagesErrored,
    errors,
    parts: nParts,
    resumedParts: resumeFrom,
    imagesPerSecond: progress.rate(),
    files: Array.from({ length: nParts }, (_, k) => partFile(k)),
  };
}
