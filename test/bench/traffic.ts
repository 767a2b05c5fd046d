// A cluster client doing reads and writes at a fixed rate while an operation runs, as an
// application would: open loop (it does not slow down when the cluster does), latency per
// command including ioredis's MOVED/ASK/TRYAGAIN retries, and every failure counted.
import type { Cluster } from 'ioredis';
import type { Dataset } from './dataset.js';

export interface TrafficStats {
  rate: number;
  seconds: number;
  reads: number;
  writes: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Commands that failed after the client's own retries. */
  errors: number;
  /** Reads of a bench key that came back absent or with another value. */
  wrongReads: number;
  errorExamples: string[];
  /** The slowest commands: when they started (ms after the operation started), how long they took. */
  slowest: Array<{ atMs: number; ms: number; command: 'read' | 'write' }>;
  /** Writes acknowledged but absent or different afterwards (filled in by verifyWrites). */
  lostWrites?: number;
}

const TICK_MS = 5;
/** Give up on commands still outstanding this long after the operation ended. */
const DRAIN_TIMEOUT_MS = 15_000;

export class Traffic {
  private readonly latencies: number[] = [];
  private readonly timeline: Array<{ atMs: number; ms: number; command: 'read' | 'write' }> = [];
  private readonly acknowledgedWrites: string[] = [];
  private readonly pending = new Set<Promise<void>>();
  private stats = { reads: 0, writes: 0, errors: 0, wrongReads: 0, errorExamples: [] as string[] };
  private timer?: NodeJS.Timeout;
  private startedAt = 0;
  private issued = 0;

  constructor(
    private readonly cluster: Cluster,
    private readonly dataset: Dataset,
    private readonly rate: number,
    private readonly label: string,
    /** Hard bound on the number of commands, whatever happens to the operation. */
    private readonly maxSeconds: number,
  ) {}

  start(): void {
    if (this.rate <= 0) return;
    this.startedAt = performance.now();
    this.timer = setInterval(() => this.tick(), TICK_MS);
  }

  async stop(): Promise<TrafficStats> {
    clearInterval(this.timer);
    const seconds = this.startedAt ? (performance.now() - this.startedAt) / 1000 : 0;
    const drained = Promise.all([...this.pending]);
    await Promise.race([drained, new Promise((resolve) => setTimeout(resolve, DRAIN_TIMEOUT_MS))]);
    const stillPending = this.pending.size;
    if (stillPending > 0) this.recordError(`${stillPending} commands still unanswered ${DRAIN_TIMEOUT_MS / 1000} s after the operation`, stillPending);
    const sorted = Float64Array.from(this.latencies).sort();
    const percentile = (fraction: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * fraction))] : 0);
    return {
      rate: this.rate,
      seconds,
      reads: this.stats.reads,
      writes: this.stats.writes,
      p50Ms: percentile(0.5),
      p99Ms: percentile(0.99),
      maxMs: sorted.length ? sorted[sorted.length - 1] : 0,
      errors: this.stats.errors,
      wrongReads: this.stats.wrongReads,
      errorExamples: this.stats.errorExamples,
      slowest: [...this.timeline]
        .sort((a, b) => b.ms - a.ms)
        .slice(0, 10)
        .map((entry) => ({ ...entry, atMs: Math.round(entry.atMs), ms: Number(entry.ms.toFixed(1)) })),
    };
  }

  /** Reads back every write the client saw acknowledged; returns how many are absent or wrong. */
  async verifyWrites(cluster: Cluster = this.cluster): Promise<number> {
    let lost = 0;
    for (let index = 0; index < this.acknowledgedWrites.length; index += 500) {
      const keys = this.acknowledgedWrites.slice(index, index + 500);
      const values = await Promise.all(keys.map((key) => cluster.get(key)));
      values.forEach((value, position) => {
        if (value !== keys[position]) lost++;
      });
    }
    return lost;
  }

  private tick(): void {
    const elapsedSeconds = (performance.now() - this.startedAt) / 1000;
    if (elapsedSeconds > this.maxSeconds) return;
    const due = Math.floor(elapsedSeconds * this.rate) - this.issued;
    for (let index = 0; index < due; index++) {
      this.issued++;
      this.track(this.issued % 2 === 0 ? this.read() : this.write(this.issued));
    }
  }

  private track(operation: Promise<void>): void {
    this.pending.add(operation);
    void operation.finally(() => this.pending.delete(operation));
  }

  private async read(): Promise<void> {
    const number = this.dataset.randomKeyNumber();
    const started = performance.now();
    try {
      const value = await this.cluster.get(this.dataset.key(number));
      this.record(started, 'read');
      this.stats.reads++;
      if (value !== this.dataset.value(number)) {
        this.stats.wrongReads++;
        if (this.stats.errorExamples.length < 5)
          this.stats.errorExamples.push(`read ${this.dataset.key(number)}: ${value === null ? 'absent' : 'wrong value'}`);
      }
    } catch (error) {
      this.recordError(`read: ${(error as Error).message}`);
    }
  }

  private async write(sequence: number): Promise<void> {
    // The value is the key itself, so verifyWrites needs no second copy.
    const key = `bench-client:${this.label}:${sequence}`;
    const started = performance.now();
    try {
      await this.cluster.set(key, key);
      this.record(started, 'write');
      this.stats.writes++;
      this.acknowledgedWrites.push(key);
    } catch (error) {
      this.recordError(`write: ${(error as Error).message}`);
    }
  }

  private record(started: number, command: 'read' | 'write'): void {
    const ms = performance.now() - started;
    this.latencies.push(ms);
    if (ms >= 5) this.timeline.push({ atMs: started - this.startedAt, ms, command });
  }

  private recordError(message: string, count = 1): void {
    this.stats.errors += count;
    if (this.stats.errorExamples.length < 5) this.stats.errorExamples.push(message);
  }
}
