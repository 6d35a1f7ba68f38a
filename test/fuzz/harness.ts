// Fuzz harness: seeded generators of hostile inputs and a runner that classifies each outcome as
// clear error / accepted / crash / hang / over memory. Everything is loopback only and bounded in
// count and time. Used by fuzz.test.ts (a quick subset in `npm test`) and run.ts (`npm run fuzz`).
import { randomBytes } from 'node:crypto';

export type Outcome = 'clear error' | 'accepted' | 'crash' | 'hang' | 'over memory';
export const OUTCOMES: Outcome[] = ['clear error', 'accepted', 'crash', 'hang', 'over memory'];

/** mulberry32: small, fast, seedable. */
export function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  return {
    next,
    int,
    pick: <T>(xs: readonly T[]): T => xs[int(xs.length)]!,
    bool: (p = 0.5) => next() < p,
    bytes: (n: number) => {
      const b = Buffer.alloc(n);
      for (let i = 0; i < n; i++) b[i] = int(256);
      return b;
    },
  };
}
export type Rng = ReturnType<typeof rng>;

/** Values of every JSON type, including the awkward ones. */
export function weirdValue(r: Rng, depth = 0): unknown {
  const k = r.int(depth > 2 ? 9 : 12);
  switch (k) {
    case 0: return null;
    case 1: return r.bool();
    case 2: return r.pick([0, -1, 1.5, 1e308, -1e308, 2 ** 53, 1e-320, 4097, 1e9]);
    case 3: return '';
    case 4: return r.pick(['__proto__', 'constructor', 'toString', 'user', 'system', 'assistant', 'tool', '\u0000', '\ud800', '💥'.repeat(5)]);
    case 5: return 'x'.repeat(r.int(5000));
    case 6: return r.bytes(r.int(64)).toString('latin1');
    case 7: return r.pick(['data:image/png;base64,', 'data:image/png;base64,@@@', 'file:///etc/passwd', 'http://127.0.0.1:1/x', 'data:image/svg+xml;base64,PHN2Zz4=']);
    case 8: return randomBytes(0).toString();
    case 9: return Array.from({ length: r.int(4) }, () => weirdValue(r, depth + 1));
    case 10: return Object.fromEntries(Array.from({ length: r.int(4) }, () => [r.pick(['role', 'content', 'type', 'text', 'image_url', 'url', '__proto__', 'x']), weirdValue(r, depth + 1)]));
    default: return { role: r.pick(['user', 'assistant', 'system', 'developer', 'x']), content: weirdValue(r, depth + 1) };
  }
}

export interface Tally {
  counts: Map<string, Map<Outcome, number>>;
  examples: Map<string, string[]>;
}

export function newTally(): Tally {
  return { counts: new Map(), examples: new Map() };
}

export function record(t: Tally, cls: string, outcome: Outcome, example?: string): void {
  const row = t.counts.get(cls) ?? new Map<Outcome, number>();
  row.set(outcome, (row.get(outcome) ?? 0) + 1);
  t.counts.set(cls, row);
  if ((outcome === 'crash' || outcome === 'hang' || outcome === 'over memory') && example) {
    const ex = t.examples.get(cls) ?? [];
    if (ex.length < 3) ex.push(example.slice(0, 300));
    t.examples.set(cls, ex);
  }
}

export function bad(t: Tally): number {
  let n = 0;
  for (const row of t.counts.values()) for (const o of ['crash', 'hang', 'over memory'] as Outcome[]) n += row.get(o) ?? 0;
  return n;
}

/** The outcome table as Markdown. */
export function table(t: Tally): string {
  const lines = [`| input class | ${OUTCOMES.join(' | ')} |`, `|---|${OUTCOMES.map(() => '---:').join('|')}|`];
  const total = new Map<Outcome, number>();
  for (const [cls, row] of t.counts) {
    lines.push(`| ${cls} | ${OUTCOMES.map((o) => row.get(o) ?? 0).join(' | ')} |`);
    for (const o of OUTCOMES) total.set(o, (total.get(o) ?? 0) + (row.get(o) ?? 0));
  }
  lines.push(`| **total** | ${OUTCOMES.map((o) => `**${total.get(o) ?? 0}**`).join(' | ')} |`);
  for (const [cls, ex] of t.examples) lines.push('', `${cls}: ${ex.join(' / ')}`);
  return lines.join('\n');
}

/** Races a promise against a deadline; resolves 'hang' when it passes. */
export async function within<T>(p: Promise<T>, ms: number): Promise<T | 'hang'> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'hang'>((r) => (timer = setTimeout(() => r('hang'), ms)));
  try {
    return await Promise.race([p, deadline]);
  } finally {
    clearTimeout(timer);
  }
}
