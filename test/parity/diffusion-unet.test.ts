// UNet2DConditionModel parity against diffusers 0.20.2 (fixtures with a unet/ component): the
// b_unet_forward case stage by stage, and every UNet call the end-to-end case recorded.
import { describe, it, expect } from 'vitest';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES_ROOT, discoverFixtures, checkTensor, compare, report, DEVICE, deviceTolerance, type Fixture } from '../helpers/fixtures.js';
import { UNet2DConditionModel } from '../../src/models/diffusion/unet_2d_condition.js';
import { timestepSinusoid } from '../../src/models/diffusion/embeddings.js';

const fixtures = discoverFixtures((_cfg, dir) => existsSync(join(dir, 'unet', 'config.json')));
if (!fixtures.length) it.skip(`no diffusers UNet fixtures under ${FIXTURES_ROOT}`, () => {});

describe.each(fixtures.map((f) => [f.name, f] as [string, Fixture]))('UNet2DConditionModel parity %s', (_name, fx) => {
  const tol = deviceTolerance();
  let unet: UNet2DConditionModel;
  const load = async () => (unet ??= await UNet2DConditionModel.load(join(fx.dir, 'unet'), { intermediates: true, device: DEVICE }));

  const b = fx.cases.find((c) => c.name === 'b_unet_forward');
  if (b) it('b_unet_forward', async () => {
    const m = await load();
    const ts = fx.ints('b.timesteps');
    const has = (k: string) => b.inputs.includes(k);
    const sin = timestepSinusoid(ts, m.config.blockOutChannels[0]!, m.config.flipSinToCos, m.config.freqShift);
    checkTensor(fx, b, 'b.time_proj', sin, undefined, tol);
    const out = await m.forward({
      sample: fx.f32('b.sample'),
      shape: fx.shape('b.sample'),
      timestep: ts,
      encoderHiddenStates: fx.f32('b.encoder_hidden_states'),
      classLabels: has('b.class_labels') ? fx.f32('b.class_labels') : undefined,
    });
    let checked = 0;
    for (const key of b.outputs) {
      if (key === 'b.time_proj') continue;
      const got = out[key.slice(2)];
      expect(got, `graph output for ${key}`).toBeDefined();
      checkTensor(fx, b, key, got!, undefined, tol);
      checked++;
    }
    expect(checked).toBe(b.outputs.length - 1);
  });

  // Every recorded UNet call of the end-to-end run: [uncond, cond] rows, both halves with the
  // empty-prompt embedding (unCLIP) or [uncond, text] embeddings (SEED v1 PLMS).
  const e = fx.cases.find((c) => c.name.startsWith('e_') && c.outputs.includes('e.unet_outputs'));
  if (e) it(`${e.name} (UNet calls)`, async () => {
    const m = await load();
    const [calls, B, ...chw] = fx.shape('e.unet_inputs') as number[];
    const per = B! * chw.reduce((a, x) => a * x, 1);
    const inputs = fx.f32('e.unet_inputs'), want = fx.f32('e.unet_outputs');
    const ts = fx.ints('e.timesteps');
    let ehs: Float32Array;
    if (fx.has('e.empty_prompt_embeds')) {
      const p = fx.f32('e.empty_prompt_embeds');
      ehs = new Float32Array(2 * p.length); ehs.set(p); ehs.set(p, p.length);
    } else {
      const u = fx.f32('e.uncond_embeds'), t = fx.f32('e.text_embeds');
      ehs = new Float32Array(u.length + t.length); ehs.set(u); ehs.set(t, u.length);
    }
    const classLabels = fx.has('e.class_labels') ? fx.f32('e.class_labels') : undefined;
    const t = tol ?? { abs: e.tolerance.abs, rel: e.tolerance.rel };
    for (let i = 0; i < calls!; i++) {
      const got = await m.run({ sample: inputs.subarray(i * per, (i + 1) * per), shape: [B!, ...chw], timestep: ts[i]!, encoderHiddenStates: ehs, classLabels });
      report(fx.name, e.name, `e.unet_outputs[${i}] (t=${ts[i]})`, compare(got, want.subarray(i * per, (i + 1) * per), t), t);
    }
  });
});
