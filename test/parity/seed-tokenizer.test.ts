// SEED tokenizer parity (v2 Blip2QformerQuantizer, v1 SEEDVisualTokenizer) against the original
// SEED code's recorded intermediates, for every seed tokenizer fixture found: every recorded
// tensor within the fixture's tolerance, codes exact; the same through the ImageTokenizer API;
// and all of it again from the PyTorch checkpoints of the same weights (test/data/pt, written by
// torch.save as the releases are: seed_quantizer.pt flat, seed_tokenizer.pth {"model": ...}).
import { describe, it, expect, beforeAll } from 'vitest';
import { existsSync, mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { FIXTURES_ROOT, discoverFixtures, checkTensor, DEVICE, deviceTolerance, type Fixture, type FixtureCase } from '../helpers/fixtures.js';
import { WeightStore } from '../../src/io/checkpoint.js';
import { createSession, f32Tensor, i64Tensor, type ort } from '../../src/graph/session.js';
import { seedConfig } from '../../src/models/seed/config.js';
import { buildSeedDecodeGraph, buildSeedEncodeGraph } from '../../src/models/seed/graphs.js';
import { seedPixels } from '../../src/models/seed/seed-tokenizer.js';
import { loadModel, type ImageTokenizer } from '../../src/index.js';

const TYPES = ['seed_qformer_quantizer', 'seed_v1_visual_tokenizer'];
const fixtures = discoverFixtures((cfg) => TYPES.includes(cfg?.model_type));
if (!fixtures.length) it.skip(`no matching fixtures under ${FIXTURES_ROOT}`, () => {});

/** The torch.save copy of each fixture's weights. */
const PT_DATA = resolve(__dirname, '../data/pt');
const PT_FILES: Record<string, string> = {
  seed_qformer_quantizer: join(PT_DATA, 'seed-v2/seed_quantizer.pt'),
  seed_v1_visual_tokenizer: join(PT_DATA, 'seed-v1/seed_tokenizer.pth'),
};

/** A checkpoint folder as published: the .pt/.pth file, plus config.json for the tiny head counts. */
function ptFolder(fx: Fixture): string {
  const pt = PT_FILES[fx.config!.model_type]!;
  const dir = mkdtempSync(join(tmpdir(), `tsvlm-${fx.name}-pt-`));
  symlinkSync(join(fx.dir, 'config.json'), join(dir, 'config.json'));
  symlinkSync(pt, join(dir, pt.split('/').pop()!));
  return dir;
}

type Source = 'safetensors' | 'pt';
const runs: [string, Fixture, Source][] = fixtures.flatMap((f) => [
  [`${f.name} (safetensors)`, f, 'safetensors'] as [string, Fixture, Source],
  ...(existsSync(PT_FILES[f.config!.model_type]!) ? [[`${f.name} (${PT_FILES[f.config!.model_type]!.split('.').pop()})`, f, 'pt'] as [string, Fixture, Source]] : []),
]);

/** Tolerance of a tensor: per-tensor entry, else 'others', else the case's. */
function tolFor(c: FixtureCase, key: string) {
  const dev = deviceTolerance();
  if (dev) return dev;
  const per = c.tolerance_per_tensor as Record<string, any> | undefined;
  const t = per?.[key] ?? per?.others;
  if (t && typeof t === 'object') return { abs: t.atol ?? t.abs, rel: t.rtol ?? t.rel ?? 0 };
  return { abs: c.tolerance.abs, rel: c.tolerance.rel };
}

/** The image tensor [B, H, W, 3] uint8 → one DecodedImage per row. */
function images(fx: Fixture) {
  const [B, H, W] = fx.shape('image_u8') as [number, number, number];
  const u8 = fx.typed('image_u8') as Uint8Array;
  return Array.from({ length: B }, (_, i) => ({ width: W, height: H, channels: 3 as const, data: u8.slice(i * H * W * 3, (i + 1) * H * W * 3) }));
}

describe.each(runs)('seed tokenizer parity %s', (_name, fx, source) => {
  const dir = source === 'pt' ? ptFolder(fx) : fx.dir;
  const store = source === 'pt' ? WeightStore.fromFiles([PT_FILES[fx.config!.model_type]!]) : WeightStore.open(fx.dir);
  const cfg = seedConfig(store, fx.config);
  let enc: ort.InferenceSession, dec: ort.InferenceSession;
  beforeAll(async () => {
    enc = await createSession(buildSeedEncodeGraph(store, cfg, { intermediates: true }), { device: DEVICE });
    dec = await createSession(buildSeedDecodeGraph(store, cfg, { intermediates: true }), { device: DEVICE });
  });

  for (const c of fx.cases) {
    it(`${c.name}: preprocessing (image_u8 → pixel_values)`, () => {
      const S = cfg.vit.imageSize;
      const imgs = images(fx);
      const px = new Float32Array(imgs.length * 3 * S * S);
      imgs.forEach((im, i) => seedPixels(im, S, cfg.resample, px, i * 3 * S * S));
      checkTensor(fx, c, 'pixel_values', px, undefined, { abs: 1e-6, rel: 0 });
    });

    it(`${c.name}: encode and decode stages`, async () => {
      const px = fx.f32('pixel_values');
      const eo = await enc.run({ pixel_values: f32Tensor(px, fx.shape('pixel_values')) });
      const codes = Array.from(eo.codes!.data as BigInt64Array, Number);
      expect(codes).toEqual(fx.ints('codes'));
      console.log(`parity ${fx.name} ${c.name} codes: exact ok`);
      // Decode from the reference codes (so a code mismatch above cannot hide decode errors).
      const ref = fx.typed('codes') as BigInt64Array;
      const dout = await dec.run({ codes: i64Tensor(ref, fx.shape('codes')) });
      const got: Record<string, ArrayLike<number>> = {};
      for (const [k, t] of Object.entries(eo)) if (k !== 'codes') got[k] = t.data as Float32Array;
      for (const [k, t] of Object.entries(dout)) got[k] = t.data as Float32Array;
      // Straight-through values equal the codebook rows up to fp32 rounding (fixture facts).
      got.quant = got.codebook_rows!;
      got.query_output_up = got.decode_task_layer!;
      got[cfg.variant === 'v2' ? 'image_embeds' : 'text_embeds'] = got.embeds!;
      for (const key of c.outputs) {
        if (key === 'codes') continue;
        expect(got[key], `no output for ${key}`).toBeDefined();
        checkTensor(fx, c, key, got[key]!, undefined, tolFor(c, key));
      }
    });

    it(`${c.name}: ImageTokenizer from the folder`, async () => {
      const m = await loadModel(dir, { device: DEVICE });
      expect(m.kind).toBe('image-tokenizer');
      const tk = m as ImageTokenizer;
      expect(tk.codesPerImage).toBe(32);
      expect(tk.codebookSize).toBe(cfg.codebookSize);
      const codes = await tk.encode(images(fx));
      expect(codes.flat()).toEqual(fx.ints('codes'));
      const emb = await tk.decode(codes);
      const key = cfg.variant === 'v2' ? 'image_embeds' : 'text_embeds';
      expect(emb[0]!.length).toBe(tk.embeddingShape.reduce((a, b) => a * b, 1));
      checkTensor(fx, c, key, Float32Array.from(emb.flatMap((e) => [...e])), undefined, tolFor(c, key));
      await expect(tk.decode([[1, 2, 3]])).rejects.toThrow(/exactly 32/);
      await expect(tk.decode([Array(32).fill(tk.codebookSize)])).rejects.toThrow(/not a code/);
      await tk.dispose();
    });
  }
});

describe.skipIf(!existsSync(PT_FILES.seed_qformer_quantizer!))('seed tokenizer: a folder holding only seed_quantizer.pt', () => {
  it('is recognised by the file and sized from its shapes (the tiny widths need config.json for head counts)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsvlm-seed-bare-'));
    symlinkSync(PT_FILES.seed_qformer_quantizer!, join(dir, 'seed_quantizer.pt'));
    // The real ViT-g (1408 = 16 × 88) needs nothing more; the tiny width 64 is not a multiple of 88.
    await expect(loadModel(dir)).rejects.toThrow(/visual_encoder: cannot tell the number of attention heads for width 64 \(set it in config\.json\)/);
  });
});
