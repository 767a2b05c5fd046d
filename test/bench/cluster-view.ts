// What the cluster looks like from its nodes: CLUSTER NODES parsed into typed values, the slot ->
// owner map, waiting for every node to agree, and which slots' keys changed node between two maps.
import Redis from 'ioredis';
import { SLOT_COUNT } from './key-slot.js';

export interface ClusterNode {
  id: string;
  /** host:port as announced */
  address: string;
  flags: string[];
  role: 'master' | 'replica';
  masterId?: string;
  /** Slot ranges [first, last], inclusive. */
  slotRanges: Array<[number, number]>;
  /** True if this node's own line shows slots MIGRATING or IMPORTING. */
  hasOpenSlots: boolean;
  /** Those entries as shown, e.g. [6296->-<node id>]. */
  openSlots: string[];
}

export function parseClusterNodes(text: string): ClusterNode[] {
  const nodes: ClusterNode[] = [];
  for (const line of text.split('\n')) {
    const fields = line.trim().split(' ');
    if (fields.length < 8) continue;
    const [id, addressField, flagField, master] = fields;
    const flags = flagField.split(',');
    const slotRanges: Array<[number, number]> = [];
    const openSlots: string[] = [];
    for (const entry of fields.slice(8)) {
      if (entry.startsWith('[')) {
        openSlots.push(entry);
        continue;
      }
      const [first, last] = entry.split('-').map(Number);
      slotRanges.push([first, last ?? first]);
    }
    nodes.push({
      id,
      address: addressField.split('@')[0],
      flags,
      role: flags.includes('master') ? 'master' : 'replica',
      masterId: master === '-' ? undefined : master,
      slotRanges,
      hasOpenSlots: openSlots.length > 0,
      openSlots,
    });
  }
  return nodes;
}

export function connectTo(address: string): Redis {
  const separator = address.lastIndexOf(':');
  const client = new Redis({
    host: address.slice(0, separator),
    port: Number(address.slice(separator + 1)),
    maxRetriesPerRequest: 2,
    connectTimeout: 2000,
    retryStrategy: (attempt) => (attempt > 5 ? null : 100),
  });
  client.on('error', () => {});
  return client;
}

export async function withConnection<T>(address: string, use: (client: Redis) => Promise<T>): Promise<T> {
  const client = connectTo(address);
  try {
    return await use(client);
  } finally {
    client.disconnect();
  }
}

export async function readClusterNodes(address: string): Promise<ClusterNode[]> {
  return withConnection(address, async (client) => parseClusterNodes(String(await client.call('CLUSTER', 'NODES'))));
}

export interface SlotMap {
  /** Owner node id per slot; '' where no node owns it. */
  owners: string[];
  /** Master id -> its replicas' ids. */
  replicasOf: Map<string, string[]>;
  /** Node id -> host:port. */
  addressOf: Map<string, string>;
  masters: ClusterNode[];
}

export function slotMapOf(nodes: ClusterNode[]): SlotMap {
  const owners = new Array<string>(SLOT_COUNT).fill('');
  const replicasOf = new Map<string, string[]>();
  const addressOf = new Map<string, string>();
  for (const node of nodes) {
    addressOf.set(node.id, node.address);
    for (const [first, last] of node.slotRanges) for (let slot = first; slot <= last; slot++) owners[slot] = node.id;
    if (node.role === 'replica' && node.masterId) replicasOf.set(node.masterId, [...(replicasOf.get(node.masterId) ?? []), node.id]);
  }
  const masters = nodes.filter((node) => node.role === 'master' && node.slotRanges.length > 0);
  return { owners, replicasOf, addressOf, masters };
}

/**
 * Slots whose keys had to travel: the new owner is neither the old owner nor one of its replicas
 * (a failover changes the owner without moving data).
 */
export function slotsWhoseKeysMoved(before: SlotMap, after: SlotMap): number[] {
  const moved: number[] = [];
  for (let slot = 0; slot < SLOT_COUNT; slot++) {
    const oldOwner = before.owners[slot];
    const newOwner = after.owners[slot];
    if (oldOwner === newOwner) continue;
    if ((before.replicasOf.get(oldOwner) ?? []).includes(newOwner)) continue;
    moved.push(slot);
  }
  return moved;
}

/** Keys now held in these slots, asked of each slot's owner (CLUSTER COUNTKEYSINSLOT, pipelined). */
export async function countKeysInSlots(slots: number[], map: SlotMap): Promise<number> {
  const slotsByOwner = new Map<string, number[]>();
  for (const slot of slots) slotsByOwner.set(map.owners[slot], [...(slotsByOwner.get(map.owners[slot]) ?? []), slot]);
  let total = 0;
  await Promise.all(
    [...slotsByOwner].map(([owner, ownedSlots]) =>
      withConnection(map.addressOf.get(owner)!, async (client) => {
        const pipeline = client.pipeline();
        for (const slot of ownedSlots) pipeline.call('CLUSTER', 'COUNTKEYSINSLOT', String(slot));
        for (const [error, count] of (await pipeline.exec()) ?? []) {
          if (error) throw error;
          total += Number(count);
        }
      }),
    ),
  );
  return total;
}

/** Why these views do not (yet) agree, or undefined if they do. */
function disagreement(views: Map<string, ClusterNode[]>): string | undefined {
  let reference: string | undefined;
  for (const [address, nodes] of views) {
    const unhealthy = nodes.find((node) => node.flags.some((flag) => ['fail', 'fail?', 'handshake', 'noaddr'].includes(flag)));
    if (unhealthy) return `${address} sees ${unhealthy.address} as ${unhealthy.flags.join(',')}`;
    const open = nodes.find((node) => node.hasOpenSlots);
    if (open) return `${open.address} (${open.role}) has slots open: ${open.openSlots.slice(0, 3).join(' ')}`;
    const signature = nodes
      .map((node) => `${node.id} ${node.role} ${node.masterId ?? '-'} ${node.slotRanges.map((range) => range.join('-')).join(',')}`)
      .sort()
      .join('\n');
    if (reference === undefined) reference = signature;
    else if (signature !== reference) return `${address} has a different view`;
    const covered = slotMapOf(nodes).owners.filter((owner) => owner !== '').length;
    if (covered !== SLOT_COUNT) return `${address} sees ${covered} of ${SLOT_COUNT} slots covered`;
  }
  return undefined;
}

/** Waits (bounded) until these nodes, and only these, form one cluster with one view. */
export async function waitForAgreement(addresses: string[], timeoutMs = 120_000): Promise<ClusterNode[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const views = new Map<string, ClusterNode[]>();
    for (const address of addresses) views.set(address, await readClusterNodes(address));
    let reason = disagreement(views);
    const nodes = views.get(addresses[0])!;
    if (!reason && nodes.length !== addresses.length) reason = `${addresses[0]} knows ${nodes.length} nodes, expected ${addresses.length}`;
    if (!reason) return nodes;
    if (Date.now() > deadline) throw new Error(`cluster did not agree within ${timeoutMs / 1000} s: ${reason}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Waits (bounded) until every replica is online and has caught up with its master's offset as of
 * the first look (a master that keeps streaming, e.g. Valkey 9 after an atomic slot migration, is
 * never caught up with live).
 */
export async function waitForReplication(nodes: ClusterNode[], timeoutMs = 300_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const masters = nodes.filter((node) => node.role === 'master');
  const targets = new Map<string, number>();
  for (;;) {
    let lagging: string | undefined;
    for (const master of masters) {
      const info = await withConnection(master.address, async (client) => String(await client.info('replication')));
      if (!targets.has(master.address)) targets.set(master.address, Number(/master_repl_offset:(\d+)/.exec(info)?.[1] ?? -1));
      const masterOffset = targets.get(master.address)!;
      const expected = nodes.filter((node) => node.masterId === master.id).length;
      const replicas = [...info.matchAll(/slave\d+:.*state=(\w+),offset=(\d+)/g)];
      const behind = replicas.filter(([, state, offset]) => state !== 'online' || Number(offset) < masterOffset);
      if (replicas.length < expected || behind.length > 0) {
        lagging = `${master.address}: ${replicas.length}/${expected} replicas, ${behind.length} behind`;
        break;
      }
    }
    if (!lagging) return;
    if (Date.now() > deadline) throw new Error(`replicas did not catch up within ${timeoutMs / 1000} s: ${lagging}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
