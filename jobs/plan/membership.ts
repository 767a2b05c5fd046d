// Which pods form the cluster, which have to join it, and which states the planner refuses
// (two clusters, data outside the cluster, a live node that is no pod).
import { TopologyError } from '../errors';
import type { ClusterView, PlanPhase, PodNode } from './model';
import { formatRanges } from './slots';

export interface Membership {
  /** The cluster itself: the largest group of pods that know each other (by keys, then slots). */
  readonly cluster: ReadonlySet<number>;
  /** The cluster plus key-less fragments with disjoint slots (an interrupted bootstrap) that merge into it. */
  readonly withFragments: ReadonlySet<number>;
}

export function findMembership(view: ClusterView, podCount: number, phase: PlanPhase): Membership {
  const byId = new Map(view.pods.map((pod) => [pod.id, pod]));
  const parent = view.pods.map((pod) => pod.ordinal);
  const find = (index: number): number => (parent[index] === index ? index : (parent[index] = find(parent[index]!)));
  // Two pods are in one cluster when each knows the other: a pod the cluster forgot (removed by
  // pre, still running or back on its old volume) still knows the cluster, but is outside it.
  for (const pod of view.pods) {
    for (const id of pod.knows) {
      const other = byId.get(id);
      if (other && other.knows.includes(pod.id)) parent[find(pod.ordinal)] = find(other.ordinal);
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

  const withFragments = new Set<number>();
  const cluster = new Set<number>();
  const main = clusters[0];
  if (main) {
    const claimed = new Set(main.slots);
    for (const pod of main.group) {
      withFragments.add(pod.ordinal);
      cluster.add(pod.ordinal);
    }
    for (const other of clusters.slice(1)) {
      const overlaps = other.slots.some((slot) => claimed.has(slot));
      if (other.keys > 0 || overlaps) {
        throw new TopologyError(
          `pods ${ordinals(main.group)} and pods ${ordinals(other.group)} belong to two different clusters`,
          'these pods must form one cluster; reset the wrong ones (CLUSTER RESET HARD after checking their data) and run again',
        );
      }
      for (const slot of other.slots) claimed.add(slot);
      for (const pod of other.group) withFragments.add(pod.ordinal);
    }
  }
  // A master outside the cluster that holds keys would bring data nobody expects. A replica's keys
  // are a copy of what its master had: it joins through a reset, which empties it.
  for (const pod of view.pods) {
    if (withFragments.has(pod.ordinal) || pod.keyCount === 0 || pod.role === 'replica') continue;
    if (phase === 'post' && pod.ordinal < podCount) {
      throw new TopologyError(
        `${pod.name} holds ${pod.keyCount} keys but is not part of the cluster`,
        'it must join empty: check that it is the right pod, then FLUSHALL it and run again',
      );
    }
  }
  return { cluster, withFragments };
}

function ordinals(pods: readonly PodNode[]): string {
  return pods.map((pod) => pod.ordinal).join(',');
}

/** Refuses when a master holds keys in slots no member master owns, imports or migrates. */
export function checkKeysHaveOwners(memberMasters: readonly PodNode[]): void {
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
}

/** Nodes the pods know that are no pod: only unreachable ones whose slots the pods also claim are forgotten. */
export function checkStrangers(view: ClusterView): void {
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
}
