// Stable unCLIP image-embedding noise augmentation (image_normalizer + image_noising_scheduler +
// noise-level sinusoid) against SEED's pipeline on diffusers 0.20.2: the a_* cases of unclip
// fixtures, and the pipeline's own seeded draws (torch-compatible randn) for a2 / e / e2.
import { describe, it, expect } from 'vitest';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES_ROOT, discoverFixtures, checkTensor, type Fixture } from '../helpers/fixtures.js';
import { componentConfig, openComponentWeights, openPipelineFolder, componentDir } from '../../src/models/diffusion/pipeline-folder.js';
import { DDPMScheduler } from '../../src/models/diffusion/schedulers/ddpm.js';
import { StableUnCLIPImageNormalizer, noiseImageEmbeddings, unclipClassLabels } from '../../src/models/diffusion/stable_unclip_image_normalizer.js';
import { TorchGenerator } from '../../src/models/diffusion/torch-random.js';

const fixtures = discoverFixtures((_cfg, dir) => existsSync(join(dir, 'model_index.json')) && existsSync(join(dir, 'image_normalizer')));
if (!fixtures.length) it.skip(`no matching fixtures under ${FIXTURES_ROOT}`, () => {});

describe.each(fixtures.map((f) => [f.name, f] as [string, Fixture]))('unclip noise augmentation %s', (_name, fx) => {
  const folder = openPipelineFolder(fx.dir);
  const normalizer = StableUnCLIPImageNormalizer.fromWeights(openComponentWeights(componentDir(folder, 'image_normalizer')));
  const noising = new DDPMScheduler(componentConfig(folder, 'image_noising_scheduler'));
  const caseOf = (n: string) => fx.cases.find((c) => c.name === n);

  it('a_noise_augmentation: scale → add_noise → unscale → cat sinusoid, levels 0 and 250', () => {
    const c = caseOf('a_noise_augmentation');
    if (!c) return;
    checkTensor(fx, c, 'a.noising_alphas_cumprod', Float32Array.from(noising.alphasCumprod));
    const x = fx.f32('a.image_embeds');
    const noise = fx.f32('a.noise');
    for (const level of fx.casesJson.sizes?.noise_levels ?? [0, 250]) {
      const p = `a.L${level}`;
      const scaled = normalizer.scale(x);
      const noised = noising.addNoise(scaled, noise, Array(fx.shape('a.image_embeds')[0]).fill(level));
      checkTensor(fx, c, `${p}.scaled`, scaled);
      checkTensor(fx, c, `${p}.noised`, noised);
      checkTensor(fx, c, `${p}.unscaled`, normalizer.unscale(noised));
      const labels = noiseImageEmbeddings(normalizer, noising, x, level, noise);
      checkTensor(fx, c, `${p}.class_labels`, labels);
      const E = normalizer.embeddingDim;
      const emb = new Float32Array(labels.length / 2);
      for (let b = 0; b < emb.length / E; b++) emb.set(labels.subarray(b * 2 * E + E, (b + 1) * 2 * E), b * E);
      checkTensor(fx, c, `${p}.noise_level_embedding`, emb);
    }
  });

  it('a2_encode_image_cfg: the pipeline draws its own noise from the seeded generator; zero negative half', () => {
    const c = caseOf('a2_encode_image_cfg');
    if (!c) return;
    const seed = c.facts!.generator_seed;
    const drawn = new TorchGenerator(seed).randn(fx.f32('a2.drawn_noise').length);
    checkTensor(fx, c, 'a2.drawn_noise', drawn, undefined, { abs: 2.4e-7, rel: 0 });
    const labels = unclipClassLabels(normalizer, noising, fx.f32('a2.image_embeds'), { noiseLevel: 0, guidance: true, generator: new TorchGenerator(seed) });
    checkTensor(fx, c, 'a2.class_labels', labels);
    expect(labels.subarray(0, labels.length / 2).every((v) => v === 0)).toBe(true);
  });

  it('e / e2: class labels of the end-to-end calls (second draw for the negative embedding)', () => {
    for (const [name, p] of [['e_end_to_end_seed_call', 'e'], ['e2_end_to_end_negative_embeds', 'e2']] as const) {
      const c = caseOf(name);
      if (!c) continue;
      const neg = fx.has(`${p}.negative_image_embeds`) ? fx.f32(`${p}.negative_image_embeds`) : undefined;
      const gen = new TorchGenerator(c.facts!.generator_seed);
      const labels = unclipClassLabels(normalizer, noising, fx.f32(`${p}.image_embeds`), { noiseLevel: 0, guidance: true, negativeEmbeds: neg, generator: gen });
      checkTensor(fx, c, `${p}.class_labels`, labels, undefined, { abs: 1e-5, rel: 1e-5 });
      const again = new TorchGenerator(c.facts!.generator_seed);
      const rows = fx.shape(`${p}.drawn_noise`)[0]!;
      const drawn = new Float32Array(fx.f32(`${p}.drawn_noise`).length);
      for (let r = 0; r < rows; r++) drawn.set(again.randn(drawn.length / rows), (r * drawn.length) / rows);
      checkTensor(fx, c, `${p}.drawn_noise`, drawn, undefined, { abs: 2.4e-7, rel: 0 });
    }
  });
});
