// Argument parsing shared by every tsvlm command, so that no input is dropped in silence: unknown
// flags (with a suggestion), flags without their value, a single-value flag given twice and
// arguments a command does not take are usage errors (exit 2). A command registered in
// src/cli/commands.ts also gets its own `--help` (options with defaults) and a check that it is
// given only its own flags; an unregistered command still gets every other check.
import { parseArgs } from 'node:util';
import { existsSync, readFileSync, statSync } from 'node:fs';

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export interface OptionDef {
  type: 'string' | 'boolean';
  multiple?: boolean;
  short?: string;
}
export type OptionTable = Record<string, OptionDef>;

/** Help text of one option: `arg` names its value, `default` is shown as "(default: …)". */
export interface OptionDoc {
  arg?: string;
  help: string;
  default?: string;
  /** False for a flag the table marks multiple for other commands but this use takes once. */
  repeatable?: boolean;
}

export interface CommandSpec {
  /** What follows "tsvlm NAME" in the usage line. */
  synopsis: string;
  about: string;
  /** The flags the command takes (`help` is always accepted). */
  options: readonly string[];
  /** Name of the free-text argument (e.g. "QUESTION"), when the command takes one; else none are allowed. */
  positional?: string;
  /** Lines appended to the help (examples, notes). */
  notes?: string;
}

export interface Parsed<V> {
  values: V;
  positionals: string[];
}

/** Levenshtein distance, for "did you mean" suggestions. */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length]!;
}

function suggest(name: string, names: readonly string[]): string {
  let best: string | undefined;
  let bd = Infinity;
  for (const n of names) {
    const d = n.startsWith(name) && name.length >= 3 ? 0.5 : distance(name, n);
    if (d < bd) { bd = d; best = n; }
  }
  return best !== undefined && bd <= Math.max(2, name.length / 3) ? `; did you mean --${best}?` : '';
}

/**
 * Parses `argv` (the arguments after the command name) against `table`. With a `spec`, only the
 * spec's flags are accepted and positionals only when it names one.
 */
export function parseCommandArgs<V>(cmd: string, argv: string[], table: OptionTable, spec?: CommandSpec): Parsed<V> {
  const { values, tokens } = parseArgs({ args: argv, options: table, allowPositionals: true, strict: false, tokens: true });
  const allowed = spec ? new Set([...spec.options, 'help']) : new Set(Object.keys(table));
  const see = spec ? `tsvlm ${cmd} --help` : 'tsvlm --help';
  const shortToName = new Map(Object.entries(table).filter(([, d]) => d.short).map(([n, d]) => [d.short!, n]));
  const given = new Map<string, string>();
  const positionals: string[] = [];
  let afterTerminator = false;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t.kind === 'option-terminator') { afterTerminator = true; continue; }
    if (t.kind === 'positional') {
      positionals.push(t.value);
      if (afterTerminator) continue;
      if (!spec?.positional && spec) {
        const prev = tokens[i - 1];
        const hint = prev?.kind === 'option' && table[prev.name]?.type === 'string' && !prev.inlineValue
          ? ` (${prev.rawName} takes one value; repeat the flag for each: ${prev.rawName} ${prev.value} ${prev.rawName} ${t.value})`
          : '';
        throw new UsageError(`tsvlm ${cmd} takes no argument ${JSON.stringify(t.value)}${hint}`);
      }
      continue;
    }
    const name = t.rawName.startsWith('--') ? t.name : (shortToName.get(t.name) ?? t.name);
    const def = table[name];
    if (!def || !allowed.has(name)) {
      const known = def ? ` is not an option of tsvlm ${cmd}` : ' is not a tsvlm option';
      throw new UsageError(`${t.rawName}${known}${suggest(name, [...allowed])} (see ${see})`);
    }
    if (def.type === 'boolean') {
      if (t.inlineValue) throw new UsageError(`${t.rawName} takes no value (got ${t.rawName}=${t.value})`);
      continue;
    }
    if (t.value === undefined || (!t.inlineValue && t.value.startsWith('--') && t.value.length > 2)) {
      throw new UsageError(`${t.rawName} needs a value`);
    }
    if (!def.multiple) {
      const prev = given.get(name);
      if (prev !== undefined) throw new UsageError(`--${name} was given twice (${JSON.stringify(prev)} and ${JSON.stringify(t.value)}); it takes one value`);
      given.set(name, t.value);
    }
  }
  return { values: values as V, positionals };
}

/** `tsvlm CMD --help`: usage line, description and the command's options with their defaults. */
export function commandHelp(cmd: string, spec: CommandSpec, table: OptionTable, docs: Record<string, OptionDoc>): string {
  const rows: Array<[string, string]> = [];
  for (const name of [...spec.options, 'help']) {
    const def = table[name];
    if (!def) continue;
    const doc = docs[name];
    const flag = `${def.short ? `-${def.short}, ` : ''}--${name}${def.type === 'string' ? ` ${doc?.arg ?? 'VALUE'}` : ''}`;
    const text = `${doc?.help ?? ''}${def.multiple && doc?.repeatable !== false ? ' (repeatable)' : ''}${doc?.default !== undefined ? ` (default: ${doc.default})` : ''}`;
    rows.push([flag, text]);
  }
  const w = Math.min(30, Math.max(...rows.map(([f]) => f.length)) + 2);
  const lines = rows.map(([f, h]) => `  ${f.padEnd(w)}${f.length >= w ? `\n  ${' '.repeat(w)}` : ''}${h}`);
  return `Usage: tsvlm ${cmd} ${spec.synopsis}\n\n${spec.about}\n\nOptions:\n${lines.join('\n')}\n${spec.notes ? `\n${spec.notes}\n` : ''}`;
}

/** A file named by `flag` that must exist and be a regular file (a folder or a missing path is a usage error). */
export function requireFile(path: string, flag: string): string {
  if (!existsSync(path)) throw new UsageError(`${flag} ${path}: no such file`);
  if (statSync(path).isDirectory()) throw new UsageError(`${flag} ${path} is a folder; give one file per ${flag} (${flag} a.png ${flag} b.png)`);
  return path;
}

/** Reads text from FILE, or from standard input when FILE is "-". */
export function readTextArg(file: string, flag: string): string {
  if (file === '-') {
    if (process.stdin.isTTY) throw new UsageError(`${flag} - reads standard input, but it is a terminal; pipe the text in`);
    return readFileSync(0, 'utf8');
  }
  return readFileSync(requireFile(file, flag), 'utf8');
}
