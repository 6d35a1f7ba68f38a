// Scheduler parity against diffusers 0.20.2 (PNDM, DDIM, DPM-Solver++ 2M, Euler): timesteps exact,
// then the chained scale_model_input / step outputs of the fixtures' d_scheduler_* cases, with the
// configs read from the fixture folders' scheduler_config.json files (Python-style JSON).
import { describe, it, expect } from 'vitest';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES_ROOT, discoverFixtures, checkTensor, compare, report, type Fixture, type FixtureCase } from '../helpers/fixtures.js';
import { SafetensorsFile, toFloat32 } from '../../src/io/safetensors.js';
import { readPythonJsonFile } from '../../src/models/diffusion/pipeline-folder.js';
import { createScheduler, DPMSolverMultistepScheduler, EulerDiscreteScheduler } from '../../src/models/diffusion/schedulers/index.js';

const fixtures = discoverFixtures((_cfg, dir) => existsSync(join(dir, 'model_index.json')) && existsSync(join(dir, 'scheduler')));
if (!fixtures.length) it.skip(`no matching fixtures under ${FIXTURES_ROOT}`, () => {});

/** Largest |got − want| / |want| over elements with |want| > 1e-3 (the 1e-6 relative goal). */
function worstRel(got: ArrayLike<number>, want: ArrayLike<number>): number {
  let w = 0;
  for (let i = 0; i < want.length; i++) if (Math.abs(want[i]!) > 1e-3) w = Math.max(w, Math.abs(got[i]! - want[i]!) / Math.abs(want[i]!));
  return w;
}

function configPath(fx: Fixture, c: FixtureCase): string {
  const kind = c.name.replace('d_scheduler_', '');
  const alt = join(fx.dir, 'schedulers', kind, 'scheduler_config.json');
  return existsSync(alt) ? alt : join(fx.dir, 'scheduler', 'scheduler_config.json');
}

describe.each(fixtures.map((f) => [f.name, f] as [string, Fixture]))('diffusers schedulers %s', (_name, fx) => {
  for (const c of fx.cases.filter((k) => k.name.startsWith('d_scheduler_'))) {
    it(c.name, () => {
      const p = c.name.replace('d_scheduler_', 'd.');
      const sched = createScheduler(readPythonJsonFile(configPath(fx, c)));
      const steps = fx.casesJson.sizes?.sched_steps ?? 5;
      sched.setTimesteps(steps);
      const wantT = Array.from(fx.f32(`${p}.timesteps`));
      expect(sched.timesteps).toEqual(wantT);
      expect(Math.fround(sched.initNoiseSigma)).toBeCloseTo(c.facts!.init_noise_sigma, 4);

      const xT = fx.f32(`${p}.x_T`);
      const n = xT.length;
      const mo = fx.f32(`${p}.model_outputs`);
      const got: Record<string, Float32Array> = {};
      for (const k of ['samples_in', 'scaled_model_inputs', 'prev_samples', 'pred_original_samples']) got[k] = new Float32Array(n * wantT.length);
      let sample = xT.map((x) => Math.fround(x * sched.initNoiseSigma));
      wantT.forEach((t, i) => {
        got.samples_in!.set(sample, i * n);
        got.scaled_model_inputs!.set(sched.scaleModelInput(sample, t), i * n);
        const out = sched.step(mo.subarray(i * n, (i + 1) * n), t, sample);
        got.prev_samples!.set(out.prevSample, i * n);
        if (out.predOriginalSample) got.pred_original_samples!.set(out.predOriginalSample, i * n);
        sample = out.prevSample;
      });
      for (const key of c.outputs) {
        const short = key.slice(p.length + 1);
        if (short === 'sigmas') {
          const want = fx.f32(key);
          const sig = sched instanceof EulerDiscreteScheduler ? sched.sigmas
            : sched instanceof DPMSolverMultistepScheduler ? Array.from(sched.alphasCumprod, (a) => Math.fround(Math.sqrt(Math.fround(Math.fround(1 - a) / a))))
            : [];
          checkTensor(fx, c, key, Float32Array.from(sig), undefined, { abs: 0, rel: 1e-6 });
          continue;
        }
        const g = got[short];
        if (!g) throw new Error(`test does not produce ${key}`);
        checkTensor(fx, c, key, g);
        console.log(`  ${key}: worst relative ${worstRel(g, fx.f32(key)).toExponential(2)}`);
      }
    });
  }
});

// Karras sigmas (DPM++ 2M Karras, Euler Karras): diffusers 0.20.2 reference from
// test/data/diffusion/make_karras.py on the fixtures' scheduler configs.
describe('Karras sigmas vs diffusers 0.20.2', () => {
  const ref = SafetensorsFile.open(join(__dirname, '../data/diffusion/karras.safetensors'));
  const t = (k: string) => toFloat32(ref.readBytes(k), ref.tensors.get(k)!.dtype);
  const t64 = (k: string) => Array.from(new Float64Array(Uint8Array.from(ref.readBytes(k)).buffer));
  const TOL = { abs: 2e-5, rel: 2e-5 }; // the fixtures' scheduler tolerance
  for (const fx of ['unclip-tiny', 'sd-v1-tiny']) {
    const cfgPath = join(FIXTURES_ROOT, fx, 'scheduler', 'scheduler_config.json');
    for (const [name, kind] of [['dpmpp2m', 'DPMSolverMultistepScheduler'], ['euler', 'EulerDiscreteScheduler']] as const) {
      for (const n of [5, 20]) {
        it.runIf(existsSync(cfgPath))(`${fx} ${name} karras, ${n} steps`, () => {
          const p = `${fx}.${name}.${n}`;
          const sched = createScheduler({ ...readPythonJsonFile(cfgPath), use_karras_sigmas: true }, kind);
          sched.setTimesteps(n);
          const wantT = t64(`${p}.timesteps`);
          if (name === 'dpmpp2m') expect(sched.timesteps).toEqual(wantT);
          // Euler's fractional timesteps interpolate in numpy's float32 log σ table, which is an ulp
          // off the correctly rounded log at some entries: up to 3.4e-5 of a timestep (the UNet
          // sees float32(t), whose spacing at t ≈ 500 is 6e-5).
          else sched.timesteps.forEach((x, i) => expect(Math.abs(x - wantT[i]!)).toBeLessThan(1e-4));
          expect(Math.abs(sched.initNoiseSigma - t64(`${p}.init_noise_sigma`)[0]!)).toBeLessThan(1e-5);
          if (sched instanceof EulerDiscreteScheduler) {
            const c = compare(Float32Array.from(sched.sigmas), t64(`${p}.sigmas`), { abs: 0, rel: 1e-6 });
            report(fx, `${name} karras ${n}`, 'sigmas', c, { abs: 0, rel: 1e-6 });
          }
          const mo = t(`${p}.model_outputs`);
          let x = t(`${p}.x_T`).map((v) => Math.fround(v * sched.initNoiseSigma));
          const m = x.length;
          const prev = new Float32Array(m * sched.timesteps.length);
          sched.timesteps.forEach((ts, i) => {
            sched.scaleModelInput(x, ts);
            x = sched.step(mo.subarray(i * m, (i + 1) * m), ts, x).prevSample;
            prev.set(x, i * m);
          });
          report(fx, `${name} karras ${n}`, 'prev_samples', compare(prev, t(`${p}.prev_samples`), TOL), TOL);
        });
      }
    }
  }
});
