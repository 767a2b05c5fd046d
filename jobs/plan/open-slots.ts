// Open slots (left MIGRATING/IMPORTING, claimed twice, or keys where the owner is not), and how
// each is closed, following redis-cli --cluster fix. Decided here; done by execute/open-slot-repair.
import { TopologyError } from '../errors';
import { receiverHeadroom } from './capacity';
import type { OpenSlotRepair, PodNode, Step } from './model';

/** Every open slot among the member masters, and how each is closed. */
export function planOpenSlotRepairs(masters: readonly PodNode[]): OpenSlotRepair[] {
  const claims = new Map<number, PodNode[]>();
  const open = new Set<number>();
  for (const pod of masters) {
    for (const slot of pod.slots) claims.set(slot, [...(claims.get(slot) ?? []), pod]);
    for (const slot of Object.keys(pod.migrating)) open.add(Number(slot));
    for (const slot of Object.keys(pod.importing)) open.add(Number(slot));
  }
  for (const [slot, owners] of claims) if (owners.length > 1) open.add(slot);
  // Keys in a slot on a master that does not claim it also need fixing.
  for (const pod of masters) {
    for (const slot of Object.keys(pod.keysBySlot).map(Number)) {
      if (claims.has(slot) && !claims.get(slot)!.includes(pod)) open.add(slot);
    }
  }
  // Bytes each target takes from the migrations finished so far: many open slots finishing
  // towards one target must fit together.
  const planned = new Map<string, number>();
  return [...open].sort((a, b) => a - b).map((slot) => decideOpenSlotRepair(slot, masters, planned));
}

/** Who ends owning an open slot and how its keys get there. */
function decideOpenSlotRepair(slot: number, masters: readonly PodNode[], planned: Map<string, number>): OpenSlotRepair {
  const keysIn = (pod: PodNode) => pod.keysBySlot[slot] ?? 0;
  const name = (pod: PodNode) => pod.name;
  // Unlike redis-cli, a node importing the slot is not an owner just because it has keys:
  // that is an interrupted migration, which is finished rather than reverted.
  const owners = masters.filter((pod) => pod.slots.includes(slot) || (keysIn(pod) > 0 && pod.importing[slot] === undefined));
  let migrating = masters.filter((pod) => pod.migrating[slot] !== undefined);
  let importing = masters.filter((pod) => pod.migrating[slot] === undefined && pod.importing[slot] !== undefined);
  let owner: PodNode | undefined = owners.length === 1 ? owners[0] : undefined;
  for (const pod of masters) {
    if (!migrating.includes(pod) && !importing.includes(pod) && pod !== owner && keysIn(pod) > 0) importing.push(pod);
  }
  const flagged = [...new Set([...migrating, ...importing])].filter((pod) => pod.migrating[slot] !== undefined || pod.importing[slot] !== undefined);
  let claim = false;
  if (!owner) {
    const pool = owners.length > 0 ? owners : [...importing, ...migrating, ...masters];
    owner = [...pool].sort((a, b) => keysIn(b) - keysIn(a) || Number(b.slots.includes(slot)) - Number(a.slots.includes(slot)) || a.ordinal - b.ordinal)[0];
    if (!owner) throw new TopologyError(`slot ${slot} is open but no master can own it`);
    claim = !owner.slots.includes(slot) || owners.length > 1;
    migrating = migrating.filter((pod) => pod !== owner);
    importing = importing.filter((pod) => pod !== owner);
  }
  const extraOwners = owners.filter((pod) => pod !== owner && pod.slots.includes(slot));
  for (const pod of extraOwners) {
    migrating = migrating.filter((other) => other !== pod);
    if (!importing.includes(pod)) importing.push(pod);
  }
  const base = {
    kind: 'repairOpenSlot' as const,
    slot,
    claim,
    extraOwners: extraOwners.map((pod) => pod.id),
    flagged: flagged.map((pod) => pod.id),
  };
  if (migrating.length === 1 && importing.length === 1) {
    const [source, target] = [migrating[0]!, importing[0]!];
    const incoming = incomingBytes(source, slot);
    if (!hasRoomFor(target, incoming + (planned.get(target.id) ?? 0))) {
      // The target ran out of memory mid-way (or is about to): the keys go back instead.
      return {
        ...base,
        owner: source.id,
        mode: 'toOwner',
        from: [target.id],
        reason: `slot ${slot} was being migrated from ${name(source)} to ${name(target)}, which lacks the memory for the rest: moving its keys back to ${name(source)}`,
      };
    }
    planned.set(target.id, (planned.get(target.id) ?? 0) + incoming);
    return {
      ...base,
      owner: importing[0]!.id,
      mode: 'complete',
      from: [migrating[0]!.id],
      reason: `slot ${slot} was being migrated from ${name(migrating[0]!)} to ${name(importing[0]!)}: finishing the migration`,
    };
  }
  if (migrating.length === 0 && importing.length > 0) {
    return {
      ...base,
      owner: owner.id,
      mode: 'toOwner',
      from: importing.filter((pod) => pod !== owner).map((pod) => pod.id),
      reason: `slot ${slot} is open on ${importing.map(name).join(', ')}: moving its keys to the owner ${name(owner)}`,
    };
  }
  if (importing.length === 0 && migrating.length === 1 && (migrating[0] === owner || keysIn(migrating[0]!) === 0)) {
    return {
      ...base,
      owner: owner.id,
      mode: 'close',
      from: [],
      reason: `slot ${slot} is left migrating on ${name(migrating[0]!)} with nothing to move: closing it`,
    };
  }
  if (migrating.length === 0 && importing.length === 0) {
    return { ...base, owner: owner.id, mode: 'close', from: [], reason: `slot ${slot} is claimed twice: ${name(owner)} keeps it` };
  }
  throw new TopologyError(
    `slot ${slot} is open in a way that cannot be fixed automatically: migrating on ${migrating.map(name).join(', ') || 'none'}, importing on ${importing.map(name).join(', ') || 'none'}, owner ${name(owner)}`,
    'inspect it with redis-cli --cluster check and fix it by hand, then run again',
  );
}

/**
 * Replicas showing open slots their master does not (and that some master owns): the master
 * repeats SETSLOT STABLE for them. Replicas of Redis never show open slots; Valkey's do.
 * (SETSLOT NODE, tried first, clears neither a MIGRATING flag where the replica holds keys nor
 * an IMPORTING one for a slot another master owns.)
 */
export function planReplicaFlagRepairs(members: readonly PodNode[]): Step[] {
  const byId = new Map(members.map((pod) => [pod.id, pod]));
  const owned = new Set<number>();
  for (const pod of members) if (pod.role === 'master') for (const slot of pod.slots) owned.add(slot);
  const steps: Step[] = [];
  for (const replica of members) {
    const master = replica.masterId === null ? undefined : byId.get(replica.masterId);
    if (replica.role !== 'replica' || !master || master.role !== 'master') continue;
    const slots = [...new Set([...Object.keys(replica.migrating), ...Object.keys(replica.importing)].map(Number))]
      .filter((slot) => master.migrating[slot] === undefined && master.importing[slot] === undefined && owned.has(slot))
      .sort((a, b) => a - b);
    if (slots.length > 0) steps.push({ kind: 'clearReplicaSlotFlags', replica: replica.id, master: master.id, slots });
  }
  return steps;
}

/** The keys of `slot` still on `source`, estimated at the source's bytes per key. */
function incomingBytes(source: PodNode, slot: number): number {
  const bytesPerKey = source.keyCount === 0 ? 0 : source.usedMemory / source.keyCount;
  return (source.keysBySlot[slot] ?? 0) * bytesPerKey;
}

/** Whether `target` can take `incoming` more bytes and keep its headroom. */
function hasRoomFor(target: PodNode, incoming: number): boolean {
  return target.maxMemory === 0 || target.usedMemory + incoming <= target.maxMemory * (1 - receiverHeadroom);
}
