// The pods' reports turned into the planner's view of the cluster. Pure.
import { TopologyError } from '../errors';
import type { Pod } from '../pod';
import type { ClusterView, PodNode, StrangerNode } from '../plan/model';
import { isFailing } from './cluster-nodes';
import type { ClusterNodesEntry } from './cluster-nodes';

/** What one pod reports, raw enough for agreement checks. */
export interface PodReport {
  readonly pod: Pod;
  readonly entries: readonly ClusterNodesEntry[];
  readonly self: ClusterNodesEntry;
  readonly clusterState: string;
  readonly info: Readonly<Record<string, string>>;
}

/** Keys in db0, from INFO keyspace. */
export function keyCount(info: Readonly<Record<string, string>>): number {
  const db0 = info.db0;
  if (!db0) return 0;
  return Number(/keys=(\d+)/.exec(db0)?.[1] ?? 0);
}

export function buildView(reports: readonly PodReport[], keysBySlot: ReadonlyArray<Record<number, number>>): ClusterView {
  const idOwners = new Map<string, Pod[]>();
  for (const report of reports) idOwners.set(report.self.id, [...(idOwners.get(report.self.id) ?? []), report.pod]);
  for (const [id, owners] of idOwners) {
    if (owners.length > 1) {
      throw new TopologyError(
        `${owners.map((pod) => pod.name).join(' and ')} report the same node id ${id}`,
        'the same redis-server is listed twice, or two pods share a data volume; check --pods',
      );
    }
  }
  const podIds = new Set(idOwners.keys());
  const pods: PodNode[] = reports.map((report, index) => {
    const { pod, self, entries, info } = report;
    const others = entries.filter((entry) => entry !== self);
    return {
      ordinal: pod.ordinal,
      name: pod.name,
      ip: pod.ip,
      port: pod.port,
      id: self.id,
      role: self.flags.has('slave') ? 'replica' : 'master',
      masterId: self.flags.has('slave') ? self.masterId : null,
      slots: self.flags.has('slave') ? [] : self.slots,
      migrating: self.migrating,
      importing: self.importing,
      knows: others.filter((entry) => !entry.flags.has('handshake')).map((entry) => entry.id),
      failing: others.filter(isFailing).map((entry) => entry.id),
      handshakes: others.filter((entry) => entry.flags.has('handshake')).length,
      keyCount: keyCount(info),
      keysBySlot: keysBySlot[index] ?? {},
      usedMemory: Number(info.used_memory ?? 0),
      maxMemory: Number(info.maxmemory ?? 0),
      maxMemoryPolicy: info.maxmemory_policy ?? 'noeviction',
      evictedKeys: Number(info.evicted_keys ?? 0),
      // A replica in sync can take over (a failover the planner may ask for).
      ...(self.flags.has('slave') ? { masterLinkUp: info.master_link_status === 'up' } : {}),
    };
  });
  const strangers = new Map<string, { address: string; knownBy: number[]; failing: number; slots: Set<number> }>();
  for (const report of reports) {
    for (const entry of report.entries) {
      if (podIds.has(entry.id) || entry.flags.has('handshake')) continue;
      const stranger = strangers.get(entry.id) ?? { address: '', knownBy: [], failing: 0, slots: new Set<number>() };
      stranger.knownBy.push(report.pod.ordinal);
      if (isFailing(entry)) stranger.failing++;
      for (const slot of entry.slots) stranger.slots.add(slot);
      if (entry.address && !entry.address.startsWith(':')) stranger.address = entry.address;
      strangers.set(entry.id, stranger);
    }
  }
  const strangerNodes: StrangerNode[] = [...strangers].map(([id, stranger]) => ({
    id,
    address: stranger.address || 'no address',
    knownBy: stranger.knownBy,
    unreachable: stranger.failing === stranger.knownBy.length,
    slots: [...stranger.slots].sort((a, b) => a - b),
  }));
  return { pods, strangers: strangerNodes };
}
