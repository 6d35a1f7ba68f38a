// Fixture discovery and comparison for parity tests. Fixture folders and their cases come from
// the files (config.json, cases.json); TSVLM_FIXTURES points the suite at another root.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SafetensorsFile, toFloat32, bytesToTyped, type TypedArray } from '../../src/io/safetensors.js';

const here = dirname(fileURLToPath(import.meta.url));
export const FIXTURES_ROOT = resolve(process.env.TSVLM_FIXTURES ?? join(here, '../../../shared/fixtures'));

export interface Tolerance { abs: number; rel: number }
export interface FixtureCase {
  name: string;
  description?: string;
  inputs: string[];
  outputs: string[];
  tolerance: Tolerance & Record<string, unknown>;
  tolerance_per_tensor?: Record<string, Tolerance>;
  facts?: Record<string, any>;
}

export interface Fixture {
  name: string;
  dir: string;
  config?: Record<string, any>;
  cases: FixtureCase[];
  casesJson: Record<string, any>;
  tensors: SafetensorsFile | undefined;
  f32(key: string): Float32Array;
  typed(key: string): TypedArray;
  shape(key: string): number[];
  has(key: string): boolean;
  /** Numbers of an integer tensor (ids, grids). */
  ints(key: string): number[];
}

export function openFixture(dir: string): Fixture {
  const casesJson = JSON.parse(readFileSync(join(dir, 'cases.json'), 'utf8'));
  const cfgPath = join(dir, 'config.json');
  const config = existsSync(cfgPath) ? JSON.parse(readFileSync(cfgPath, 'utf8')) : undefined;
  const stPath = join(dir, 'cases.safetensors');
  const tensors = existsSync(stPath) ? SafetensorsFile.open(stPath) : undefined;
  const info = (key: string) => {
    const t = tensors?.tensors.get(key);
    if (!t) throw new Error(`${dir}: cases.safetensors has no tensor ${key}`);
    return t;
  };
  return {
    name: dir.split('/').filter(Boolean).pop()!,
    dir,
    config,
    cases: casesJson.cases ?? [],
    casesJson,
    tensors,
    f32: (k) => toFloat32(tensors!.readBytes(k), info(k).dtype),
    typed: (k) => bytesToTyped(tensors!.readBytes(k), info(k).dtype),
    shape: (k) => info(k).shape,
    has: (k) => tensors?.tensors.has(k) ?? false,
    ints: (k) => Array.from(toFloat32(tensors!.readBytes(k), info(k).dtype), (x) => Math.round(x)),
  };
}

/** Fixture folders whose config.json matches `pred` (e.g. model_type === 'siglip'). */
export function discoverFixtures(pred: (config: Record<string, any> | undefined, dir: string) => boolean): Fixture[] {
  if (!existsSync(FIXTURES_ROOT)) return [];
  const out: Fixture[] = [];
  for (const name of readdirSync(FIXTURES_ROOT).sort()) {
    const dir = join(FIXTURES_ROOT, name);
    if (!existsSync(join(dir, 'cases.json'))) continue;
    const cfgPath = join(dir, 'config.json');
    const config = existsSync(cfgPath) ? JSON.parse(readFileSync(cfgPath, 'utf8')) : undefined;
    if (pred(config, dir)) out.push(openFixture(dir));
  }
  return out;
}

export interface Comparison { worst: number; worstAt: number; ok: boolean; excess: number }

/** |got − want| ≤ abs + rel·|want| elementwise; `worst` is the largest |got − want|. */
export function compare(got: ArrayLike<number>, want: ArrayLike<number>, tol: Tolerance, valid?: (i: number) => boolean): Comparison {
  if (got.length !== want.length) throw new Error(`length mismatch: got ${got.length}, want ${want.length}`);
  let worst = 0, worstAt = -1, ok = true, excess = 0;
  for (let i = 0; i < want.length; i++) {
    if (valid && !valid(i)) continue;
    const g = got[i]!, w = want[i]!;
    const d = Math.abs(g - w);
    if (!(d <= tol.abs + tol.rel * Math.abs(w))) {
      ok = false;
      excess = Math.max(excess, Number.isNaN(d) ? Infinity : d - tol.abs - tol.rel * Math.abs(w));
    }
    if (d > worst || Number.isNaN(d)) { worst = Number.isNaN(d) ? Infinity : d; worstAt = i; }
  }
  return { worst, worstAt, ok, excess };
}

/** Prints one line per checked tensor, the format `npm run test:parity` promises, and asserts. */
export function report(fixture: string, caseName: string, tensor: string, c: Comparison, tol: Tolerance): void {
  const line = `parity ${fixture} ${caseName} ${tensor}: worst ${c.worst.toExponential(2)} (tol abs ${tol.abs} rel ${tol.rel}) ${c.ok ? 'ok' : 'FAIL'}`;
  console.log(line);
  if (!c.ok) throw new Error(line + ` at index ${c.worstAt}`);
}

/** Per-tensor tolerances come as {abs, rel} or {atol, rtol}; 'exact' means 0. */
function toleranceOf(t: unknown): Tolerance | undefined {
  if (t === 'exact') return { abs: 0, rel: 0 };
  if (!t || typeof t !== 'object') return undefined;
  const o = t as Record<string, number>;
  const abs = o.abs ?? o.atol, rel = o.rel ?? o.rtol;
  return typeof abs === 'number' ? { abs, rel: rel ?? 0 } : undefined;
}

export function checkTensor(fx: Fixture, c: FixtureCase, key: string, got: ArrayLike<number>, valid?: (i: number) => boolean, tolOverride?: Tolerance): Comparison {
  const tol = tolOverride ?? toleranceOf(c.tolerance_per_tensor?.[key]) ?? { abs: c.tolerance.abs, rel: c.tolerance.rel };
  const cmp = compare(got, fx.f32(key), tol, valid);
  report(fx.name, c.name, key, cmp, tol);
  return cmp;
}

/** Device under test: TSVLM_DEVICE=webgpu runs the parity suites on the GPU (fp32 graphs). */
export const DEVICE = (process.env.TSVLM_DEVICE ?? 'cpu') as 'cpu' | 'webgpu';

/**
 * On WebGPU the same fp32 graphs run with GPU reduction orders and fused kernels, so results
 * differ from the CPU reference by more than rounding; 1e-3 abs + 1e-3 rel is the stated bound
 * there (greedy ids must still match exactly). On CPU the fixture's own tolerance applies.
 */
export function deviceTolerance(): Tolerance | undefined {
  return DEVICE === 'webgpu' ? { abs: 1e-3, rel: 1e-3 } : undefined;
}

/**
 * Decoder attention graphs under test: both on CPU ('ops' plain ops, 'gqa' GroupQueryAttention),
 * only 'ops' on WebGPU. TSVLM_ATTENTION=ops|gqa restricts the suites to one.
 */
export const ATTENTIONS: ('ops' | 'gqa')[] = (DEVICE === 'webgpu' ? ['ops' as const] : ['ops' as const, 'gqa' as const])
  .filter((a) => !process.env.TSVLM_ATTENTION || process.env.TSVLM_ATTENTION === a);

/** describe.each rows: every fixture once per attention kind ("name [gqa]"). */
export function withAttentions(fixtures: Fixture[]): [string, Fixture, 'ops' | 'gqa'][] {
  return fixtures.flatMap((f) => ATTENTIONS.map((a) => [`${f.name} [${a}]`, f, a] as [string, Fixture, 'ops' | 'gqa']));
}
