// The real checkpoints' configs (recorded by the fixtures under real_checkpoint): SD 2.1-unCLIP's
// scheduler at SEED's 20 steps through every scheduler class (timesteps printed by diffusers
// 0.20.2 `Class.from_config(real).set_timesteps(20)`; a config without timestep_spacing takes each
// class's default), SD 1.4's at SEED v1's 50, the noising schedule, the text encoders.
import { describe, it, expect } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES_ROOT } from '../helpers/fixtures.js';
import { createScheduler } from '../../src/models/diffusion/schedulers/index.js';
import { DDPMScheduler } from '../../src/models/diffusion/schedulers/ddpm.js';
import { parseClipTextConfig } from '../../src/models/diffusion/clip_text_model.js';

const real = (path: string) => {
  const r = JSON.parse(readFileSync(join(FIXTURES_ROOT, path), 'utf8')).real_checkpoint;
  return Object.fromEntries(Object.entries(r).filter(([k]) => !k.startsWith('_') || k === '_class_name')) as Record<string, any>;
};
const have = existsSync(join(FIXTURES_ROOT, 'unclip-tiny', 'scheduler')) && existsSync(join(FIXTURES_ROOT, 'clip-text-sd2-tiny'));

const range = (from: number, to: number, step: number) => Array.from({ length: Math.floor((to - from) / step) + 1 }, (_, i) => from + i * step);

describe.skipIf(!have)('real checkpoint configs', () => {
  it('SD 2.1-unCLIP scheduler, 20 steps, every class', () => {
    const cfg = real('unclip-tiny/scheduler/scheduler_config.json');
    const down = (xs: number[]) => [...xs].reverse();
    const pndm = createScheduler(cfg);
    pndm.setTimesteps(20);
    expect(pndm.timesteps).toEqual([951, 901, ...down(range(1, 901, 50))]);
    const ddim = createScheduler(cfg, 'ddim');
    ddim.setTimesteps(20);
    expect(ddim.timesteps).toEqual(down(range(1, 951, 50)));
    const dpm = createScheduler(cfg, 'dpmpp2m');
    dpm.setTimesteps(20);
    expect(dpm.timesteps).toEqual([999, 949, 899, 849, 799, 749, 699, 649, 599, 549, 500, 450, 400, 350, 300, 250, 200, 150, 100, 50]);
    const euler = createScheduler(cfg, 'euler');
    euler.setTimesteps(20);
    euler.timesteps.forEach((t, i) => expect(t).toBeCloseTo(999 - (999 * i) / 19, 10));
  });

  it('SD 1.4 scheduler, 50 steps: PNDM and SEED v1 PLMS visit the same 51 timesteps', () => {
    const cfg = real('sd-v1-tiny/scheduler/scheduler_config.json');
    const want = [981, 961, ...[...range(1, 961, 20)].reverse()];
    for (const kind of ['pndm', 'plms']) {
      const s = createScheduler(cfg, kind);
      s.setTimesteps(50);
      expect(s.timesteps, kind).toEqual(want);
    }
    expect(() => createScheduler(cfg, 'plms').setTimesteps(3)).toThrow(/do not divide 1000/);
  });

  it('unCLIP noising schedule: noise level 0 keeps sqrt(1 − ᾱ₀) ≈ 0.0064 of the noise', () => {
    const s = new DDPMScheduler(real('unclip-tiny/image_noising_scheduler/scheduler_config.json'));
    expect(s.alphasCumprod[0]).toBeCloseTo(0.999959, 6);
    expect(Math.sqrt(1 - s.alphasCumprod[0]!)).toBeCloseTo(0.00642698, 5);
  });

  it('text encoders: SD 2.x OpenCLIP-H (23 layers kept, gelu), SD 1.x CLIP-L (quick_gelu)', () => {
    const sd2 = parseClipTextConfig(real('clip-text-sd2-tiny/text_encoder/config.json').text_encoder_config);
    expect([sd2.hidden_size, sd2.num_hidden_layers, sd2.num_attention_heads, sd2.hidden_act]).toEqual([1024, 23, 16, 'gelu']);
    const r1 = real('clip-text-sd1-tiny/text_encoder/config.json');
    const sd1 = parseClipTextConfig(r1.text_encoder_config ?? r1);
    expect([sd1.hidden_size, sd1.num_hidden_layers, sd1.hidden_act]).toEqual([768, 12, 'quick_gelu']);
  });
});
