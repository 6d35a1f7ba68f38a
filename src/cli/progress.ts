// Progress on stderr: one bar redrawn in place on a terminal; plain lines otherwise (a line per
// stage or message, and every 10% of a long byte/token count), so logs stay readable.
import type { Progress } from '../api.js';

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024, i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${v.toFixed(v < 10 ? 2 : 1)} ${units[i]}`;
}

function amount(p: Progress): string {
  if (p.unit === 'bytes') return `${formatBytes(p.done)}/${formatBytes(p.total)}`;
  if (p.unit === 'tokens') return `${p.done}/${p.total} tokens`;
  return `${p.done}/${p.total}`;
}

export interface ProgressSink {
  write(s: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

/**
 * A Progress callback writing to `out` (default stderr). `transient`: on a terminal the finished
 * bar is erased (prefill: the answer then starts on a clean line).
 */
export function progressPrinter(out: ProgressSink = process.stderr, transient = false): (p: Progress) => void {
  let lastKey = '';
  let lastTenth = -1;
  return (p) => {
    const frac = p.total > 0 ? Math.min(1, p.done / p.total) : 0;
    const pct = `${Math.floor(frac * 100)}%`.padStart(4);
    const label = `[tsvlm] ${p.stage}${p.message ? ` ${p.message}` : ''}`;
    if (out.isTTY) {
      const width = 24;
      const bar = '█'.repeat(Math.round(frac * width)).padEnd(width, '░');
      let line = `${label} ${bar} ${pct} ${amount(p)}`;
      const cols = out.columns || 100;
      if (line.length > cols - 1) line = `${label.slice(0, Math.max(10, cols - 1 - (line.length - label.length) - 1))}… ${bar} ${pct} ${amount(p)}`;
      out.write(`\r\x1b[2K${line}`);
      if (p.done >= p.total) out.write(transient ? '\r\x1b[2K' : '\n');
      return;
    }
    const key = `${p.stage}|${p.message ?? ''}`;
    // A line per stage/message, every 10% of a long count, and when a step ends.
    const tenth = p.unit ? Math.floor(frac * 10) : p.done >= p.total ? 10 : 0;
    if (key === lastKey && tenth <= lastTenth) return;
    lastKey = key;
    lastTenth = tenth;
    out.write(`${label} ${pct.trim()} ${amount(p)}${p.elapsedMs ? ` (${(p.elapsedMs / 1000).toFixed(1)} s)` : ''}\n`);
  };
}
