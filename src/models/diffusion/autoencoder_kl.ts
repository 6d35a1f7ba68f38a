// diffusers autoencoder_kl.py AutoencoderKL: decode (latents → image) and encode (image → latent
// distribution), each a lazily created ONNX session, so a decode-only pipeline never builds the
// encoder.
import { createSession, f32Tensor, type ort } from '../../graph/session.js';
import { InputError, type Device } from '../../api.js';
import type { WeightStore } from '../../io/checkpoint.js';
import { openDiffusersComponent, type ComponentOptions } from './component.js';
import { buildVaeDecoderGraph, buildVaeEncoderGraph, parseVaeConfig, type VaeConfig, type VaeGraphOptions } from './vae.js';

export interface VaeLoadOptions extends ComponentOptions, VaeGraphOptions {
  device?: Device;
  disablePrepacking?: boolean;
}

export interface LatentDist {
  /** [B, Cl, h, w], unscaled (multiply by scalingFactor for the UNet). */
  mean: Float32Array;
  logvar: Float32Array;
  shape: number[];
}

export class AutoencoderKL {
  private decoder?: Promise<ort.InferenceSession>;
  private encoder?: Promise<ort.InferenceSession>;

  private constructor(readonly config: VaeConfig, private readonly store: WeightStore, private readonly opts: VaeLoadOptions, readonly dir: string) {}

  static load(dir: string, opts: VaeLoadOptions = {}): AutoencoderKL {
    const comp = openDiffusersComponent(dir, 'AutoencoderKL', opts);
    return new AutoencoderKL(parseVaeConfig(comp.config), comp.store, opts, comp.dir);
  }

  get scalingFactor(): number {
    return this.config.scalingFactor;
  }

  /** Spatial factor between latents and pixels (2^(blocks−1), 8 for SD). */
  get scale(): number {
    return 2 ** (this.config.blockOutChannels.length - 1);
  }

  private session(kind: 'decoder' | 'encoder'): Promise<ort.InferenceSession> {
    const so = { device: this.opts.device, disablePrepacking: this.opts.disablePrepacking };
    if (kind === 'decoder') return (this.decoder ??= createSession(buildVaeDecoderGraph(this.store, this.config, this.opts), so));
    return (this.encoder ??= createSession(buildVaeEncoderGraph(this.store, this.config), so));
  }

  private checkShape(data: Float32Array, shape: readonly number[], channels: number, what: string): [number, number, number, number] {
    const [B, C, h, w] = shape;
    if (shape.length !== 4 || C !== channels || !(B! > 0 && h! > 0 && w! > 0)) throw new InputError(`VAE ${what} shape [${shape}] must be [batch, ${channels}, height, width]`);
    if (data.length !== B! * C * h! * w!) throw new InputError(`VAE ${what} has ${data.length} values, shape [${shape}] needs ${B! * C * h! * w!}`);
    return [B!, C, h!, w!];
  }

  /** All decoder outputs (`sample` plus intermediates when loaded with `intermediates`). */
  async decodeAll(latents: Float32Array, shape: readonly number[]): Promise<Record<string, ort.Tensor>> {
    const dims = this.checkShape(latents, shape, this.config.latentChannels, 'latents');
    return (await this.session('decoder')).run({ latents: f32Tensor(latents, dims) });
  }

  /**
   * Latents as the pipeline holds them (scaled by scaling_factor) → image [B, 3, H, W], roughly
   * in [−1, 1] (= diffusers vae.decode(latents / scaling_factor).sample).
   */
  async decode(latents: Float32Array, shape: readonly number[]): Promise<{ image: Float32Array; shape: number[] }> {
    const s = (await this.decodeAll(latents, shape)).sample!;
    return { image: s.data as Float32Array, shape: s.dims.slice() };
  }

  /** image [B, 3, H, W] in [−1, 1] (H, W multiples of `scale`) → latent distribution. */
  async encode(image: Float32Array, shape: readonly number[]): Promise<LatentDist> {
    const dims = this.checkShape(image, shape, this.config.inChannels, 'image');
    if (dims[2] % this.scale || dims[3] % this.scale) throw new InputError(`VAE image ${dims[2]}×${dims[3]} is not a multiple of ${this.scale}`);
    const r = await (await this.session('encoder')).run({ image: f32Tensor(image, dims) });
    return { mean: r.mean!.data as Float32Array, logvar: r.logvar!.data as Float32Array, shape: r.mean!.dims.slice() };
  }

  /**
   * Latents for the UNet: (mean + exp(logvar/2)·noise)·scaling_factor, or mean·scaling_factor
   * without noise (latent_dist.mode()). `noise` is N(0,1) of the latent shape.
   */
  static latentsOf(dist: LatentDist, scalingFactor: number, noise?: Float32Array): Float32Array {
    const out = new Float32Array(dist.mean.length);
    if (noise && noise.length !== out.length) throw new InputError(`latent noise has ${noise.length} values, expected ${out.length}`);
    const fr = Math.fround;
    for (let i = 0; i < out.length; i++) {
      const x = noise ? fr(dist.mean[i]! + fr(fr(Math.exp(fr(0.5 * dist.logvar[i]!))) * noise[i]!)) : dist.mean[i]!;
      out[i] = fr(x * scalingFactor);
    }
    return out;
  }

  async release(): Promise<void> {
    for (const s of [this.decoder, this.encoder]) if (s) await (await s).release();
  }
}
