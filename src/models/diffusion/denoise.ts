// The denoising loop every Stable Diffusion pipeline of diffusers 0.20.2 runs (and SEED v1's PLMS
// sampling loop, the same shape): per scheduler timestep, the latents twice for classifier-free
// guidance ([uncond; cond] batch), the UNet, uncond + g·(cond − uncond), scheduler.step.
// TypeScript holds the latents; the UNet is one ONNX session. Cancellable between steps.
import { InputError, type Progress } from '../../api.js';
import type { Scheduler } from './schedulers/common.js';
import type { UNet2DConditionModel } from './unet_2d_condition.js';

const fr = Math.fround;

export interface DenoiseCall {
  index: number;
  timestep: number;
  /** UNet input [2B or B, C, h, w] (after scale_model_input). */
  unetInput: Float32Array;
  unetOutput: Float32Array;
  /** The guided prediction [B, C, h, w]. */
  guided: Float32Array;
  /** Latents after scheduler.step. */
  latents: Float32Array;
}

export interface DenoiseOptions {
  unet: UNet2DConditionModel;
  scheduler: Scheduler;
  steps: number;
  /** Initial latents [B, C, h, w] (before × init_noise_sigma). */
  latents: Float32Array;
  shape: readonly [number, number, number, number];
  /** Conditional text embeddings [B, T, D]. */
  promptEmbeds: Float32Array;
  /** Unconditional embeddings [B, T, D]; required when guidance > 1. */
  negativePromptEmbeds?: Float32Array;
  /** unCLIP class labels: [2B, P] ([negative; positive]) with guidance, else [B, P]. */
  classLabels?: Float32Array;
  /** Classifier-free guidance scale; ≤ 1 runs the conditional batch only (diffusers' rule). */
  guidanceScale: number;
  signal?: AbortSignal;
  /** Per model call: 'denoise' done/total with seconds per call. */
  onProgress?: (p: Progress) => void;
  /** Every model call's tensors (parity tests, debugging). */
  onCall?: (c: DenoiseCall) => void;
}

/** Runs the loop; returns the final latents [B, C, h, w]. */
export async function denoise(o: DenoiseOptions): Promise<Float32Array> {
  const { unet, scheduler } = o;
  const [B, C, h, w] = o.shape;
  const n = B * C * h * w;
  if (o.latents.length !== n) throw new InputError(`latents have ${o.latents.length} values, shape [${o.shape}] needs ${n}`);
  const cfg = o.guidanceScale > 1;
  if (cfg && !o.negativePromptEmbeds) throw new InputError('classifier-free guidance needs the negative (unconditional) prompt embeddings');
  if (cfg && o.negativePromptEmbeds!.length !== o.promptEmbeds.length) {
    throw new InputError(`negative prompt embeddings have ${o.negativePromptEmbeds!.length} values, the prompt embeddings ${o.promptEmbeds.length}`);
  }
  const ehs = cfg ? concat(o.negativePromptEmbeds!, o.promptEmbeds) : o.promptEmbeds;
  scheduler.setTimesteps(o.steps);
  const sigma = scheduler.initNoiseSigma;
  let latents = sigma === 1 ? o.latents : o.latents.map((x) => fr(x * sigma));
  const ts = scheduler.timesteps;
  const started = performance.now();
  for (let i = 0; i < ts.length; i++) {
    if (o.signal?.aborted) throw o.signal.reason ?? new DOMException('denoising aborted', 'AbortError');
    const t = ts[i]!;
    const input = scheduler.scaleModelInput(cfg ? concat(latents, latents) : latents, t);
    const out = await unet.run({
      sample: input,
      shape: [cfg ? 2 * B : B, C, h, w],
      timestep: t,
      encoderHiddenStates: ehs,
      classLabels: o.classLabels,
    });
    let guided: Float32Array;
    if (cfg) {
      guided = new Float32Array(n);
      const g = o.guidanceScale;
      for (let k = 0; k < n; k++) {
        const u = out[k]!, c = out[n + k]!;
        guided[k] = fr(u + fr(g * fr(c - u)));
      }
    } else guided = out;
    latents = scheduler.step(guided, t, latents).prevSample;
    o.onCall?.({ index: i, timestep: t, unetInput: input, unetOutput: out, guided, latents });
    const secs = (performance.now() - started) / 1000 / (i + 1);
    o.onProgress?.({ stage: 'denoise', done: i + 1, total: ts.length, message: `t=${t} ${secs.toFixed(2)} s/step` });
  }
  return latents;
}

function concat(a: Float32Array, b: Float32Array): Float32Array {
  const out = new Float32Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}
