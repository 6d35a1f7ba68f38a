// What tsvlm draw (Stable Diffusion) and tsvlm reconstruct share: strict flag parsing with the
// command's usage, checked numeric flags, progress lines on stderr, Ctrl-C → AbortSignal, and
// exit codes (2 usage, 1 failure).
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { Progress } from '../api.js';
import { UsageError } from './args.js';
import { progressPrinter as sharedPrinter } from './progress.js';

export class DiffusionUsageError extends UsageError {}

/** Flags both commands take. */
export const DIFFUSION_OPTIONS = {
  model: { type: 'string' },
  steps: { type: 'string' },
  guidance: { type: 'string' },
  seed: { type: 'string' },
  out: { type: 'string' },
  variant: { type: 'string' },
  device: { type: 'string' },
  json: { type: 'boolean' },
  quiet: { type: 'boolean', short: 'q' },
  help: { type: 'boolean', short: 'h' },
} as const;

export function intFlag(v: string | undefined, name: string, min: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new DiffusionUsageError(`--${name} must be an integer ≥ ${min} (got ${JSON.stringify(v)})`);
  return n;
}

export function numberFlag(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n)) throw new DiffusionUsageError(`--${name} must be a number (got ${JSON.stringify(v)})`);
  return n;
}

/** The CLI's progress display on stderr (cli/progress.ts) unless quiet. */
export function progressPrinter(quiet: boolean | undefined): ((p: Progress) => void) | undefined {
  return quiet ? undefined : sharedPrinter();
}

export function randomSeed(): number {
  return Math.floor(Math.random() * 2 ** 32);
}

/**
 * Parses `argv` strictly, prints `usage` for --help, runs `body` with an AbortSignal that Ctrl-C
 * fires, and turns errors into the exit code.
 */
export async function runCommand<O extends NonNullable<ParseArgsConfig['options']>>(
  name: string,
  usage: string,
  argv: string[],
  options: O,
  body: (values: ReturnType<typeof parseArgs<{ options: O; allowPositionals: true }>>['values'], positionals: string[], signal: AbortSignal) => Promise<void>,
): Promise<number> {
  let parsed: ReturnType<typeof parseArgs<{ options: O; allowPositionals: true }>>;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (e) {
    process.stderr.write(`tsvlm ${name}: error: ${(e as Error).message}\n${usage}`);
    return 2;
  }
  if ((parsed.values as { help?: boolean }).help) {
    process.stdout.write(usage);
    return 0;
  }
  const ac = new AbortController();
  const onSig = () => ac.abort(new Error('interrupted'));
  process.once('SIGINT', onSig);
  try {
    await body(parsed.values, parsed.positionals, ac.signal);
    return 0;
  } catch (e) {
    const isUsage = e instanceof UsageError;
    process.stderr.write(`tsvlm ${name}: error: ${(e as Error).message}\n`);
    if (isUsage) process.stderr.write(`run "tsvlm ${name} --help" for usage\n`);
    return isUsage ? 2 : 1;
  } finally {
    process.off('SIGINT', onSig);
  }
}
