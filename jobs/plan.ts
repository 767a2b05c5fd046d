// The planner: a pure function (view, desired shape, phase) -> ordered steps. No I/O.
//
// pre:  repair, then pods with ordinal >= D (= M*(1+R)) give up their slots (failover to a
//       surviving replica, else migrate to the surviving masters evenly) and leave.
// post: repair, forget stale nodes, join pods 0..D-1, choose exactly M masters (keeping the
//       ones with the most slots), balance slots moving only surpluses, give every master R
//       replicas keeping existing relations, and remove any pod >= D still in the cluster.
import { TopologyError } from './errors';
import type { ClusterView, DesiredShape, OpenSlotFix, Plan, PodNode, SlotMove, Step } from './model';
import { desiredPodCount } from './model';
import { evenShare, formatRanges, slotCount } from './slots';

export type PlanPhase = 'pre' | 'post';

/** Mutable working copy of the roles and slot owners the plan leads to, step by step. */
interface Working {
  role: Map<string, 'master' | 'replica'>;
  masterOf: Map<string, string | null>;
  /** slot -> owning node id, or null. */
  owner: Array<string | null>;
}

export function planPhase(view: ClusterView, desired: DesiredShape, phase: PlanPhase): Plan {
  const podCount = desiredPodCount(desired);
  if (phase === 'post' && view.pods.length < podCount) {
    throw new TopologyError(
      `post needs ${podCount} pods (${desired.masters} masters, each with ${desired.replicasPerMaster} replicas), found ${view.pods.length}`,
      'wait until the StatefulSet has scaled up, or check --pods / the DNS names',
    );
  }
  const byId = new Map(view.pods.map((pod) => [pod.id, pod]));
  const steps: Step[] = [];
  const notes: string[] = [];

  const membership = findMembership(view, podCount, phase);
  const members = membership.members;
  const memberMasters = view.pods.filter((pod) => members.has(pod.ordinal) && pod.role === 'master');

  checkKeysHaveOwners(view, memberMasters);
  checkStrangers(view, byId);

  // Open slots and conflicting claims, fixed the way redis-cli --cluster fix does.
  const fixes = planOpenSlotFixes(memberMasters);
  steps.push(...fixes);

  const working = initialWorking(view, memberMasters, fixes);

  for (const stranger of view.strangers) {
    steps.push({ kind: 'forget', node: stranger.id, reason: `${stranger.id.slice(0, 8)} (${stranger.address}) is no pod and unreachable` });
  }

  const isMember = (pod: PodNode) => members.has(pod.ordinal);
  const removed = view.pods.filter((pod) => pod.ordinal >= podCount && isMember(pod));
  const survivors = view.pods.filter((pod) => pod.ordinal < podCount);
  const slotsOf = (id: string) => ownedSlots(working, id);

  // Removed masters: fail over to a surviving replica where one exists.
  const drainedRemoved: PodNode[] = [];
  for (const pod of removed) {
    if (working.role.get(pod.id) !== 'master' || slotsOf(pod.id).length === 0) continue;
    const replica = survivors
      .filter((candidate) => isMember(candidate) && working.masterOf.get(candidate.id) === pod.id)
      .find((candidate) => !view.pods.some((other) => other.failing.includes(candidate.id)));
    if (replica) {
      steps.push({ kind: 'failover', replica: replica.id, master: pod.id });
      notes.push(`${pod.name} is removed but its replica ${replica.name} stays: failing over instead of moving data`);
      applyFailover(working, replica.id, pod.id);
    } else {
      drainedRemoved.push(pod);
    }
  }

  if (phase === 'pre') {
    const targets = survivors.filter((pod) => isMember(pod) && working.role.get(pod.id) === 'master' && slotsOf(pod.id).length > 0);
    const toMove = drainedRemoved.flatMap((pod) => slotsOf(pod.id).map((slot) => ({ slot, from: pod.id })));
    if (toMove.length > 0) {
      if (targets.length === 0) {
        throw new TopologyError(
          `the pods that stay (0..${podCount - 1}) have no master holding slots, so the removed pods' slots have nowhere to go`,
          'check the desired master count; pre refuses to leave slots uncovered',
        );
      }
      const moves = spreadEvenly(
        working,
        toMove,
        targets.map((pod) => pod.id),
      );
      steps.push({ kind: 'migrate', moves });
    }
    // Replicas that stay must not follow a node that leaves (CLUSTER FORGET refuses a node's own master).
    const removedIds = new Set(removed.map((pod) => pod.id));
    const stayingMasters = survivors.filter((pod) => isMember(pod) && working.role.get(pod.id) === 'master' && slotsOf(pod.id).length > 0);
    const replicaCount = (id: string) => survivors.filter((pod) => working.masterOf.get(pod.id) === id).length;
    for (const pod of survivors) {
      if (!isMember(pod) || working.role.get(pod.id) !== 'replica') continue;
      const master = working.masterOf.get(pod.id);
      if (master && !removedIds.has(master)) continue;
      const newMaster = [...stayingMasters].sort((a, b) => replicaCount(a.id) - replicaCount(b.id) || a.ordinal - b.ordinal)[0];
      if (!newMaster) continue;
      steps.push({ kind: 'replicate', node: pod.id, master: newMaster.id });
      working.masterOf.set(pod.id, newMaster.id);
    }
    for (const pod of removed) steps.push({ kind: 'removeNode', node: pod.id });
    return { steps, notes, members: [...membership.main] };
  }

  // ---- post ----
  const joiners = survivors.filter((pod) => !membership.main.has(pod.ordinal));
  const masterIds = chooseMasters(view, desired, working, survivors, isMember);
  const finalMasters = masterIds.map((id) => byId.get(id)!);

  const mainSurvivors = survivors.filter((pod) => membership.main.has(pod.ordinal));
  const via = mainSurvivors[0] ?? finalMasters[0]!;
  for (const pod of joiners) {
    if (pod.id === via.id) continue;
    steps.push({ kind: 'meet', node: pod.id, via: via.id });
    working.role.set(pod.id, 'master');
    working.masterOf.set(pod.id, null);
  }
  for (const pod of finalMasters) {
    if (working.role.get(pod.id) === 'replica') {
      // Through a pod that stays in the cluster meanwhile: a survivor not being reset itself, else a
      // pod that is leaving but is still a member until the end of this run.
      const meetVia = [...mainSurvivors, ...removed].find(
        (other) => other.id !== pod.id && !finalMasters.some((m) => m.id === other.id && working.role.get(m.id) === 'replica'),
      );
      if (!meetVia) throw new TopologyError(`no pod left in the cluster to re-join ${pod.name} through`);
      steps.push({ kind: 'makeEmptyMaster', node: pod.id, via: meetVia.id });
      working.role.set(pod.id, 'master');
      working.masterOf.set(pod.id, null);
    }
  }

  // Slot targets: the masters already holding the most slots keep the odd extra slots.
  const { base, withExtra } = evenShare(desired.masters);
  const countOf = new Map(finalMasters.map((pod) => [pod.id, slotsOf(pod.id).length]));
  const byCount = [...finalMasters].sort((a, b) => countOf.get(b.id)! - countOf.get(a.id)! || a.ordinal - b.ordinal);
  const target = new Map(byCount.map((pod, index) => [pod.id, base + (index < withExtra ? 1 : 0)]));

  const outgoing: Array<{ from: string; slots: number[] }> = [];
  const ownerIds = new Set(working.owner.filter((id): id is string => id !== null));
  for (const id of [...ownerIds].sort(byOrdinal(byId))) {
    const owned = slotsOf(id);
    const keep = target.get(id) ?? 0;
    if (owned.length > keep) outgoing.push({ from: id, slots: owned.slice(keep) });
  }
  const deficits = finalMasters.map((pod) => ({ to: pod.id, need: target.get(pod.id)! - slotsOf(pod.id).length })).filter((deficit) => deficit.need > 0);

  const uncovered: number[] = [];
  for (let slot = 0; slot < slotCount; slot++) if (working.owner[slot] === null) uncovered.push(slot);
  let uncoveredIndex = 0;
  for (const deficit of deficits) {
    if (uncoveredIndex >= uncovered.length) break;
    const take = uncovered.slice(uncoveredIndex, uncoveredIndex + deficit.need);
    uncoveredIndex += take.length;
    deficit.need -= take.length;
    for (const slot of take) working.owner[slot] = deficit.to;
    steps.push({ kind: 'assignSlots', node: deficit.to, slots: take });
  }

  const moves: SlotMove[] = [];
  let deficitIndex = 0;
  for (const source of outgoing) {
    let offset = 0;
    while (offset < source.slots.length) {
      while (deficitIndex < deficits.length && deficits[deficitIndex]!.need === 0) deficitIndex++;
      const deficit = deficits[deficitIndex];
      if (!deficit) throw new Error('planner bug: slot surplus exceeds deficits');
      const count = Math.min(deficit.need, source.slots.length - offset);
      const slots = source.slots.slice(offset, offset + count);
      moves.push({ from: source.from, to: deficit.to, slots });
      for (const slot of slots) working.owner[slot] = deficit.to;
      deficit.need -= count;
      offset += count;
    }
  }
  // Replicas of masters that exist now attach before the data moves (to an empty master
  // that is instant, and the keys moving there are replicated as they arrive); a source that
  // gives away its last slot is re-pointed after.
  const sourceIds = new Set(outgoing.map((source) => source.from));
  const replicateNow = (pod: PodNode, master: string) => !sourceIds.has(pod.id) && working.role.get(master) === 'master' && slotsOf(pod.id).length === 0;
  if (moves.length > 0) {
    const early = assignReplicas(desired, finalMasters, survivors, working);
    for (const pod of survivors) {
      if (masterIds.includes(pod.id)) continue;
      const master = early.get(pod.id)!;
      if (working.role.get(pod.id) === 'replica' && working.masterOf.get(pod.id) === master) continue;
      if (!replicateNow(pod, master)) continue;
      steps.push({ kind: 'replicate', node: pod.id, master });
      working.role.set(pod.id, 'replica');
      working.masterOf.set(pod.id, master);
    }
    steps.push({ kind: 'migrate', moves });
    // Redis 7: a master that gives away its last slot becomes a replica of the receiver.
    for (const source of outgoing) {
      if (slotsOf(source.from).length === 0 && !masterIds.includes(source.from)) {
        // Which receiver it follows depends on timing, so its REPLICATE is always planned.
        for (const [id, masterId] of working.masterOf) {
          if (masterId === source.from) working.masterOf.set(id, null);
        }
        working.role.set(source.from, 'replica');
        working.masterOf.set(source.from, null);
      }
    }
  }

  const assignment = assignReplicas(desired, finalMasters, survivors, working);
  for (const pod of survivors) {
    if (masterIds.includes(pod.id)) continue;
    const master = assignment.get(pod.id)!;
    if (working.role.get(pod.id) !== 'replica' || working.masterOf.get(pod.id) !== master) {
      steps.push({ kind: 'replicate', node: pod.id, master });
    }
  }
  for (const pod of removed) steps.push({ kind: 'removeNode', node: pod.id });
  if (joiners.length === survivors.length) notes.push(`no cluster yet: bootstrapping ${podCount} pods`);
  return { steps, notes, members: [...membership.main] };
}

// ---------------------------------------------------------------------------------------
// Membership: which pods form the cluster, which join, and which clusters must not be mixed.

interface Membership {
  /** The cluster plus key-less fragments that merge into it. */
  members: Set<number>;
  /** The cluster itself; everything else among pods 0..D-1 has to MEET it. */
  main: Set<number>;
}

function findMembership(view: ClusterView, podCount: number, phase: PlanPhase): Membership {
  const byId = new Map(view.pods.map((pod) => [pod.id, pod]));
  const parent = view.pods.map((pod) => pod.ordinal);
  const find = (index: number): number => (parent[index] === index ? index : (parent[index] = find(parent[index]!)));
  for (const pod of view.pods) {
    for (const id of pod.knows) {
      const other = byId.get(id);
      if (other) parent[find(pod.ordinal)] = find(other.ordinal);
    }
  }
  const groups = new Map<number, PodNode[]>();
  for (const pod of view.pods) {
    const root = find(pod.ordinal);
    groups.set(root, [...(groups.get(root) ?? []), pod]);
  }
  const describe = (group: PodNode[]) => ({
    group,
    keys: group.reduce((sum, pod) => sum + (pod.role === 'master' ? pod.keyCount : 0), 0),
    slots: group.flatMap((pod) => (pod.role === 'master' ? pod.slots : [])),
  });
  const clusters = [...groups.values()]
    .map(describe)
    .filter((entry) => entry.group.length > 1 || entry.slots.length > 0)
    .sort((a, b) => b.keys - a.keys || b.slots.length - a.slots.length || b.group.length - a.group.length || a.group[0]!.ordinal - b.group[0]!.ordinal);

  const members = new Set<number>();
  const mainOrdinals = new Set<number>();
  const main = clusters[0];
  if (main) {
    const claimed = new Set(main.slots);
    for (const pod of main.group) {
      members.add(pod.ordinal);
      mainOrdinals.add(pod.ordinal);
    }
    for (const other of clusters.slice(1)) {
      const overlaps = other.slots.some((slot) => claimed.has(slot));
      if (other.keys > 0 || overlaps) {
        throw new TopologyError(
          `pods ${names(main.group)} and pods ${names(other.group)} belong to two different clusters`,
          'these pods must form one cluster; reset the wrong ones (CLUSTER RESET HARD after checking their data) and run again',
        );
      }
      // A fragment with no keys and disjoint slots (an interrupted bootstrap) is merged.
      for (const slot of other.slots) claimed.add(slot);
      for (const pod of other.group) members.add(pod.ordinal);
    }
  }
  // A pod outside the cluster that holds keys would bring data nobody expects.
  for (const pod of view.pods) {
    if (members.has(pod.ordinal) || pod.keyCount === 0) continue;
    if (phase === 'post' && pod.ordinal < podCount) {
      throw new TopologyError(
        `${pod.name} holds ${pod.keyCount} keys but is not part of the cluster`,
        'it must join empty: check that it is the right pod, then FLUSHALL it and run again',
      );
    }
  }
  return { members, main: mainOrdinals };
}

function names(pods: readonly PodNode[]): string {
  return pods.map((pod) => pod.ordinal).join(',');
}

function checkKeysHaveOwners(view: ClusterView, memberMasters: readonly PodNode[]): void {
  const claimed = new Set<number>();
  for (const pod of memberMasters) {
    for (const slot of pod.slots) claimed.add(slot);
    for (const slot of Object.keys(pod.migrating)) claimed.add(Number(slot));
    for (const slot of Object.keys(pod.importing)) claimed.add(Number(slot));
  }
  for (const pod of memberMasters) {
    const orphan = Object.keys(pod.keysBySlot)
      .map(Number)
      .filter((slot) => !claimed.has(slot));
    if (orphan.length > 0) {
      throw new TopologyError(
        `${pod.name} holds keys in slots ${formatRanges(orphan)} that no node owns`,
        'inspect the data, then assign those slots (redis-cli --cluster fix) or delete the keys, and run again',
      );
    }
  }
  void view;
}

function checkStrangers(view: ClusterView, byId: Map<string, PodNode>): void {
  for (const stranger of view.strangers) {
    if (!stranger.unreachable) {
      throw new TopologyError(
        `node ${stranger.id} (${stranger.address}) is in the cluster and answering, but is not one of the pods ${view.pods.map((pod) => pod.ordinal).join(',')}`,
        'if a pod is missing from --pods or DNS, fix that; if the node was just stopped, wait until the cluster flags it as failing and run again',
      );
    }
    const claimedByPods = new Set(view.pods.filter((pod) => pod.role === 'master').flatMap((pod) => pod.slots));
    const lost = stranger.slots.filter((slot) => !claimedByPods.has(slot));
    if (lost.length > 0) {
      throw new TopologyError(
        `slots ${formatRanges(lost)} belong to node ${stranger.id} (${stranger.address}), which is gone and is not one of the pods`,
        'bring that node back (its data is there), or accept the loss and reassign the slots with redis-cli --cluster fix',
      );
    }
  }
  void byId;
}

// ---------------------------------------------------------------------------------------
// Open slots.

export function planOpenSlotFixes(masters: readonly PodNode[]): OpenSlotFix[] {
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
  return [...open].sort((a, b) => a - b).map((slot) => fixOpenSlot(slot, masters));
}

function fixOpenSlot(slot: number, masters: readonly PodNode[]): OpenSlotFix {
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
    kind: 'fixOpenSlot' as const,
    slot,
    claim,
    extraOwners: extraOwners.map((pod) => pod.id),
    flagged: flagged.map((pod) => pod.id),
  };
  if (migrating.length === 1 && importing.length === 1) {
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

// ---------------------------------------------------------------------------------------
// Working state helpers.

function initialWorking(view: ClusterView, memberMasters: readonly PodNode[], fixes: readonly OpenSlotFix[]): Working {
  const role = new Map<string, 'master' | 'replica'>();
  const masterOf = new Map<string, string | null>();
  for (const pod of view.pods) {
    role.set(pod.id, pod.role);
    masterOf.set(pod.id, pod.role === 'replica' ? pod.masterId : null);
  }
  const owner: Array<string | null> = new Array(slotCount).fill(null);
  for (const pod of [...memberMasters].sort((a, b) => b.ordinal - a.ordinal)) {
    for (const slot of pod.slots) owner[slot] = pod.id;
  }
  for (const fix of fixes) owner[fix.slot] = fix.owner;
  return { role, masterOf, owner };
}

function ownedSlots(working: Working, id: string): number[] {
  const slots: number[] = [];
  for (let slot = 0; slot < slotCount; slot++) if (working.owner[slot] === id) slots.push(slot);
  return slots;
}

function applyFailover(working: Working, replicaId: string, masterId: string): void {
  for (let slot = 0; slot < slotCount; slot++) if (working.owner[slot] === masterId) working.owner[slot] = replicaId;
  for (const [id, master] of working.masterOf) if (master === masterId && id !== replicaId) working.masterOf.set(id, replicaId);
  working.role.set(replicaId, 'master');
  working.masterOf.set(replicaId, null);
  working.role.set(masterId, 'replica');
  working.masterOf.set(masterId, replicaId);
}

function byOrdinal(byId: Map<string, PodNode>) {
  return (a: string, b: string) => (byId.get(a)?.ordinal ?? Infinity) - (byId.get(b)?.ordinal ?? Infinity);
}

/**
 * Spreads slots over the targets so their counts end as even as possible (each next slot
 * to the target with the fewest), then hands them out as contiguous runs in slot order.
 */
function spreadEvenly(working: Working, toMove: ReadonlyArray<{ slot: number; from: string }>, targets: readonly string[]): SlotMove[] {
  const counts = new Map(targets.map((id) => [id, ownedSlots(working, id).length]));
  const quota = new Map(targets.map((id) => [id, 0]));
  for (let index = 0; index < toMove.length; index++) {
    let best = targets[0]!;
    for (const id of targets) if (counts.get(id)! < counts.get(best)!) best = id;
    counts.set(best, counts.get(best)! + 1);
    quota.set(best, quota.get(best)! + 1);
  }
  const ordered = [...toMove].sort((a, b) => a.slot - b.slot);
  const grouped = new Map<string, number[]>();
  let targetIndex = 0;
  for (const { slot, from } of ordered) {
    while (quota.get(targets[targetIndex]!)! === 0) targetIndex++;
    const to = targets[targetIndex]!;
    quota.set(to, quota.get(to)! - 1);
    const key = `${from} ${to}`;
    const slots = grouped.get(key) ?? [];
    slots.push(slot);
    grouped.set(key, slots);
    working.owner[slot] = to;
  }
  return [...grouped].map(([key, slots]) => {
    const [from, to] = key.split(' ') as [string, string];
    return { from, to, slots };
  });
}

// ---------------------------------------------------------------------------------------
// Roles.

function chooseMasters(
  view: ClusterView,
  desired: DesiredShape,
  working: Working,
  survivors: readonly PodNode[],
  isMember: (pod: PodNode) => boolean,
): string[] {
  const shardSize = 1 + desired.replicasPerMaster;
  const slotCounts = new Map<string, number>();
  for (const id of working.owner) if (id !== null) slotCounts.set(id, (slotCounts.get(id) ?? 0) + 1);
  const holding = survivors
    .filter((pod) => working.role.get(pod.id) === 'master' && (slotCounts.get(pod.id) ?? 0) > 0)
    .sort((a, b) => slotCounts.get(b.id)! - slotCounts.get(a.id)! || a.ordinal - b.ordinal);
  const chosen = holding.slice(0, desired.masters).map((pod) => pod.id);
  if (chosen.length === desired.masters) return chosen;

  const replicaCount = new Map<string, number>();
  for (const pod of survivors) {
    const master = working.masterOf.get(pod.id);
    if (working.role.get(pod.id) === 'replica' && master) replicaCount.set(master, (replicaCount.get(master) ?? 0) + 1);
  }
  const idealFirst = (a: PodNode, b: PodNode) => Number(a.ordinal % shardSize !== 0) - Number(b.ordinal % shardSize !== 0) || a.ordinal - b.ordinal;
  const emptyMasters = survivors
    .filter((pod) => !chosen.includes(pod.id) && (working.role.get(pod.id) === 'master' || !isMember(pod)) && (slotCounts.get(pod.id) ?? 0) === 0)
    .sort(idealFirst);
  const replicas = survivors
    .filter((pod) => isMember(pod) && !chosen.includes(pod.id) && working.role.get(pod.id) === 'replica')
    .sort((a, b) => (replicaCount.get(working.masterOf.get(b.id) ?? '') ?? 0) - (replicaCount.get(working.masterOf.get(a.id) ?? '') ?? 0) || idealFirst(a, b));
  for (const pod of [...emptyMasters, ...replicas]) {
    if (chosen.length === desired.masters) break;
    chosen.push(pod.id);
  }
  if (chosen.length < desired.masters) {
    throw new TopologyError(`only ${chosen.length} of the ${desired.masters} masters can be placed on ${survivors.length} pods`);
  }
  void view;
  return chosen;
}

/** node id -> master id for every survivor that is not a master. */
function assignReplicas(desired: DesiredShape, masters: readonly PodNode[], survivors: readonly PodNode[], working: Working): Map<string, string> {
  const shardSize = 1 + desired.replicasPerMaster;
  const shardOf = (pod: PodNode) => Math.floor(pod.ordinal / shardSize);
  const masterIds = new Set(masters.map((pod) => pod.id));
  const quota = new Map(masters.map((pod) => [pod.id, desired.replicasPerMaster]));
  const assignment = new Map<string, string>();
  const others = survivors.filter((pod) => !masterIds.has(pod.id));

  // 1. Keep existing relations, preferring replicas in the master's own shard block.
  for (const master of masters) {
    const current = others
      .filter((pod) => working.role.get(pod.id) === 'replica' && working.masterOf.get(pod.id) === master.id)
      .sort((a, b) => Number(shardOf(a) !== shardOf(master)) - Number(shardOf(b) !== shardOf(master)) || a.ordinal - b.ordinal);
    for (const pod of current.slice(0, quota.get(master.id))) {
      assignment.set(pod.id, master.id);
      quota.set(master.id, quota.get(master.id)! - 1);
    }
  }
  // 2. Then the master of the pod's own shard block (consecutive ordinals, master first).
  for (const pod of others) {
    if (assignment.has(pod.id)) continue;
    const home = masters.find((master) => shardOf(master) === shardOf(pod) && quota.get(master.id)! > 0);
    if (home) {
      assignment.set(pod.id, home.id);
      quota.set(home.id, quota.get(home.id)! - 1);
    }
  }
  // 3. Then whichever master lacks the most replicas.
  for (const pod of others) {
    if (assignment.has(pod.id)) continue;
    const master = [...masters].sort((a, b) => quota.get(b.id)! - quota.get(a.id)! || a.ordinal - b.ordinal)[0]!;
    assignment.set(pod.id, master.id);
    quota.set(master.id, quota.get(master.id)! - 1);
  }
  return assignment;
}
