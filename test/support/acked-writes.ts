// A client that keeps writing while the topology changes, remembering what the cluster
// acknowledged, so a test can check afterwards that every acknowledged write survived.
// Bounded in operations and time; writers own disjoint keys and write each key in order,
// so a key's last acknowledged value is known exactly.
import type { Cluster } from 'ioredis';

interface KeyRecord {
  /** Last value the cluster acknowledged, if any. */
  acknowledged?: string;
  /** Values sent after it whose SET failed: they may or may not have been applied. */
  uncertain: string[];
}

export interface AckedWriterOptions {
  /** Concurrent writers, each with its own keys. @default 8 */
  writers?: number;
  /** Stop after this many operations in total. @default 500_000 */
  maxOperations?: number;
  /** Stop after this long even if stop() was not called. @default 120 s */
  maxDurationMs?: number;
  /** Each writer cycles over this many keys it overwrites, besides writing new ones. @default 50 */
  hotKeysPerWriter?: number;
  prefix?: string;
  /** Pause of each writer between writes, so a fixed rate spans a long operation. @default 0 */
  pauseMs?: number;
}

export interface AckedWriteReport {
  operations: number;
  acknowledged: number;
  errors: number;
  /** A few distinct error messages, for the log. */
  errorKinds: string[];
  durationMs: number;
}

export interface AckedWriteCheck {
  keys: number;
  lost: number;
  examples: string[];
}

export class AckedWriter {
  private readonly records = new Map<string, KeyRecord>();
  private readonly options: Required<AckedWriterOptions>;
  private stopping = false;
  private running?: Promise<void>;
  private startedAt = 0;
  private readonly report: AckedWriteReport = { operations: 0, acknowledged: 0, errors: 0, errorKinds: [], durationMs: 0 };

  constructor(
    private readonly cluster: Cluster,
    options: AckedWriterOptions = {},
  ) {
    this.options = {
      writers: 8,
      maxOperations: 500_000,
      maxDurationMs: 120_000,
      hotKeysPerWriter: 50,
      prefix: 'acked',
      pauseMs: 0,
      ...options,
    };
  }

  start(): void {
    this.stopping = false;
    this.startedAt = Date.now();
    const writers = Array.from({ length: this.options.writers }, (_, writer) => this.write(writer));
    this.running = Promise.all(writers).then(() => undefined);
  }

  /** Stops writing and waits for the writes in flight; returns the counts. */
  async stop(): Promise<AckedWriteReport> {
    this.stopping = true;
    await this.running;
    this.report.durationMs = Date.now() - this.startedAt;
    return { ...this.report, errorKinds: [...this.report.errorKinds] };
  }

  private async write(writer: number): Promise<void> {
    const { prefix, hotKeysPerWriter, maxOperations, maxDurationMs, pauseMs } = this.options;
    for (let sequence = 0; ; sequence++) {
      if (this.stopping || this.report.operations >= maxOperations || Date.now() - this.startedAt > maxDurationMs) return;
      if (pauseMs > 0) await new Promise((resolve) => setTimeout(resolve, pauseMs));
      this.report.operations++;
      // Every other write overwrites a hot key; the rest create a new key.
      const key = sequence % 2 === 0 ? `${prefix}:${writer}:hot:${(sequence / 2) % hotKeysPerWriter}` : `${prefix}:${writer}:new:${sequence}`;
      const value = `${writer}:${sequence}`;
      let record = this.records.get(key);
      if (!record) this.records.set(key, (record = { uncertain: [] }));
      try {
        await this.cluster.set(key, value);
        record.acknowledged = value;
        record.uncertain = [];
        this.report.acknowledged++;
      } catch (error) {
        record.uncertain.push(value);
        this.report.errors++;
        const kind = String((error as Error).message ?? error).slice(0, 80);
        if (this.report.errorKinds.length < 5 && !this.report.errorKinds.includes(kind)) this.report.errorKinds.push(kind);
      }
    }
  }

  /** Reads every written key: it must hold its last acknowledged value (or a later, failed-looking write). */
  async check(reader: Cluster): Promise<AckedWriteCheck> {
    const result: AckedWriteCheck = { keys: 0, lost: 0, examples: [] };
    const entries = [...this.records];
    for (let start = 0; start < entries.length; start += 2000) {
      await Promise.all(
        entries.slice(start, start + 2000).map(async ([key, record]) => {
          const value = await reader.get(key);
          result.keys++;
          const allowed = record.uncertain.includes(value ?? '') || value === (record.acknowledged ?? null);
          if (allowed || (value === null && record.acknowledged === undefined)) return;
          result.lost++;
          if (result.examples.length < 10) result.examples.push(`${key}: have ${value}, acknowledged ${record.acknowledged}`);
        }),
      );
    }
    return result;
  }
}
