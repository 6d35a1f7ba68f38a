// Diffusers folder reading: Python-style JSON (NaN / ±Infinity), model_index.json components,
// weight-file variants and the errors for missing parts.
import { describe, it, expect } from 'vitest';
import { mkdtempSync, mkdirSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parsePythonJson } from '../../src/io/python-json.js';
import {
  componentConfig, componentDir, openComponentWeights, openPipelineFolder,
} from '../../src/models/diffusion/pipeline-folder.js';
import { FIXTURES_ROOT } from '../helpers/fixtures.js';
import { existsSync } from 'node:fs';

describe('parsePythonJson', () => {
  it('reads the non-finite words Python writes, outside strings only', () => {
    const v = parsePythonJson('{"a": -Infinity, "b": [NaN, Infinity, 1e-3], "s": "NaN -Infinity \\" Infinity", "n": null}');
    expect(v.a).toBe(-Infinity);
    expect(Number.isNaN(v.b[0])).toBe(true);
    expect(v.b[1]).toBe(Infinity);
    expect(v.b[2]).toBe(1e-3);
    expect(v.s).toBe('NaN -Infinity " Infinity');
    expect(v.n).toBe(null);
    expect(parsePythonJson('{"x": -1.5}')).toEqual({ x: -1.5 });
  });
  it('still rejects what is not JSON', () => {
    expect(() => parsePythonJson('{"a": Inf}')).toThrow();
    expect(() => parsePythonJson('{"a": 1,}')).toThrow();
  });
});

describe('diffusers pipeline folder', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsvlm-diffusers-'));
  writeFileSync(join(dir, 'model_index.json'), JSON.stringify({
    _class_name: 'StableDiffusionPipeline', _diffusers_version: '0.20.2',
    scheduler: ['diffusers', 'DPMSolverMultistepScheduler'], unet: ['diffusers', 'UNet2DConditionModel'],
    vae: ['diffusers', 'AutoencoderKL'], safety_checker: [null, null],
  }));
  mkdirSync(join(dir, 'scheduler'));
  writeFileSync(join(dir, 'scheduler', 'scheduler_config.json'), '{"_class_name": "DPMSolverMultistepScheduler", "lambda_min_clipped": -Infinity}');
  mkdirSync(join(dir, 'vae'));
  const p = openPipelineFolder(dir);

  it('reads model_index.json and Python-style scheduler configs', () => {
    expect(p.className).toBe('StableDiffusionPipeline');
    expect(componentConfig(p, 'scheduler').lambda_min_clipped).toBe(-Infinity);
  });
  it('names what is missing', () => {
    expect(() => componentDir(p, 'text_encoder')).toThrow(/no "text_encoder" component .*scheduler, unet, vae/);
    expect(() => componentDir(p, 'safety_checker')).toThrow(/null in model_index.json/);
    expect(() => componentDir(p, 'unet')).toThrow(/unet\/ is missing/);
    expect(() => openComponentWeights(join(dir, 'vae'))).toThrow(/no diffusion_pytorch_model.safetensors/);
    expect(() => openPipelineFolder(join(dir, 'vae'))).toThrow(/no model_index.json/);
  });

  const unclip = join(FIXTURES_ROOT, 'unclip-tiny');
  it.runIf(existsSync(unclip))('reads a component saved as PyTorch .bin (test/data/diffusion/make_normalizer_bin.py)', () => {
    const bin = openComponentWeights(join(__dirname, '../data/diffusion/normalizer-bin'));
    const st = openComponentWeights(join(unclip, 'image_normalizer'));
    expect(bin.files[0]!.path).toMatch(/diffusion_pytorch_model\.bin$/);
    for (const k of ['mean', 'std']) expect(Array.from(bin.readFloat32(k))).toEqual(Array.from(st.readFloat32(k)));
  });
  it.runIf(existsSync(unclip))('finds the fp16 variant file when asked, the plain file otherwise', () => {
    const vae = join(dir, 'vae');
    copyFileSync(join(unclip, 'vae', 'diffusion_pytorch_model.safetensors'), join(vae, 'diffusion_pytorch_model.fp16.safetensors'));
    expect(openComponentWeights(vae).files[0]!.path).toMatch(/\.fp16\.safetensors$/);
    copyFileSync(join(unclip, 'vae', 'diffusion_pytorch_model.safetensors'), join(vae, 'diffusion_pytorch_model.safetensors'));
    expect(openComponentWeights(vae).files[0]!.path).toMatch(/model\.safetensors$/);
    expect(openComponentWeights(vae, { variant: 'fp16' }).files[0]!.path).toMatch(/\.fp16\.safetensors$/);
  });
});
