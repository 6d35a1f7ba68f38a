// StableUnCLIPImageNormalizer (diffusers 0.20.2 pipelines/stable_diffusion/
// stable_unclip_image_normalizer.py) and the unCLIP pipelines' noise_image_embeddings (as in
// SEED's models/pipeline_stable_unclip_img2img.py): scale → add_noise at the noise level →
// unscale, then the sinusoid of the noise level appended → the UNet's class label [B, 2E].
// Noise level 0 is not a no-op: add_noise at t = 0 keeps sqrt(1 − ᾱ₀) ≈ 0.0064 of the noise.
import { CheckpointError, type WeightStore } from '../../io/checkpoint.js';
import type { DDPMScheduler } from './schedulers/ddpm.js';
import { timestepSinusoid } from './embeddings.js';

const fr = Math.fround;

export class StableUnCLIPImageNormalizer {
  constructor(
    /** [E] */ readonly mean: Float32Array,
    /** [E] */ readonly std: Float32Array,
  ) {
    if (mean.length !== std.length) throw new CheckpointError(`image_normalizer: mean has ${mean.length} values, std ${std.length}`);
  }

  static fromWeights(store: WeightStore): StableUnCLIPImageNormalizer {
    for (const k of ['mean', 'std']) if (!store.has(k)) throw new CheckpointError(`image_normalizer weights: no tensor ${k} (expected StableUnCLIPImageNormalizer)`);
    return new StableUnCLIPImageNormalizer(store.readFloat32('mean'), store.readFloat32('std'));
  }

  get embeddingDim(): number {
    return this.mean.length;
  }

  /** (x − mean) · 1.0 / std per row of x [B, E]. */
  scale(x: Float32Array): Float32Array {
    const E = this.mean.length;
    return x.map((v, i) => fr(fr(v - this.mean[i % E]!) / this.std[i % E]!));
  }

  /** x · std + mean per row of x [B, E]. */
  unscale(x: Float32Array): Float32Array {
    const E = this.mean.length;
    return x.map((v, i) => fr(fr(v * this.std[i % E]!) + this.mean[i % E]!));
  }
}

/**
 * noise_image_embeddings(embeds [B, E], noise_level, noise [B, E]) → class labels [B, 2E]:
 * cat(unscale(add_noise(scale(embeds), noise_level, noise)), sinusoid(noise_level)).
 */
export function noiseImageEmbeddings(
  normalizer: StableUnCLIPImageNormalizer,
  noising: DDPMScheduler,
  embeds: Float32Array,
  noiseLevel: number,
  noise: Float32Array,
): Float32Array {
  const E = normalizer.embeddingDim;
  if (embeds.length % E !== 0) throw new RangeError(`image embeddings have ${embeds.length} values, not a multiple of the normalizer's ${E}`);
  const B = embeds.length / E;
  const levels = new Array<number>(B).fill(noiseLevel);
  const noised = normalizer.unscale(noising.addNoise(normalizer.scale(embeds), noise, levels));
  const emb = timestepSinusoid(levels, E, true, 0);
  const out = new Float32Array(B * 2 * E);
  for (let b = 0; b < B; b++) {
    out.set(noised.subarray(b * E, (b + 1) * E), b * 2 * E);
    out.set(emb.subarray(b * E, (b + 1) * E), b * 2 * E + E);
  }
  return out;
}

export interface UnclipClassLabelOptions {
  noiseLevel: number;
  /** Classifier-free guidance: prepend the negative half (zeros unless negativeEmbeds are given). */
  guidance: boolean;
  negativeEmbeds?: Float32Array;
  /** Where the noise comes from: given noise rows, or draws from a torch-compatible generator. */
  noise?: { positive: Float32Array; negative?: Float32Array };
  generator?: { randn(size: number): Float32Array };
}

/**
 * The pipeline's _encode_image from given image embeddings [B, E] → class labels: [B, 2E], or
 * [2B, 2E] = [negative; positive] with guidance. Noise is drawn for the positive embeddings
 * first, then for the negative ones, which are always noised at level 0 (as SEED's pipeline does).
 */
export function unclipClassLabels(
  normalizer: StableUnCLIPImageNormalizer,
  noising: DDPMScheduler,
  embeds: Float32Array,
  o: UnclipClassLabelOptions,
): Float32Array {
  const draw = (n: number, given: Float32Array | undefined, what: string) => {
    if (given) {
      if (given.length !== n) throw new RangeError(`${what} noise has ${given.length} values, expected ${n}`);
      return given;
    }
    if (!o.generator) throw new Error(`unclipClassLabels: no ${what} noise and no generator`);
    return o.generator.randn(n);
  };
  const pos = noiseImageEmbeddings(normalizer, noising, embeds, o.noiseLevel, draw(embeds.length, o.noise?.positive, 'positive'));
  if (!o.guidance) return pos;
  let neg: Float32Array;
  if (o.negativeEmbeds) {
    if (o.negativeEmbeds.length !== embeds.length) throw new RangeError(`negative image embeddings have ${o.negativeEmbeds.length} values, the positive ones ${embeds.length}`);
    neg = noiseImageEmbeddings(normalizer, noising, o.negativeEmbeds, 0, draw(embeds.length, o.noise?.negative, 'negative'));
  } else neg = new Float32Array(pos.length);
  const out = new Float32Array(2 * pos.length);
  out.set(neg, 0);
  out.set(pos, pos.length);
  return out;
}
