// torch.randn on the CPU with a seeded torch.Generator, reproduced: the same mt19937 stream and
// the same transforms (ATen's normal_fill for float tensors of ≥ 16 values: 24-bit uniforms,
// Box-Muller over blocks of 16, the last block redrawn; the double Box-Muller with a cached
// second value for smaller tensors). So `--seed 42` draws the latents diffusers draws with
// torch.Generator().manual_seed(42). Values agree with torch to float32 rounding (torch's
// vectorised log/sin/cos may differ from these in the last bit).

const fr = Math.fround;
const N = 624;
const M = 397;

/** torch.Generator (CPU): mt19937 seeded as torch's manual_seed (the low 32 bits of the seed). */
export class TorchGenerator {
  private readonly mt = new Uint32Array(N);
  private mti = N;
  private nextDoubleNormal: number | undefined;

  constructor(seed: number | bigint) {
    this.manualSeed(seed);
  }

  manualSeed(seed: number | bigint): this {
    const s = Number(BigInt.asUintN(32, BigInt(seed)));
    this.mt[0] = s;
    for (let i = 1; i < N; i++) {
      const p = this.mt[i - 1]! ^ (this.mt[i - 1]! >>> 30);
      // 1812433253 · p + i in uint32, without losing bits to float64.
      this.mt[i] = (Math.imul(1812433253, p) + i) >>> 0;
    }
    this.mti = N;
    this.nextDoubleNormal = undefined;
    return this;
  }

  /** One 32-bit output of mt19937. */
  random(): number {
    if (this.mti >= N) this.twist();
    let y = this.mt[this.mti++]!;
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  private twist(): void {
    const mt = this.mt;
    for (let i = 0; i < N; i++) {
      const y = (mt[i]! & 0x80000000) | (mt[(i + 1) % N]! & 0x7fffffff);
      mt[i] = mt[(i + M) % N]! ^ (y >>> 1) ^ (y & 1 ? 0x9908b0df : 0);
    }
    this.mti = 0;
  }

  /** uniform_real_distribution<float>(0, 1): 24 random bits. */
  uniformFloat(): number {
    return (this.random() & 0xffffff) / 16777216;
  }

  /** uniform_real_distribution<double>(0, 1): the low 53 bits of (first << 32 | second). */
  uniformDouble(): number {
    const hi = this.random();
    const lo = this.random();
    return ((hi & 0x1fffff) * 4294967296 + lo) / 9007199254740992;
  }

  /** normal_distribution<double>: Box-Muller on two uniforms; the sine half is kept for the next call. */
  normalDouble(): number {
    if (this.nextDoubleNormal !== undefined) {
      const v = this.nextDoubleNormal;
      this.nextDoubleNormal = undefined;
      return v;
    }
    const u1 = this.uniformDouble();
    const u2 = this.uniformDouble();
    const r = Math.sqrt(-2 * Math.log1p(-u2));
    const theta = 2 * Math.PI * u1;
    this.nextDoubleNormal = r * Math.sin(theta);
    return r * Math.cos(theta);
  }

  /** torch.randn(size, generator=this) as float32 values. */
  randn(size: number): Float32Array {
    const out = new Float32Array(size);
    if (size < 16) {
      for (let i = 0; i < size; i++) out[i] = this.normalDouble();
      return out;
    }
    for (let i = 0; i < size; i++) out[i] = this.uniformFloat();
    for (let i = 0; i + 16 <= size; i += 16) normalFill16(out, i);
    if (size % 16 !== 0) {
      // ATen redraws the last 16 values and transforms them again.
      const start = size - 16;
      for (let i = 0; i < 16; i++) out[start + i] = this.uniformFloat();
      normalFill16(out, start);
    }
    return out;
  }
}

const TWO_PI_F = fr(2 * Math.PI);

/** ATen normal_fill_16 (float): 8 pairs (u1 = 1 − data[j], u2 = data[j + 8]) → cos / sin halves. */
function normalFill16(d: Float32Array, at: number): void {
  for (let j = 0; j < 8; j++) {
    const u1 = fr(1 - d[at + j]!);
    const u2 = d[at + j + 8]!;
    const radius = fr(Math.sqrt(fr(-2 * fr(Math.log(u1)))));
    const theta = fr(TWO_PI_F * u2);
    d[at + j] = fr(radius * fr(Math.cos(theta)));
    d[at + j + 8] = fr(radius * fr(Math.sin(theta)));
  }
}

/** torch.randn(shape, generator=torch.Generator().manual_seed(seed)). */
export function seededRandn(seed: number | bigint, size: number): Float32Array {
  return new TorchGenerator(seed).randn(size);
}
