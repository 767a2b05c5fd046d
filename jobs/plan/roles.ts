// Roles: which pods end as masters, and which master each other pod replicates.
import { TopologyError } from '../errors';
import type { DesiredShape, PodNode } from './model';
import type { Working } from './working';

/**
 * The M masters of the end state: those holding the most slots, then empty masters and replicas,
 * each preferring the ordinal that starts a shard block (consecutive ordinals, master first).
 */
export function chooseMasters(desired: DesiredShape, working: Working, survivors: readonly PodNode[], isMember: (pod: PodNode) => boolean): string[] {
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
  return chosen;
}

/** node id -> master id for every survivor that is not a master. */
export function assignReplicas(desired: DesiredShape, masters: readonly PodNode[], survivors: readonly PodNode[], working: Working): Map<string, string> {
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
