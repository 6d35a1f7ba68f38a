// Config checks of the diffusers components: unsupported layouts fail with messages that name the
// field, diffusers 0.20.2's head-count quirk is kept, and the sinusoid matches its float32 math.
import { describe, it, expect } from 'vitest';
import { parseUNetConfig } from '../../src/models/diffusion/unet_2d_condition.js';
import { parseVaeConfig } from '../../src/models/diffusion/vae.js';
import { timestepSinusoid } from '../../src/models/diffusion/embeddings.js';
import { imageToUint8 } from '../../src/models/diffusion/image_processor.js';

const sd2 = {
  _class_name: 'UNet2DConditionModel',
  down_block_types: ['CrossAttnDownBlock2D', 'CrossAttnDownBlock2D', 'CrossAttnDownBlock2D', 'DownBlock2D'],
  up_block_types: ['UpBlock2D', 'CrossAttnUpBlock2D', 'CrossAttnUpBlock2D', 'CrossAttnUpBlock2D'],
  block_out_channels: [320, 640, 1280, 1280],
  attention_head_dim: [5, 10, 20, 20],
  cross_attention_dim: 1024,
  use_linear_projection: true,
  class_embed_type: 'projection',
  projection_class_embeddings_input_dim: 2048,
};

describe('diffusers component configs', () => {
  it('SD 2.x: attention_head_dim lists are head counts per block (64-dim heads)', () => {
    const c = parseUNetConfig(sd2);
    expect(c.heads).toEqual([5, 10, 20, 20]);
    expect(c.blockOutChannels.map((ch, i) => ch / c.heads[i]!)).toEqual([64, 64, 64, 64]);
    expect(c.classInputDim).toBe(2048);
  });
  it('SD 1.x: a single attention_head_dim = 8 heads in every block', () => {
    expect(parseUNetConfig({ ...sd2, attention_head_dim: 8, class_embed_type: null }).heads).toEqual([8, 8, 8, 8]);
  });
  it('names the field of an unsupported layout', () => {
    expect(() => parseUNetConfig({ ...sd2, down_block_types: ['SimpleCrossAttnDownBlock2D', 'DownBlock2D', 'DownBlock2D', 'DownBlock2D'] })).toThrow(/down_block_types.*SimpleCrossAttnDownBlock2D/);
    expect(() => parseUNetConfig({ ...sd2, class_embed_type: 'timestep' })).toThrow(/class_embed_type/);
    expect(() => parseUNetConfig({ ...sd2, attention_head_dim: [3, 10, 20, 20] })).toThrow(/320 channels, not divisible by 3 heads/);
    expect(() => parseUNetConfig({ ...sd2, up_block_types: ['UpBlock2D'] })).toThrow(/4 down blocks but 1 up blocks/);
    expect(() => parseVaeConfig({ block_out_channels: [8, 16], down_block_types: ['DownEncoderBlock2D', 'AttnDownEncoderBlock2D'] })).toThrow(/AttnDownEncoderBlock2D/);
  });
  it('timestep sinusoid: [cos | sin] with flip, float32 argument', () => {
    const e = timestepSinusoid([0, 999], 8, true, 0);
    expect(Array.from(e.slice(0, 8))).toEqual([1, 1, 1, 1, 0, 0, 0, 0]);
    expect(e[8]).toBeCloseTo(Math.cos(999), 6);
    expect(timestepSinusoid([1], 4, false, 1)[0]).toBeCloseTo(Math.sin(1), 7); // sin first without flip
  });
  it('uint8: numpy rounding (half to even) vs truncation', () => {
    const img = Float32Array.from([0.5 / 255, 1.5 / 255, 1, 0.999]);
    expect(Array.from(imageToUint8(img, 'round'))).toEqual([0, 2, 255, 255]);
    expect(Array.from(imageToUint8(img, 'truncate'))).toEqual([0, 1, 255, 254]);
  });
});
