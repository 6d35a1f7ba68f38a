// Safetensors and checkpoint-folder validation: bad files fail with messages naming the file and
// the problem; sharded checkpoints and symlinked shards (HF cache layout) load.
import { describe, it, expect } from 'vitest';
import { mkdtempSync, writeFileSync, symlinkSync, mkdirSync, readFileSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SafetensorsFile, writeSafetensors, toFloat32 } from '../../src/io/safetensors.js';
import { WeightStore, openModelFolder } from '../../src/io/checkpoint.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'tsvlm-st-'));

function rawFile(header: unknown, dataBytes = 0, headerLenOverride?: number): string {
  const json = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(headerLenOverride ?? json.length));
  const p = join(tmp(), 'model.safetensors');
  writeFileSync(p, Buffer.concat([len, json, Buffer.alloc(dataBytes)]));
  return p;
}

describe('safetensors validation', () => {
  it('round-trips every dtype it writes', () => {
    const p = join(tmp(), 'a.safetensors');
    writeSafetensors(p, {
      f32: { dtype: 'F32', shape: [2, 2], data: new Float32Array([1, -2, 3.5, 4]) },
      f16: { dtype: 'F16', shape: [2], data: new Uint16Array([0x3c00, 0xc000]) },
      bf16: { dtype: 'BF16', shape: [2], data: new Uint16Array([0x3f80, 0x4040]) },
      i64: { dtype: 'I64', shape: [1], data: new BigInt64Array([-7n]) },
      i32: { dtype: 'I32', shape: [1], data: new Int32Array([9]) },
      u8: { dtype: 'U8', shape: [3], data: new Uint8Array([1, 2, 255]) },
      b: { dtype: 'BOOL', shape: [2], data: new Uint8Array([1, 0]) },
    });
    const f = SafetensorsFile.open(p);
    expect(Array.from(toFloat32(f.readBytes('f32'), 'F32'))).toEqual([1, -2, 3.5, 4]);
    expect(Array.from(toFloat32(f.readBytes('f16'), 'F16'))).toEqual([1, -2]);
    expect(Array.from(toFloat32(f.readBytes('bf16'), 'BF16'))).toEqual([1, 3]);
    expect(Array.from(toFloat32(f.readBytes('i64'), 'I64'))).toEqual([-7]);
    expect(Array.from(toFloat32(f.readBytes('u8'), 'U8'))).toEqual([1, 2, 255]);
    expect(f.tensors.get('b')!.dtype).toBe('BOOL');
  });
  it('refuses a header length past the end of the file', () => {
    expect(() => SafetensorsFile.open(rawFile({}, 0, 1e6))).toThrow(/header length 1000000 is larger than the file/);
  });
  it('refuses a header that is not JSON', () => {
    expect(() => SafetensorsFile.open(rawFile('{not json'))).toThrow(/model\.safetensors: header is not valid JSON/);
  });
  it('refuses unknown dtypes', () => {
    expect(() => SafetensorsFile.open(rawFile({ a: { dtype: 'F8', shape: [1], data_offsets: [0, 1] } }, 1))).toThrow(/tensor a: unknown dtype "F8"/);
  });
  it('refuses offsets outside the data', () => {
    expect(() => SafetensorsFile.open(rawFile({ a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, 8))).toThrow(/run past the end of the data \(8 bytes\)/);
  });
  it('refuses shape × dtype size that disagrees with the byte length', () => {
    expect(() => SafetensorsFile.open(rawFile({ a: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, 8))).toThrow(/tensor a: 8 bytes but shape \[3\] × F32 needs 12/);
  });
  it('refuses a truncated file', () => {
    const p = join(tmp(), 'model.safetensors');
    writeSafetensors(p, { w: { dtype: 'F32', shape: [64], data: new Float32Array(64) } });
    truncateSync(p, readFileSync(p).length - 10);
    expect(() => SafetensorsFile.open(p)).toThrow(/file truncated/);
  });
  it('refuses a file too short for a header', () => {
    const p = join(tmp(), 'model.safetensors');
    writeFileSync(p, 'abc');
    expect(() => SafetensorsFile.open(p)).toThrow(/too short/);
  });
});

describe('checkpoint folders', () => {
  it('loads sharded checkpoints through symlinks (HF cache layout)', () => {
    const root = tmp();
    mkdirSync(join(root, 'blobs'));
    mkdirSync(join(root, 'snap'));
    writeSafetensors(join(root, 'blobs', 'aaa'), { x: { dtype: 'F32', shape: [2], data: new Float32Array([1, 2]) } });
    writeSafetensors(join(root, 'blobs', 'bbb'), { y: { dtype: 'F32', shape: [1], data: new Float32Array([3]) } });
    symlinkSync(join(root, 'blobs', 'aaa'), join(root, 'snap', 'model-00001-of-00002.safetensors'));
    symlinkSync(join(root, 'blobs', 'bbb'), join(root, 'snap', 'model-00002-of-00002.safetensors'));
    writeFileSync(join(root, 'snap', 'model.safetensors.index.json'), JSON.stringify({ weight_map: { x: 'model-00001-of-00002.safetensors', y: 'model-00002-of-00002.safetensors' } }));
    const s = WeightStore.open(join(root, 'snap'));
    expect(Array.from(s.readFloat32('y'))).toEqual([3]);
    expect(s.get('x').file).toBe(join(root, 'blobs', 'aaa'));
  });
  it('names a missing shard', () => {
    const d = tmp();
    writeFileSync(join(d, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { x: 'model-00001-of-00002.safetensors' } }));
    expect(() => WeightStore.open(d)).toThrow(/names shard model-00001-of-00002.safetensors, which is missing/);
  });
  it('names missing tensors and wrong shapes', () => {
    const d = tmp();
    writeSafetensors(join(d, 'model.safetensors'), { a: { dtype: 'F32', shape: [2], data: new Float32Array(2) } });
    const s = WeightStore.open(d);
    expect(() => s.expect({ a: [3], b: [1] })).toThrow(/tensor a has shape \[2\], config implies \[3\]; missing tensor b/);
  });
  it('explains folders that are not checkpoints', () => {
    expect(() => openModelFolder('/nonexistent/dir')).toThrow(/does not exist/);
    const d = tmp();
    expect(() => openModelFolder(d)).toThrow(/no config\.json/);
    expect(() => WeightStore.open(d)).toThrow(/no model\.safetensors/);
    writeFileSync(join(d, 'config.json'), '{oops');
    expect(() => openModelFolder(d)).toThrow(/config\.json: not valid JSON/);
  });
});
