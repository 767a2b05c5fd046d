// Cluster clients reading and writing keys in every slot for a while, counting every command that
// failed: what an application would see while the topology changes under it. Two clients that
// route differently: ioredis (refreshes its slot map on MOVED) and Valkey GLIDE's cluster client
// (keeps its own slot map and follows redirections per command), which is the one that notices a
// node answering CLUSTERDOWN instead of MOVED for slots it used to own.
import { GlideClusterClient, Logger } from '@valkey/valkey-glide';
import type { Cluster } from 'ioredis';
import { SLOT_COUNT } from './cluster-view.js';
import { tagForSlot } from './key-slots.js';
import type { LocalRedisPods } from './redis-pods.js';

/** SET and GET, all a traffic run needs from a client. */
export interface KeyValueClient {
  readonly name: string;
  set(key: string, value: string): Promise<unknown>;
  get(key: string): Promise<string | null>;
  close(): Promise<void>;
}

export interface TrafficReport {
  client: string;
  operations: number;
  errors: number;
  /** A GET that answered, but not with the value last written. */
  wrongValues: number;
  /** A few distinct error messages. */
  errorKinds: string[];
}

export function ioredisTraffic(cluster: Cluster): KeyValueClient {
  return {
    name: 'ioredis',
    set: (key, value) => cluster.set(key, value),
    get: (key) => cluster.get(key),
    close: async () => {
      await cluster.quit().catch(() => {});
    },
  };
}

/** A GLIDE cluster client seeded with pod 0; requests time out after 2 s (its default is 250 ms). */
export async function glideTraffic(pods: LocalRedisPods): Promise<KeyValueClient> {
  Logger.init('error');
  const client = await GlideClusterClient.createClient({
    addresses: [{ host: pods.hostOf(0), port: pods.port }],
    requestTimeout: 2000,
  });
  return {
    name: 'glide',
    set: (key, value) => client.set(key, value),
    get: async (key) => {
      const value = await client.get(key);
      return value === null ? null : String(value);
    },
    close: async () => client.close(),
  };
}

/** One key per slot for this client: `${prefix}:{tag}`. */
function keyOfSlot(prefix: string, slot: number): string {
  return `${prefix}:{${tagForSlot(slot)}}`;
}

/**
 * Writes then reads back one key in every slot, slot after slot, `concurrency` slots at a time,
 * for `durationMs` (at least one full pass over the 16384 slots).
 */
export async function runTraffic(client: KeyValueClient, prefix: string, durationMs: number, concurrency = 16): Promise<TrafficReport> {
  const report: TrafficReport = { client: client.name, operations: 0, errors: 0, wrongValues: 0, errorKinds: [] };
  const deadline = Date.now() + durationMs;
  let next = 0;
  const worker = async () => {
    for (;;) {
      const index = next++;
      if (index >= SLOT_COUNT && Date.now() > deadline) return;
      const slot = index % SLOT_COUNT;
      const key = keyOfSlot(prefix, slot);
      const value = `${index}`;
      try {
        report.operations++;
        await client.set(key, value);
        report.operations++;
        if ((await client.get(key)) !== value) report.wrongValues++;
      } catch (error) {
        report.errors++;
        const kind = String((error as Error).message ?? error).slice(0, 100);
        if (report.errorKinds.length < 5 && !report.errorKinds.includes(kind)) report.errorKinds.push(kind);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return report;
}

/** Deletes the keys a traffic run with `prefix` wrote (one per slot). */
export async function deleteTrafficKeys(cluster: Cluster, prefix: string): Promise<void> {
  for (let slot = 0; slot < SLOT_COUNT; slot += 1000) {
    const deletions: Promise<number>[] = [];
    for (let each = slot; each < Math.min(SLOT_COUNT, slot + 1000); each++) deletions.push(cluster.del(keyOfSlot(prefix, each)));
    await Promise.all(deletions);
  }
}

export function describeTraffic(report: TrafficReport): string {
  const kinds = report.errorKinds.length > 0 ? ` (${report.errorKinds.join(' | ')})` : '';
  return `${report.client}: ${report.operations} commands, ${report.errors} errors, ${report.wrongValues} wrong values${kinds}`;
}
