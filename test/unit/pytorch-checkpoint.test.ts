// PyTorch checkpoint reader: torch.save archives (test/data/pt, written by make.py with real torch)
// read as byte ranges must equal the safetensors originals byte for byte; hostile and broken files
// must be refused with an error naming the problem, and no payload may run.
import { describe, it, expect, beforeAll } from 'vitest';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SafetensorsFile, readRange } from '../../src/io/safetensors.js';
import { PytorchFile, detectWeightsFormat } from '../../src/io/pytorch.js';
import { ZipArchive, crc32 } from '../../src/io/zip.js';
import { WeightStore, openWeightsFile } from '../../src/io/checkpoint.js';
import { FIXTURES_ROOT } from '../helpers/fixtures.js';

const DATA = join(dirname(fileURLToPath(import.meta.url)), '../data/pt');
const MARKER = '/tmp/tsvlm-hostile-marker';

/** Every tensor of `want` is in `got` with the same dtype, shape and bytes. */
function expectSameTensors(got: { tensors: Map<string, any> }, want: SafetensorsFile, allowExtra: string[] = []) {
  for (const [name, w] of want.tensors) {
    const g = got.tensors.get(name);
    expect(g, `tensor ${name}`).toBeDefined();
    expect([g.dtype, g.shape], name).toEqual([w.dtype, w.shape]);
    expect(readRange(g).equals(readRange(w)), `bytes of ${name}`).toBe(true);
  }
  const extra = [...got.tensors.keys()].filter((k) => !want.tensors.has(k));
  expect(extra).toEqual(allowExtra);
}

describe('torch.save archives', () => {
  it('reads every storage dtype, fp16/bf16, shared storages, 0-d and empty tensors', () => {
    const pt = PytorchFile.open(join(DATA, 'misc.pt'));
    expectSameTensors(pt, SafetensorsFile.open(join(DATA, 'misc.safetensors')));
    expect([...pt.tensors.keys()].slice(0, 3)).toEqual(['f32', 'f16', 'bf16']); // file order kept
    const a = pt.tensors.get('view_a')!, b = pt.tensors.get('view_b')!;
    // One storage, two views: ranges inside the same record, shifted by the element offsets.
    expect(b.offset - a.offset).toBe((16 - 4) * 4);
    expect(pt.tensors.get('scalar')!.shape).toEqual([]);
    expect(pt.tensors.get('empty')!.length).toBe(0);
    expect(pt.tensors.get('bf16')!.dtype).toBe('BF16');
  });

  it('flattens nested dicts and lists with dotted names; bytes values are data', () => {
    const pt = PytorchFile.open(join(DATA, 'nested.pt'));
    expectSameTensors(pt, SafetensorsFile.open(join(DATA, 'nested.safetensors')));
  });

  it('reads a zip64 archive (sizes and offsets in the zip64 extra fields)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsvlm-zip64-'));
    try {
      const out = join(dir, 'misc64.pt');
      rewriteAsZip64(join(DATA, 'misc.pt'), out);
      const z = ZipArchive.open(out);
      expect(z.entries.size).toBe(ZipArchive.open(join(DATA, 'misc.pt')).entries.size);
      expectSameTensors(PytorchFile.open(out), SafetensorsFile.open(join(DATA, 'misc.safetensors')));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('detects the format by content, not by extension', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsvlm-magic-'));
    try {
      copyFileSync(join(DATA, 'misc.pt'), join(dir, 'weights.safetensors'));
      copyFileSync(join(DATA, 'misc.safetensors'), join(dir, 'weights.bin'));
      expect(detectWeightsFormat(join(dir, 'weights.safetensors'))).toBe('pytorch-zip');
      expect(detectWeightsFormat(join(dir, 'weights.bin'))).toBe('safetensors');
      const store = WeightStore.fromFiles([join(dir, 'weights.bin')]);
      expect(store.readFloat32('f32')).toEqual(WeightStore.fromFiles([join(dir, 'weights.safetensors')]).readFloat32('f32'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

const fixture = (name: string) => join(FIXTURES_ROOT, name, 'model.safetensors');
const haveFixtures = existsSync(fixture('seed-tokenizer-tiny'));

describe.skipIf(!haveFixtures)('fixture state dicts through torch.save', () => {
  it('seed_quantizer.pt (flat OrderedDict) equals seed-tokenizer-tiny', () => {
    const store = WeightStore.fromFiles([join(DATA, 'seed-v2/seed_quantizer.pt')]);
    expectSameTensors(store, SafetensorsFile.open(fixture('seed-tokenizer-tiny')), ['Qformer.bert.embeddings.position_ids']);
    expect(store.get('Qformer.bert.embeddings.position_ids').dtype).toBe('I64');
  });

  it('seed_tokenizer.pth ({"model": nn.Parameter dict, "epoch": 3}) is unwrapped and equals seed-v1-tokenizer-tiny', () => {
    const store = WeightStore.fromFiles([join(DATA, 'seed-v1/seed_tokenizer.pth')]);
    expectSameTensors(store, SafetensorsFile.open(fixture('seed-v1-tokenizer-tiny')));
  });

  it('WeightStore.open reads pytorch_model.bin.index.json shards', () => {
    const store = WeightStore.open(join(DATA, 'siglip-bin'));
    expect(store.files.length).toBe(2);
    expectSameTensors(store, SafetensorsFile.open(fixture('siglip-tiny')));
  });
});

describe('hostile and broken files', () => {
  const cases: Record<string, { expect: string; hostile: boolean }> = JSON.parse(readFileSync(join(DATA, 'bad/cases.json'), 'utf8'));
  beforeAll(() => rmSync(MARKER, { force: true }));

  it.each(Object.entries(cases))('%s is refused', (name, c) => {
    expect(() => WeightStore.fromFiles([join(DATA, 'bad', name)])).toThrow(new RegExp(c.expect));
    expect(existsSync(MARKER), 'payload ran').toBe(false);
  });

  it('covers every kind the issue names', () => {
    const names = Object.keys(cases);
    for (const n of ['os-system-reduce.pt', 'builtins-eval.pt', 'builtins-exec.pt', 'inst-os-system.pt', 'obj-os-system.pt', 'huge-tensor.pt', 'truncated.pt', 'legacy.pt']) {
      expect(names).toContain(n);
    }
    expect(Object.values(cases).filter((c) => c.hostile).length).toBeGreaterThanOrEqual(7);
  });

  it('a missing file or unknown bytes name the file', () => {
    expect(() => openWeightsFile(join(DATA, 'nope.pt'))).toThrow(/nope\.pt does not exist/);
  });
});

/** Rewrites a zip with every size and offset in zip64 fields (0xFFFFFFFF sentinels), stored. */
function rewriteAsZip64(src: string, dst: string): void {
  const z = ZipArchive.open(src);
  const parts: Buffer[] = [];
  const central: Buffer[] = [];
  let pos = 0;
  for (const e of z.entries.values()) {
    const data = z.read(e.name);
    const name = Buffer.from(e.name);
    const lh = Buffer.alloc(30 + name.length + 20);
    lh.writeUInt32LE(0x04034b50, 0);
    lh.writeUInt16LE(45, 4);
    lh.writeUInt32LE(crc32(data), 14);
    lh.writeUInt32LE(0xffffffff, 18);
    lh.writeUInt32LE(0xffffffff, 22);
    lh.writeUInt16LE(name.length, 26);
    lh.writeUInt16LE(20, 28);
    name.copy(lh, 30);
    lh.writeUInt16LE(1, 30 + name.length);
    lh.writeUInt16LE(16, 32 + name.length);
    lh.writeBigUInt64LE(BigInt(data.length), 34 + name.length);
    lh.writeBigUInt64LE(BigInt(data.length), 42 + name.length);
    const ch = Buffer.alloc(46 + name.length + 28);
    ch.writeUInt32LE(0x02014b50, 0);
    ch.writeUInt16LE(45, 4);
    ch.writeUInt16LE(45, 6);
    ch.writeUInt32LE(crc32(data), 16);
    ch.writeUInt32LE(0xffffffff, 20);
    ch.writeUInt32LE(0xffffffff, 24);
    ch.writeUInt16LE(name.length, 28);
    ch.writeUInt16LE(28, 30);
    ch.writeUInt32LE(0xffffffff, 42);
    name.copy(ch, 46);
    ch.writeUInt16LE(1, 46 + name.length);
    ch.writeUInt16LE(24, 48 + name.length);
    ch.writeBigUInt64LE(BigInt(data.length), 50 + name.length);
    ch.writeBigUInt64LE(BigInt(data.length), 58 + name.length);
    ch.writeBigUInt64LE(BigInt(pos), 66 + name.length);
    parts.push(lh, data);
    central.push(ch);
    pos += lh.length + data.length;
  }
  const cd = Buffer.concat(central);
  const z64 = Buffer.alloc(56);
  z64.writeUInt32LE(0x06064b50, 0);
  z64.writeBigUInt64LE(44n, 4);
  z64.writeUInt16LE(45, 12);
  z64.writeUInt16LE(45, 14);
  z64.writeBigUInt64LE(BigInt(z.entries.size), 24);
  z64.writeBigUInt64LE(BigInt(z.entries.size), 32);
  z64.writeBigUInt64LE(BigInt(cd.length), 40);
  z64.writeBigUInt64LE(BigInt(pos), 48);
  const loc = Buffer.alloc(20);
  loc.writeUInt32LE(0x07064b50, 0);
  loc.writeBigUInt64LE(BigInt(pos + cd.length), 8);
  loc.writeUInt32LE(1, 16);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(0xffff, 8);
  eocd.writeUInt16LE(0xffff, 10);
  eocd.writeUInt32LE(0xffffffff, 12);
  eocd.writeUInt32LE(0xffffffff, 16);
  writeFileSync(dst, Buffer.concat([...parts, cd, z64, loc, eocd]));
}
