// Observe: read every pod's view of the cluster into typed values (the planner's input).
import type { Redis } from 'ioredis';
import { TopologyError, describeError } from '../errors';
import type { ClusterView } from '../plan/model';
import { slotCount } from '../plan/slots';
import type { Pod } from '../pod';
import { call, readFromPod } from '../redis/command';
import { connectionError, type Connections } from '../redis/connections';
import { isRedisError } from '../redis/errors';
import { capabilitiesFrom, serverIdentity, type ServerCapabilities, type ServerIdentity } from '../redis/server';
import { parseClusterNodes, parseInfo } from './cluster-nodes';
import { buildView, keyCount, type PodReport } from './view';

export interface ReadOptions {
  /** Also INFO (server, cluster, memory, keyspace, replication, stats), and refuse a node not in cluster mode. */
  readonly withInfo: boolean;
}

/** CLUSTER NODES + CLUSTER INFO (+ INFO sections) of one pod. */
export async function readPod(connections: Connections, pod: Pod, options: ReadOptions): Promise<PodReport> {
  const client = await connections.client(pod);
  const info = options.withInfo
    ? parseInfo(String(await readFromPod(client, pod, 'INFO', 'server', 'cluster', 'memory', 'keyspace', 'replication', 'stats')))
    : {};
  if (options.withInfo && info.cluster_enabled !== '1') {
    throw new TopologyError(
      `${pod.name} is not in cluster mode (cluster-enabled is no)`,
      "every pod must run the server with cluster-enabled yes; check the pod's config",
    );
  }
  const [nodesText, clusterInfoText] = await Promise.all([readFromPod(client, pod, 'CLUSTER', 'NODES'), readFromPod(client, pod, 'CLUSTER', 'INFO')]);
  const entries = parseClusterNodes(String(nodesText));
  const self = entries.find((entry) => entry.flags.has('myself'));
  if (!self) throw new TopologyError(`${pod.name}: CLUSTER NODES has no 'myself' line`);
  return { pod, entries, self, clusterState: parseInfo(String(clusterInfoText)).cluster_state ?? 'unknown', info };
}

/** Counts keys in the given slots and the whole database in one atomic step (a script). */
const countScript = `local counts = {}
for index, slot in ipairs(ARGV) do counts[index] = redis.call('CLUSTER', 'COUNTKEYSINSLOT', slot) end
counts[#counts + 1] = redis.call('DBSIZE')
return counts`;

/**
 * Keys per slot on one master. Counting all 16384 slots costs 16384 commands per master on each
 * observe; so first only the slots it owns or has open are counted, with DBSIZE, in one script
 * (a consistent snapshot, and short: each count is O(1)). Only if those do not add up to every
 * key (or scripts are unavailable), some key may lie in a slot the master should not hold, and
 * all slots are counted so that the planner sees where.
 */
async function countKeysBySlot(client: Redis, report: PodReport): Promise<Record<number, number>> {
  const { pod, self } = report;
  const candidates = [...new Set([...self.slots, ...Object.keys(self.migrating).map(Number), ...Object.keys(self.importing).map(Number)])];
  try {
    const results = (await client.eval(countScript, 0, ...candidates.map(String))) as number[];
    const total = Number(results.pop());
    const counts = toCounts(candidates, results);
    if (Object.values(counts).reduce((sum, count) => sum + count, 0) === total) return counts;
  } catch (error) {
    if (isRedisError(error, 'authentication')) throw connectionError(pod, error);
    // Scripting disabled or refused: count every slot instead.
  }
  const pipeline = client.pipeline();
  const all = Array.from({ length: slotCount }, (_, slot) => slot);
  for (const slot of all) pipeline.call('CLUSTER', 'COUNTKEYSINSLOT', String(slot));
  const results = (await pipeline.exec()) ?? [];
  return toCounts(
    all,
    results.map(([error, value], slot) => {
      if (error) throw new TopologyError(`${pod.name}: CLUSTER COUNTKEYSINSLOT ${slot} failed: ${describeError(error)}`);
      return value;
    }),
  );
}

function toCounts(slots: readonly number[], values: readonly unknown[]): Record<number, number> {
  const counts: Record<number, number> = {};
  slots.forEach((slot, index) => {
    const count = Number(values[index]);
    if (count > 0) counts[slot] = count;
  });
  return counts;
}

export interface Observation {
  readonly view: ClusterView;
  readonly reports: readonly PodReport[];
  /** Each pod's server, in ordinal order. */
  readonly servers: readonly ServerIdentity[];
  /** Each pod's capabilities, in ordinal order. */
  readonly capabilities: readonly ServerCapabilities[];
}

/** Capabilities per client: probed once per connection (a server does not change under it). */
const probed = new WeakMap<Redis, Promise<ServerCapabilities>>();

/** What the node can do, from COMMAND DOCS / COMMAND INFO (an older server without them can do neither). */
export function probeCapabilities(client: Redis): Promise<ServerCapabilities> {
  let capabilities = probed.get(client);
  if (!capabilities) {
    capabilities = Promise.all([
      call(client, 'COMMAND', 'DOCS', 'cluster|setslot').catch(() => []),
      call(client, 'COMMAND', 'INFO', 'cluster|migrateslots').catch(() => []),
    ]).then(([docs, info]) => capabilitiesFrom(docs, info));
    probed.set(client, capabilities);
  }
  return capabilities;
}

export interface ObserveOptions {
  /**
   * Count keys per slot on every master (the planner needs them). Without, keysBySlot is
   * empty: for checks of the shape only, never for planning.
   */
  readonly countKeysPerSlot: boolean;
}

/** Reads every pod. Unreachable pods, wrong passwords and non-cluster nodes fail here. */
export async function observe(connections: Connections, pods: readonly Pod[], options: ObserveOptions): Promise<Observation> {
  const reports = await Promise.all(pods.map((pod) => readPod(connections, pod, { withInfo: true })));
  const keysBySlot = await Promise.all(
    reports.map(async (report) => {
      const keys = keyCount(report.info);
      if (!options.countKeysPerSlot || keys === 0 || report.self.flags.has('slave')) return {};
      return countKeysBySlot(await connections.client(report.pod), report);
    }),
  );
  const capabilities = await Promise.all(pods.map(async (pod) => probeCapabilities(await connections.client(pod))));
  return { view: buildView(reports, keysBySlot), reports, servers: reports.map((report) => serverIdentity(report.info)), capabilities };
}
