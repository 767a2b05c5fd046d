// The roles and slot owners a plan leads to, updated step by step as the planner adds steps.
import type { ClusterView, PodNode, SlotMove } from './model';
import { slotCount } from './slots';

/** Mutable working copy of the roles and slot owners the plan leads to. */
export interface Working {
  role: Map<string, 'master' | 'replica'>;
  masterOf: Map<string, string | null>;
  /** slot -> owning node id, or null. */
  owner: Array<string | null>;
}

/** The observed roles and owners, with each open slot already given to the owner its repair chooses. */
export function initialWorking(view: ClusterView, memberMasters: readonly PodNode[], repairedOwners: ReadonlyArray<{ slot: number; owner: string }>): Working {
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
  for (const repaired of repairedOwners) owner[repaired.slot] = repaired.owner;
  return { role, masterOf, owner };
}

export function ownedSlots(working: Working, id: string): number[] {
  const slots: number[] = [];
  for (let slot = 0; slot < slotCount; slot++) if (working.owner[slot] === id) slots.push(slot);
  return slots;
}

/** The replica takes over the master's slots and its other replicas; the master becomes its replica. */
export function applyFailover(working: Working, replicaId: string, masterId: string): void {
  for (let slot = 0; slot < slotCount; slot++) if (working.owner[slot] === masterId) working.owner[slot] = replicaId;
  for (const [id, master] of working.masterOf) if (master === masterId && id !== replicaId) working.masterOf.set(id, replicaId);
  working.role.set(replicaId, 'master');
  working.masterOf.set(replicaId, null);
  working.role.set(masterId, 'replica');
  working.masterOf.set(masterId, replicaId);
}

/** Compares node ids by their pod's ordinal (unknown ids last). */
export function byOrdinal(byId: ReadonlyMap<string, PodNode>) {
  return (a: string, b: string) => (byId.get(a)?.ordinal ?? Infinity) - (byId.get(b)?.ordinal ?? Infinity);
}

/**
 * Spreads slots over the targets so their counts end as even as possible (each next slot
 * to the target with the fewest), then hands them out as contiguous runs in slot order.
 */
export function spreadEvenly(working: Working, toMove: ReadonlyArray<{ slot: number; from: string }>, targets: readonly string[]): SlotMove[] {
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
