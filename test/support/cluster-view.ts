// Reads a live cluster's topology from the outside (CLUSTER NODES / CLUSTER INFO on every
// pod) and judges its shape, without any code from jobs/: the integration tests must not
// share the program's own idea of what a healthy cluster is.
import assert from 'node:assert/strict';
import type { LocalRedisPods } from './redis-pods.js';

export const SLOT_COUNT = 16384;

/** One line of CLUSTER NODES. */
export interface ClusterNodeEntry {
  id: string;
  /** host:port, without the cluster bus port or hostname. */
  address: string;
  flags: string[];
  myself: boolean;
  role: 'master' | 'replica';
  /** Node id of its master, for replicas. */
  masterId?: string;
  /** The config epoch (a replica's line shows its master's). */
  configEpoch: number;
  linkState: string;
  /** Every slot the node is listed as owning, expanded. */
  slots: number[];
  /** `[slot->-id]` / `[slot-<-id]` entries: slots left MIGRATING / IMPORTING. */
  openSlots: string[];
}

export function parseClusterNodes(text: string): ClusterNodeEntry[] {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.length > 0)
    .map((line) => {
      const [id, endpoint, flagText, master, , , configEpoch, linkState, ...slotFields] = line.split(' ');
      const flags = flagText.split(',');
      const slots: number[] = [];
      const openSlots: string[] = [];
      for (const field of slotFields) {
        if (field.startsWith('[')) {
          openSlots.push(field);
        } else if (field.includes('-')) {
          const [first, last] = field.split('-').map(Number);
          for (let slot = first; slot <= last; slot++) slots.push(slot);
        } else {
          slots.push(Number(field));
        }
      }
      return {
        id,
        address: endpoint.split('@')[0],
        flags,
        myself: flags.includes('myself'),
        role: flags.includes('slave') ? 'replica' : 'master',
        masterId: master === '-' ? undefined : master,
        configEpoch: Number(configEpoch),
        linkState,
        slots,
        openSlots,
      };
    });
}

/** Compresses sorted slot numbers to "0-5460 10923" form. */
export function slotRanges(slots: number[]): string {
  const sorted = [...slots].sort((a, b) => a - b);
  const ranges: string[] = [];
  for (let index = 0; index < sorted.length;) {
    let end = index;
    while (end + 1 < sorted.length && sorted[end + 1] === sorted[end] + 1) end++;
    ranges.push(end === index ? `${sorted[index]}` : `${sorted[index]}-${sorted[end]}`);
    index = end + 1;
  }
  return ranges.join(' ');
}

export async function readClusterNodes(pods: LocalRedisPods, ordinal: number): Promise<ClusterNodeEntry[]> {
  const client = pods.connect(ordinal);
  client.on('error', () => {});
  try {
    return parseClusterNodes(String(await client.call('CLUSTER', 'NODES')));
  } finally {
    client.disconnect();
  }
}

export async function readClusterInfo(pods: LocalRedisPods, ordinal: number): Promise<Record<string, string>> {
  const client = pods.connect(ordinal);
  client.on('error', () => {});
  try {
    const text = String(await client.call('CLUSTER', 'INFO'));
    return Object.fromEntries(
      text
        .split('\n')
        .map((line) => line.trim().split(':'))
        .filter((pair) => pair.length === 2),
    );
  } finally {
    client.disconnect();
  }
}

/**
 * One node's view reduced to what a topology change may alter: who is master or replica
 * of whom, and which slots each master owns (flags such as `myself`, epochs, ping times
 * left out), as sorted lines, so views of different nodes and moments compare with ===.
 */
export function normalizedView(entries: ClusterNodeEntry[]): string {
  const addressById = new Map(entries.map((entry) => [entry.id, entry.address]));
  return entries
    .map((entry) => {
      const master = entry.masterId ? (addressById.get(entry.masterId) ?? `unknown:${entry.masterId}`) : '-';
      const open = entry.openSlots.length > 0 ? ` open:${entry.openSlots.join(',')}` : '';
      return `${entry.address} ${entry.role} of ${master} slots ${slotRanges(entry.slots)}${open}`;
    })
    .sort()
    .join('\n');
}

/** Every listed pod's normalized view, keyed by ordinal: the "is the cluster unchanged" snapshot. */
export async function topologySnapshot(pods: LocalRedisPods, ordinals: number[]): Promise<Map<number, string>> {
  const snapshot = new Map<number, string>();
  for (const ordinal of ordinals) snapshot.set(ordinal, normalizedView(await readClusterNodes(pods, ordinal)));
  return snapshot;
}

/** slot -> owning master's address, as one node sees it. */
export function slotOwners(entries: ClusterNodeEntry[]): Map<number, string> {
  const owners = new Map<number, string>();
  for (const entry of entries) for (const slot of entry.slots) owners.set(slot, entry.address);
  return owners;
}

/** address -> set of slots owned, as one node sees it. */
export function slotsByAddress(entries: ClusterNodeEntry[]): Map<string, Set<number>> {
  const byAddress = new Map<string, Set<number>>();
  for (const entry of entries) if (entry.role === 'master') byAddress.set(entry.address, new Set(entry.slots));
  return byAddress;
}

export interface ShardShape {
  masterAddress: string;
  replicaAddresses: string[];
  slotCount: number;
}

export interface DesiredShape {
  masters: number;
  replicasPerMaster: number;
}

/**
 * Asserts the pods 0..M*(1+R)-1 form exactly the desired cluster: every one of them
 * knows exactly these nodes and no failed/handshaking/stale one, all views are identical,
 * M masters each with R replicas, all 16384 slots covered once, each master within one
 * slot of 16384/M, no open slot, cluster_state ok everywhere. Returns the shards as seen.
 */
export async function assertClusterShape(pods: LocalRedisPods, shape: DesiredShape): Promise<ShardShape[]> {
  const podCount = shape.masters * (1 + shape.replicasPerMaster);
  const expectedAddresses = pods.addresses(podCount).sort();
  const views = new Map<number, string>();
  let reference: ClusterNodeEntry[] = [];
  for (let ordinal = 0; ordinal < podCount; ordinal++) {
    const entries = await readClusterNodes(pods, ordinal);
    const where = `CLUSTER NODES of pod ${ordinal} (${pods.hostOf(ordinal)})`;
    assert.deepEqual(entries.map((entry) => entry.address).sort(), expectedAddresses, `${where}: known nodes`);
    for (const entry of entries) {
      const bad = entry.flags.filter((flag) => ['fail', 'fail?', 'handshake', 'noaddr'].includes(flag));
      assert.equal(bad.length, 0, `${where}: ${entry.address} has flags ${entry.flags.join(',')}`);
      assert.deepEqual(entry.openSlots, [], `${where}: ${entry.address} has open slots`);
    }
    const info = await readClusterInfo(pods, ordinal);
    assert.equal(info.cluster_state, 'ok', `${where}: cluster_state`);
    assert.equal(Number(info.cluster_slots_assigned), SLOT_COUNT, `${where}: cluster_slots_assigned`);
    assert.equal(Number(info.cluster_known_nodes), podCount, `${where}: cluster_known_nodes`);
    views.set(ordinal, normalizedView(entries));
    if (ordinal === 0) reference = entries;
  }
  for (const [ordinal, view] of views) {
    assert.equal(view, views.get(0), `pod ${ordinal} and pod 0 disagree about the topology`);
  }

  const masters = reference.filter((entry) => entry.role === 'master');
  assert.equal(masters.length, shape.masters, `master count; view:\n${views.get(0)}`);
  const covered = new Set<number>();
  let total = 0;
  const shards: ShardShape[] = masters.map((master) => {
    const replicas = reference.filter((entry) => entry.role === 'replica' && entry.masterId === master.id);
    assert.equal(replicas.length, shape.replicasPerMaster, `replicas of ${master.address}; view:\n${views.get(0)}`);
    const balanced = Math.abs(master.slots.length - SLOT_COUNT / shape.masters) < 1;
    assert.ok(balanced, `${master.address} owns ${master.slots.length} slots, want within one of ${SLOT_COUNT / shape.masters}`);
    for (const slot of master.slots) covered.add(slot);
    total += master.slots.length;
    return {
      masterAddress: master.address,
      replicaAddresses: replicas.map((replica) => replica.address).sort(),
      slotCount: master.slots.length,
    };
  });
  assert.equal(covered.size, SLOT_COUNT, 'slots covered');
  assert.equal(total, SLOT_COUNT, 'a slot is owned twice');

  const check = await pods.clusterCheck(0);
  assert.ok(check.ok, `redis-cli --cluster check failed:\n${check.output}`);
  assert.doesNotMatch(check.output, /\[WARNING\]|\[ERR\]/, `redis-cli --cluster check warns:\n${check.output}`);
  return shards;
}

/** The ordinal of an address of these pods (127.a.b.ordinal+1:port). */
export function ordinalOf(pods: LocalRedisPods, address: string): number {
  for (let ordinal = 0; ordinal < 256; ordinal++) if (`${pods.hostOf(ordinal)}:${pods.port}` === address) return ordinal;
  throw new Error(`${address} is not one of these pods`);
}

/** Every slot a pod lists as MIGRATING/IMPORTING on its own line (`[slot->-id]` / `[slot-<-id]`), as "pod N: [entry]". */
export async function openSlotsAnywhere(pods: LocalRedisPods, ordinals: number[]): Promise<string[]> {
  const open: string[] = [];
  for (const ordinal of ordinals) {
    const myself = (await readClusterNodes(pods, ordinal)).find((entry) => entry.myself);
    for (const entry of myself?.openSlots ?? []) open.push(`pod ${ordinal}: ${entry}`);
  }
  return open;
}
