// A progress line for long batch jobs: done/total, images/s over the run, ETA, errors. On a
// terminal it redraws one line; otherwise (logs, Slurm) it prints a line every `everyMs`.

export function formatDuration(s: number): string {
  if (!Number.isFinite(s)) return '?';
  s = Math.round(s);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  return h ? `${h}h${String(m).padStart(2, '0')}m` : m ? `${m}m${String(sec).padStart(2, '0')}s` : `${sec}s`;
}

export class ProgressLine {
  private readonly start = Date.now();
  private last = 0;
  private done = 0;
  private errors = 0;

  constructor(
    private readonly total: number,
    /** Images already done before this run (a resumed job); not counted in images/s. */
    private readonly already: number,
    private readonly write: ((s: string) => void) | undefined,
    private readonly tty: boolean,
    private readonly everyMs = tty ? 250 : 10_000,
  ) {}

  update(done: number, errors: number, force = false): void {
    this.done = done;
    this.errors = errors;
    const now = Date.now();
    if (!this.write || (!force && now - this.last < this.everyMs)) return;
    this.last = now;
    this.write(this.tty ? `\r${this.text()}\x1b[K` : `${this.text()}\n`);
  }

  /** Images per second of this run. */
  rate(): number {
    const s = (Date.now() - this.start) / 1000;
    return s > 0 ? (this.done - this.already) / s : 0;
  }

  text(): string {
    const rate = this.rate();
    const pct = this.total ? ((100 * this.done) / this.total).toFixed(1) : '100.0';
    const eta = rate > 0 ? formatDuration((this.total - this.done) / rate) : '?';
    const err = this.errors ? `, ${this.errors} error${this.errors === 1 ? '' : 's'}` : '';
    return `[tsvlm] batch ${this.done}/${this.total} images (${pct}%) ${rate.toFixed(1)} images/s ETA ${eta}${err}`;
  }

  finish(): void {
    this.update(this.done, this.errors, true);
    if (this.write && this.tty) this.write('\n');
  }
}
