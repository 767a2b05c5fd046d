// Watches every pod while something runs: CLUSTER INFO and ROLE on each, every 100 ms, each pod
// on its own connection and loop (a pod blocked by a long MIGRATE delays only its own samples).
// What a migration must never cause shows up here: a node reporting cluster_state:fail (the
// cluster is down for clients) or a node changing role (a failover).
import Redis from 'ioredis';
import type { LocalRedisPods } from './redis-pods.js';

export interface WatchedEvent {
  ordinal: number;
  /** ms since the watch started. */
  atMs: number;
  what: string;
}

export interface WatchReport {
  /**
   * A node that had answered cluster_state:ok answering anything else (the first sample of each
   * spell). A pod not yet in the cluster reports fail until it has joined: that is not counted.
   */
  stateFailures: WatchedEvent[];
  /** A node's ROLE changed (master <-> slave). */
  roleChanges: WatchedEvent[];
  /** Successful samples per ordinal, to show the watch really ran. */
  samples: Map<number, number>;
  /** Longest gap between two answers of one pod, ms (a pod blocked by a MIGRATE shows here). */
  longestSilenceMs: Map<number, number>;
}

export class ClusterWatch {
  private stopping = false;
  private readonly loops: Promise<void>[] = [];
  private readonly connections: Redis[] = [];
  private startedAt = 0;
  private readonly report: WatchReport = { stateFailures: [], roleChanges: [], samples: new Map(), longestSilenceMs: new Map() };

  constructor(
    private readonly pods: LocalRedisPods,
    private readonly ordinals: number[],
    private readonly intervalMs = 100,
  ) {}

  /** Starts watching; resolves once every pod has been sampled once. */
  async start(): Promise<void> {
    this.startedAt = Date.now();
    const firstSamples = this.ordinals.map((ordinal) => {
      const connection = new Redis({
        host: this.pods.hostOf(ordinal),
        port: this.pods.port,
        maxRetriesPerRequest: 0,
        enableOfflineQueue: false,
        retryStrategy: () => 200,
      });
      connection.on('error', () => {});
      this.connections.push(connection);
      let sampled!: () => void;
      const first = new Promise<void>((resolve) => (sampled = resolve));
      this.loops.push(this.watch(ordinal, connection, sampled));
      return first;
    });
    await Promise.race([Promise.all(firstSamples), new Promise((resolve) => setTimeout(resolve, 5000))]);
  }

  async stop(): Promise<WatchReport> {
    this.stopping = true;
    await Promise.all(this.loops);
    for (const connection of this.connections) connection.disconnect();
    return this.report;
  }

  private async watch(ordinal: number, connection: Redis, sampled: () => void): Promise<void> {
    let wasOk = false;
    let failing = false;
    let role: string | undefined;
    let lastAnswer = Date.now();
    while (!this.stopping) {
      try {
        const [info, roleReply] = await Promise.all([connection.call('CLUSTER', 'INFO'), connection.call('ROLE')]);
        const now = Date.now();
        const silence = now - lastAnswer;
        lastAnswer = now;
        if (silence > (this.report.longestSilenceMs.get(ordinal) ?? 0)) this.report.longestSilenceMs.set(ordinal, silence);
        this.report.samples.set(ordinal, (this.report.samples.get(ordinal) ?? 0) + 1);
        const state = /cluster_state:(\w+)/.exec(String(info))?.[1] ?? '?';
        if (state !== 'ok' && wasOk && !failing) this.report.stateFailures.push({ ordinal, atMs: now - this.startedAt, what: `cluster_state:${state}` });
        failing = state !== 'ok';
        if (state === 'ok') wasOk = true;
        const currentRole = String((roleReply as unknown[])[0]);
        if (role !== undefined && currentRole !== role)
          this.report.roleChanges.push({ ordinal, atMs: now - this.startedAt, what: `${role} -> ${currentRole}` });
        role = currentRole;
        sampled();
      } catch {
        // Not reachable right now (stopped or restarting): neither a failure nor a sample.
        lastAnswer = Date.now();
      }
      await new Promise((resolve) => setTimeout(resolve, this.intervalMs));
    }
  }
}

export function describeEvents(events: WatchedEvent[]): string {
  return events.map((event) => `pod ${event.ordinal} ${event.what} at +${event.atMs} ms`).join('; ') || 'none';
}
