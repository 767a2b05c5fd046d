// Log lines for kubectl logs: timestamped, redacted, and migration progress every few seconds.
import { redact } from './errors';
import { formatDuration } from './format';

export interface Log {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export function createLog(
  write: (line: string) => void = (line) => process.stdout.write(line),
  writeError: (line: string) => void = (line) => process.stderr.write(line),
): Log {
  const line = (level: string, message: string) => `${new Date().toISOString()} ${level} ${redact(message)}\n`;
  return {
    info: (message) => write(line('INFO', message)),
    warn: (message) => write(line('WARN', message)),
    error: (message) => writeError(line('ERROR', message)),
  };
}

/** Counts slots and keys moved; logs a line at most every `intervalMs`. */
export class MigrationProgress {
  private slotsDone = 0;
  private keysDone = 0;
  private readonly startedAt = Date.now();
  private lastLogAt = Date.now();

  constructor(
    private readonly log: Log,
    private readonly totalSlots: number,
    private readonly estimatedKeys: number,
    private readonly intervalMs = 2000,
  ) {}

  keysMoved(count: number): void {
    this.keysDone += count;
    this.maybeLog();
  }

  slotsMoved(count: number): void {
    this.slotsDone += count;
    this.maybeLog();
  }

  get slots(): number {
    return this.slotsDone;
  }

  get keys(): number {
    return this.keysDone;
  }

  private maybeLog(): void {
    if (Date.now() - this.lastLogAt >= this.intervalMs) this.report();
  }

  report(): void {
    this.lastLogAt = Date.now();
    const elapsed = Math.max(1, Date.now() - this.startedAt);
    const keysPerSecond = (this.keysDone * 1000) / elapsed;
    // ETA by keys when there are keys to move, else by slots.
    const remainingFraction =
      this.estimatedKeys > 0
        ? Math.max(0, this.estimatedKeys - this.keysDone) / Math.max(1, this.keysDone)
        : (this.totalSlots - this.slotsDone) / Math.max(1, this.slotsDone);
    const eta = this.keysDone === 0 && this.slotsDone === 0 ? Infinity : remainingFraction * elapsed;
    const percent = Math.floor((this.slotsDone * 100) / Math.max(1, this.totalSlots));
    this.log.info(
      `migrating: ${this.slotsDone}/${this.totalSlots} slots (${percent}%), ${this.keysDone}` +
        `${this.estimatedKeys > 0 ? `/~${this.estimatedKeys}` : ''} keys, ${Math.round(keysPerSecond)} keys/s, ` +
        `elapsed ${formatDuration(elapsed)}, ETA ${formatDuration(eta)}`,
    );
  }

  finish(): void {
    const elapsed = Math.max(1, Date.now() - this.startedAt);
    this.log.info(
      `migrated ${this.slotsDone} slots and ${this.keysDone} keys in ${formatDuration(elapsed)} ` +
        `(${Math.round((this.keysDone * 1000) / elapsed)} keys/s, ${Math.round((this.slotsDone * 1000) / elapsed)} slots/s)`,
    );
  }
}
