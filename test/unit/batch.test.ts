// tsvlm batch with a fake ImageTokenizer: inputs (folders, lists, webdataset tars), Parquet parts
// read back (hyparquet here, pyarrow when the Python venv is present), errors that never stop the
// job, --shard partitions, --resume refusals. The kill-and-resume run is in test/e2e/batch-cli.test.ts.
import { describe, it, expect, beforeAll } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import sharp from 'sharp';
import { parquetMetadata, parquetReadObjects } from 'hyparquet';
import { FakeImageTokenizer, FakeEmbeddingModel } from '../helpers/fake-models.js';
import { encoderFor, runBatch } from '../../src/batch/run.js';
import { collectUnits, expandBraces, parseShard, selectShard } from '../../src/batch/inputs.js';
import { readTarIndex } from '../../src/batch/tar.js';
import { decodeImage } from '../../src/processors/image.js';

const work = mkdtempSync(join(tmpdir(), 'tsvlm-batch-'));
const PYTHON = '/work/venv/bin/python';

async function png(w: number, h: number, seed: number, fmt: 'png' | 'jpeg' = 'png'): Promise<Buffer> {
  const data = Buffer.alloc(w * h * 3);
  for (let i = 0; i < data.length; i++) data[i] = (i * 31 + seed * 97) & 0xff;
  const s = sharp(data, { raw: { width: w, height: h, channels: 3 } });
  return fmt === 'png' ? s.png().toBuffer() : s.jpeg({ quality: 90 }).toBuffer();
}

/** A ustar archive of (name, bytes) members. */
function tar(members: [string, Uint8Array][]): Buffer {
  const blocks: Buffer[] = [];
  for (const [name, data] of members) {
    const h = Buffer.alloc(512);
    h.write(name, 0, 100, 'utf8');
    h.write('0000644\0', 100);
    h.write('0000000\0', 108);
    h.write('0000000\0', 116);
    h.write(data.length.toString(8).padStart(11, '0') + '\0', 124);
    h.write('00000000000\0', 136);
    h.write('        ', 148);
    h.write('0', 156);
    h.write('ustar\x0000', 257, 'latin1');
    let sum = 0;
    for (const b of h) sum += b;
    h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'latin1');
    blocks.push(h, Buffer.from(data), Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

async function readParts(dir: string, prefix = 'part'): Promise<Record<string, any>[]> {
  const rows: Record<string, any>[] = [];
  for (const f of readdirSync(dir).filter((f) => f.startsWith(prefix) && f.endsWith('.parquet')).sort()) {
    const file = new Uint8Array(readFileSync(join(dir, f))).buffer;
    rows.push(...(await parquetReadObjects({ file })));
  }
  return rows;
}

let images: string;
const expectedCodes = new Map<string, number[]>();
const fake = new FakeImageTokenizer({ failWidth: 13 });

beforeAll(async () => {
  images = join(work, 'images');
  mkdirSync(join(images, 'b/sub'), { recursive: true });
  mkdirSync(join(images, 'a'), { recursive: true });
  const files: [string, Buffer][] = [];
  for (let i = 0; i < 7; i++) files.push([`a/img${i}.png`, await png(6 + i, 6, i)]);
  for (let i = 0; i < 4; i++) files.push([`b/sub/photo${i}.jpg`, await png(10, 10, 20 + i, 'jpeg')]);
  files.push(['b/wide.png', await png(13, 5, 40)]); // the fake model fails on width 13
  for (const [f, b] of files) {
    writeFileSync(join(images, f), b);
    expectedCodes.set(f.replace(/\.[a-z]+$/, ''), fake.codesOf(await decodeImage(b)));
  }
  writeFileSync(join(images, 'b/broken.png'), Buffer.from('this is not a png'));
  const full = await png(9, 9, 50);
  writeFileSync(join(images, 'b/truncated.png'), full.subarray(0, full.length >> 1));
  writeFileSync(join(images, 'b/notes.txt'), 'ignored: not an image extension');
});

describe('batch tokenize', () => {
  it('writes Parquet parts with key, source and codes; bad images go to the errors file', async () => {
    const out = join(work, 'out-folder');
    const s = await runBatch(encoderFor(fake, 'tokenize'), { inputs: [images], out, partSize: 5, batchSize: 3 });
    expect(s.images).toBe(14);
    expect(s.parts).toBe(3);
    const rows = await readParts(out);
    // Folder order: sorted recursively; broken/truncated/wide are errors, not rows.
    expect(rows.map((r) => r.key)).toEqual(['a/img0', 'a/img1', 'a/img2', 'a/img3', 'a/img4', 'a/img5', 'a/img6', 'b/sub/photo0', 'b/sub/photo1', 'b/sub/photo2', 'b/sub/photo3']);
    for (const r of rows) {
      expect(r.codes).toEqual(expectedCodes.get(r.key));
      expect(r.source).toBe(join(images, r.key + (r.key.includes('photo') ? '.jpg' : '.png')));
    }
    const errors = readFileSync(join(out, '_part-errors.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    // Sorted items: a/img0-6, b/broken, b/sub/photo0-3, b/truncated, b/wide → parts of 5.
    expect(errors.map((e) => [e.key, e.part])).toEqual([['b/broken', 1], ['b/truncated', 2], ['b/wide', 2]]);
    expect(errors[2].error).toMatch(/^model: fake tokenizer cannot take width 13/);
    expect(errors[0].error.length).toBeGreaterThan(5);
    expect(s.rows).toBe(11);
    expect(s.errors).toBe(3);
    // Parts hold whole input ranges: part 1 is images 5..9 of the sorted list (one an error).
    const meta = parquetMetadata(new Uint8Array(readFileSync(join(out, 'part-000001.parquet'))).buffer);
    expect(Number(meta.num_rows)).toBe(4);
    expect(Object.fromEntries(meta.key_value_metadata!.map((kv) => [kv.key, kv.value]))).toMatchObject({ 'tsvlm.task': 'tokenize', 'tsvlm.codes_per_image': '32', 'tsvlm.codebook_size': '8192' });
    expect(Math.max(...fake.batchSizes)).toBeLessThanOrEqual(3);
    const job = JSON.parse(readFileSync(join(out, '_part.job.json'), 'utf8'));
    expect(job).toMatchObject({ complete: true, parts: 3, rows: 11, errors: 3, images: 14 });
    expect(readdirSync(out).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });

  it.skipIf(!existsSync(PYTHON))('pyarrow reads the parts without tsvlm', () => {
    const out = join(work, 'out-folder');
    const py = `import pyarrow.parquet as pq, json, sys
t = pq.read_table(sys.argv[1])
print(json.dumps({"schema": str(t.schema.field("codes").type), "key": t.column("key").to_pylist(), "codes": t.column("codes").to_pylist()}))`;
    const r = spawnSync(PYTHON, ['-c', py, out], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout.trim().split('\n').pop()!);
    expect(j.schema).toMatch(/^list<element: int32/);
    expect(j.key.length).toBe(11);
    j.key.forEach((k: string, i: number) => expect(j.codes[i]).toEqual(expectedCodes.get(k)));
  });

  it('reads text lists (relative to the list) and webdataset tars with brace ranges', async () => {
    const dir = join(work, 'wds');
    mkdirSync(dir, { recursive: true });
    const a = await png(8, 8, 71), b = await png(9, 8, 72, 'jpeg'), c = await png(10, 8, 73);
    writeFileSync(join(dir, 'shard-000.tar'), tar([['s/0001.jpg', b], ['s/0001.json', new TextEncoder().encode('{}')], ['s/0002.png', a]]));
    writeFileSync(join(dir, 'shard-001.tar'), tar([['s/0003.png', c], ['s/0004.png', new TextEncoder().encode('garbage')]]));
    expect(readTarIndex(join(dir, 'shard-000.tar')).map((m) => m.name)).toEqual(['s/0001.jpg', 's/0001.json', 's/0002.png']);
    writeFileSync(join(dir, 'list.txt'), `# a comment\n\n${join(images, 'a/img3.png')}\nloose.png\n`);
    writeFileSync(join(dir, 'loose.png'), c);
    const out = join(work, 'out-wds');
    const s = await runBatch(encoderFor(fake, 'tokenize'), { inputs: [join(dir, 'shard-{000..001}.tar'), join(dir, 'list.txt')], out, partSize: 100 });
    const rows = await readParts(out);
    expect(rows.map((r) => [r.key, r.source.replace(dir + '/', '')])).toEqual([
      ['s/0001', 'shard-000.tar:s/0001.jpg'],
      ['s/0002', 'shard-000.tar:s/0002.png'],
      ['s/0003', 'shard-001.tar:s/0003.png'],
      [join(images, 'a/img3'), join(images, 'a/img3.png')],
      ['loose', 'loose.png'],
    ]);
    expect(rows[0].codes).toEqual(fake.codesOf(await decodeImage(b)));
    expect(rows[4].codes).toEqual(fake.codesOf(await decodeImage(c)));
    expect(s.errors).toBe(1); // s/0004.png is garbage
  });

  it('refuses an --out that already holds a job unless --resume, and a resume with other options', async () => {
    const out = join(work, 'out-folder');
    await expect(runBatch(encoderFor(fake, 'tokenize'), { inputs: [images], out, partSize: 5 })).rejects.toThrow(/pass --resume/);
    await expect(runBatch(encoderFor(fake, 'tokenize'), { inputs: [images], out, partSize: 4, resume: true })).rejects.toThrow(/part_size differs/);
    const again = await runBatch(encoderFor(fake, 'tokenize'), { inputs: [images], out, partSize: 5, batchSize: 3, resume: true });
    expect(again.resumedParts).toBe(3);
  });

  it('embed writes list<float> embeddings; the wrong model kind is refused', async () => {
    const emb = new FakeEmbeddingModel({ dimensions: 6 });
    const out = join(work, 'out-embed');
    await runBatch(encoderFor(emb, 'embed'), { inputs: [join(images, 'a')], out });
    const rows = await readParts(out);
    expect(rows).toHaveLength(7);
    const [want] = await new FakeEmbeddingModel({ dimensions: 6 }).embedImages([join(images, 'a/img0.png')]);
    expect(rows[0].embedding).toHaveLength(6);
    rows[0].embedding.forEach((x: number, i: number) => expect(x).toBeCloseTo(want![i]!, 6));
    expect(() => encoderFor(emb, 'tokenize')).toThrow(/needs an image tokenizer/);
    expect(() => encoderFor(fake, 'embed')).toThrow(/needs an embedding model/);
  });
});

describe('--shard i/N', () => {
  it('partitions whole units deterministically, with no overlap and nothing missing', async () => {
    const units = collectUnits([images]);
    for (const N of [1, 2, 3, 5, 20]) {
      const parts = Array.from({ length: N }, (_, i) => selectShard(units, { index: i, count: N }).map((u) => u.id));
      expect(parts.flat()).toEqual(units.map((u) => u.id)); // in order, each exactly once
      expect(Array.from({ length: N }, (_, i) => selectShard(collectUnits([images]), { index: i, count: N }).map((u) => u.id))).toEqual(parts);
    }
    // Whole runs: the shards' rows together are the unsharded rows.
    const all: Record<string, any>[] = [];
    for (let i = 0; i < 3; i++) {
      const out = join(work, 'out-sharded');
      const s = await runBatch(encoderFor(fake, 'tokenize'), { inputs: [images], out, shard: { index: i, count: 3 }, partSize: 2 });
      expect(s.files.every((f) => f.includes(`shard-0000${i}-of-00003-`))).toBe(true);
      all.push(...(await readParts(out, `shard-0000${i}-of-00003`)));
    }
    expect(all.map((r) => r.key)).toEqual((await readParts(join(work, 'out-folder'))).map((r) => r.key));
    expect(parseShard('2/4')).toEqual({ index: 2, count: 4 });
    for (const bad of ['4/4', '1/0', '-1/3', 'a/b', '1']) expect(() => parseShard(bad)).toThrow(/--shard must be i\/N/);
  });

  it('expands webdataset brace ranges', () => {
    expect(expandBraces('x-{08..11}.tar')).toEqual(['x-08.tar', 'x-09.tar', 'x-10.tar', 'x-11.tar']);
  });
});
