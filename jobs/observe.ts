// Observe: read every pod's view of the cluster into typed values (the planner's input).
import type { Redis } from 'ioredis';
import { Connections, connectionError } from './connections';
import type { Pod } from './discover';
import { TopologyError, describeError } from './errors';
import type { ClusterView, PodNode, StrangerNode } from './model';
import { sleep } from './migrate';
import { slotCount } from './slots';

/** One line of CLUSTER NODES. */
export interface ClusterNodesEntry {
  readonly id: string;
  /** ip:port as announced ("" ip when noaddr). */
  readonly address: string;
  /** cluster-announce-hostname, "" when the node announces none. */
  readonly hostname: string;
  readonly flags: ReadonlySet<string>;
  readonly masterId: string | null;
  readonly configEpoch: number;
  readonly connected: boolean;
  readonly slots: readonly number[];
  readonly migrating: Readonly<Record<number, string>>;
  readonly importing: Readonly<Record<number, string>>;
}

export function parseClusterNodes(text: string): ClusterNodesEntry[] {
  const entries: ClusterNodesEntry[] = [];
  for (const line of text.split('\n')) {
    const fields = line.trim().split(' ');
    if (fields.length < 8) continue;
    const [id, addressField, flagsField, master, , , epoch, linkState, ...slotFields] = fields as [
      string,
      string,
      string,
      string,
      string,
      string,
      string,
      string,
      ...string[],
    ];
    const slots: number[] = [];
    const migrating: Record<number, string> = {};
    const importing: Record<number, string> = {};
    for (const field of slotFields) {
      const open = /^\[(\d+)-([<>])-([0-9a-f]+)\]$/.exec(field);
      if (open) {
        if (open[2] === '>') migrating[Number(open[1])] = open[3]!;
        else importing[Number(open[1])] = open[3]!;
        continue;
      }
      const range = /^(\d+)(?:-(\d+))?$/.exec(field);
      if (!range) continue;
      const start = Number(range[1]);
      const end = range[2] === undefined ? start : Number(range[2]);
      for (let slot = start; slot <= end; slot++) slots.push(slot);
    }
    entries.push({
      id,
      address: addressField.split('@')[0]!,
      hostname: addressField.split(',')[1] ?? '',
      flags: new Set(flagsField.split(',')),
      masterId: master === '-' ? null : master,
      configEpoch: Number(epoch),
      connected: linkState === 'connected',
      slots,
      migrating,
      importing,
    });
  }
  return entries;
}

export function parseInfo(text: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const index = line.indexOf(':');
    if (index > 0 && !line.startsWith('#')) fields[line.slice(0, index)] = line.slice(index + 1);
  }
  return fields;
}

export const isFailing = (entry: ClusterNodesEntry) => entry.flags.has('fail') || entry.flags.has('fail?') || entry.flags.has('noaddr');

/** What one pod reports, raw enough for agreement checks. */
export interface PodReport {
  readonly pod: Pod;
  readonly entries: readonly ClusterNodesEntry[];
  readonly self: ClusterNodesEntry;
  readonly clusterState: string;
  readonly info: Record<string, string>;
}

/** How long a pod may answer LOADING (a replica loading what its master sent it) before that is an error. */
const loadingTimeoutMs = 600_000;

async function command(client: Redis, pod: Pod, ...args: (string | number)[]): Promise<unknown> {
  const started = Date.now();
  for (;;) {
    try {
      return await client.call(...(args.map(String) as [string, ...string[]]));
    } catch (error) {
      const message = describeError(error);
      if (/NOAUTH|WRONGPASS/.test(message)) throw connectionError(pod, error);
      if (/\bLOADING\b/.test(message) && Date.now() - started < loadingTimeoutMs) {
        await sleep(200);
        continue;
      }
      throw new TopologyError(`${pod.name}: ${args.slice(0, 2).join(' ')} failed: ${message}`);
    }
  }
}

/** CLUSTER NODES + CLUSTER INFO (+ INFO sections) of one pod. */
export async function readPod(connections: Connections, pod: Pod, withInfo: boolean): Promise<PodReport> {
  const client = await connections.client(pod);
  const info = withInfo ? parseInfo(String(await command(client, pod, 'INFO', 'cluster', 'memory', 'keyspace', 'replication'))) : {};
  if (withInfo && info.cluster_enabled !== '1') {
    throw new TopologyError(
      `${pod.name} is not in cluster mode (cluster-enabled is no)`,
      "every pod must run redis-server with cluster-enabled yes; check the pod's config",
    );
  }
  const [nodesText, clusterInfoText] = await Promise.all([command(client, pod, 'CLUSTER', 'NODES'), command(client, pod, 'CLUSTER', 'INFO')]);
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
    if (/NOAUTH|WRONGPASS/.test(describeError(error))) throw connectionError(pod, error);
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
}

/**
 * Reads every pod. Unreachable pods, wrong passwords and non-cluster nodes fail here.
 * `countKeysPerSlot` false leaves keysBySlot empty (a count per owned slot saved): for checks
 * of the shape only, never for planning.
 */
export async function observe(connections: Connections, pods: readonly Pod[], countKeysPerSlot = true): Promise<Observation> {
  const reports = await Promise.all(pods.map((pod) => readPod(connections, pod, true)));
  const keysBySlot = await Promise.all(
    reports.map(async (report) => {
      const keys = keyCount(report.info);
      if (!countKeysPerSlot || keys === 0 || report.self.flags.has('slave')) return {};
      return countKeysBySlot(await connections.client(report.pod), report);
    }),
  );
  return { view: buildView(reports, keysBySlot), reports };
}

function keyCount(info: Record<string, string>): number {
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
    };
  });
  const strangers = new Map<string, { address: string; knownBy: number[]; failing: number; slots: Set<number> }>();
  for (const report of reports) {
    for (const entry of report.entries) {
      if (podIds.has(entry.id) || entry.flags.has('handshake')) continue;
      const stranger = strangers.get(entry.id) ?? { address: entry.address, knownBy: [], failing: 0, slots: new Set<number>() };
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

/**
 * Why the given pods do not (yet) agree on one configuration: each must know exactly the
 * others, flag none as failing, handshake with nobody, and see the same slot owners and
 * roles. Empty when they agree.
 */
export function findDisagreements(reports: readonly PodReport[], requireStateOk: boolean): string[] {
  const problems: string[] = [];
  const memberIds = new Set(reports.map((report) => report.self.id));
  let reference: string | undefined;
  let referencePod: Pod | undefined;
  for (const report of reports) {
    const { pod, entries } = report;
    const known = entries.filter((entry) => !entry.flags.has('handshake'));
    const missing = [...memberIds].filter((id) => !known.some((entry) => entry.id === id));
    const extra = known.filter((entry) => !memberIds.has(entry.id));
    if (missing.length > 0) problems.push(`${pod.name} does not know ${missing.length} node(s) yet`);
    if (extra.length > 0) problems.push(`${pod.name} still knows ${extra.length} other node(s) (${extra.map((entry) => entry.id.slice(0, 8)).join(',')})`);
    if (entries.some((entry) => entry.flags.has('handshake'))) problems.push(`${pod.name} is still handshaking`);
    const failing = known.filter((entry) => memberIds.has(entry.id) && isFailing(entry));
    if (failing.length > 0) problems.push(`${pod.name} flags ${failing.length} node(s) as failing`);
    if (requireStateOk && report.clusterState !== 'ok') problems.push(`${pod.name} reports cluster_state:${report.clusterState}`);
    const signature = known
      .filter((entry) => memberIds.has(entry.id))
      .map(
        (entry) =>
          `${entry.id}:${entry.flags.has('slave') ? `r:${entry.masterId}` : 'm'}:${entry.slots.length ? `${entry.slots[0]}+${entry.slots.length}+${checksum(entry.slots)}` : ''}`,
      )
      .sort()
      .join('|');
    if (reference === undefined) {
      reference = signature;
      referencePod = pod;
    } else if (signature !== reference) {
      problems.push(`${pod.name} and ${referencePod!.name} see different slot owners or roles`);
    }
  }
  return problems;
}

function checksum(slots: readonly number[]): number {
  let sum = 0;
  for (const slot of slots) sum = (sum * 31 + slot) | 0;
  return sum;
}
