/**
 * A progress bar on stderr for anything that walks a cohort. On a terminal it redraws one line;
 * elsewhere (CI, logs) it prints a line per item so logs stay readable.
 */
export class Progress {
  private done = 0;
  private readonly started = Date.now();
  private readonly tty: boolean;

  constructor(
    private readonly label: string,
    private readonly total: number,
    private readonly stream: NodeJS.WriteStream = process.stderr,
    private readonly quiet = false,
  ) {
    this.tty = Boolean(stream.isTTY);
  }

  /** Marks one more item done; `item` names it (a case id). */
  tick(item = ''): void {
    this.done++;
    if (this.quiet) return;
    const width = 24;
    const frac = this.total > 0 ? this.done / this.total : 1;
    const filled = Math.round(frac * width);
    const bar = '#'.repeat(filled) + '-'.repeat(width - filled);
    const secs = ((Date.now() - this.started) / 1000).toFixed(1);
    const line = `${this.label} [${bar}] ${this.done}/${this.total} ${secs}s ${item}`;
    if (this.tty) {
      this.stream.write(`\r${line.padEnd(100)}${this.done === this.total ? '\n' : ''}`);
    } else {
      this.stream.write(`${line}\n`);
    }
  }
}
