// The planner: a pure function (view, desired shape, phase) -> ordered steps. No I/O.
//
// Both phases first repair open slots, forget stale nodes, and fail over removed masters whose
// replica stays (no data moves). Then:
// pre:  pods with ordinal >= D (= M*(1+R)) give up their slots (migrated to the staying masters
//       evenly) and leave.
// post: join pods 0..D-1, choose exactly M masters (keeping the ones with the most slots),
//       balance slots moving only surpluses, give every master R replicas keeping existing
//       relations, and remove any pod >= D still in the cluster.
import { desiredPodCount } from '../contract';
import { TopologyError } from '../errors';
import type { PlanContext } from './context';
import { checkKeysHaveOwners, checkStrangers, findMembership } from './membership';
import type { ClusterView, DesiredShape, Plan, PlanPhase, PodNode, Step } from './model';
import { planOpenSlotRepairs, planReplicaFlagRepairs } from './open-slots';
import { planPost } from './post';
import { planPre } from './pre';
import { applyFailover, initialWorking, ownedSlots } from './working';

export function planPhase(view: ClusterView, desired: DesiredShape, phase: PlanPhase): Plan {
  const podCount = desiredPodCount(desired);
  if (phase === 'post' && view.pods.length < podCount) {
    throw new TopologyError(
      `post needs ${podCount} pods (${desired.masters} masters, each with ${desired.replicasPerMaster} replicas), found ${view.pods.length}`,
      'wait until the StatefulSet has scaled up, or check --pods / the DNS names',
    );
  }
  const membership = findMembership(view, podCount, phase);
  const isMember = (pod: PodNode) => membership.withFragments.has(pod.ordinal);
  const memberMasters = view.pods.filter((pod) => isMember(pod) && pod.role === 'master');
  checkKeysHaveOwners(memberMasters);
  checkStrangers(view);

  const steps: Step[] = [];
  const notes: string[] = [];
  const repairs = planOpenSlotRepairs(memberMasters);
  steps.push(...repairs, ...planReplicaFlagRepairs(view.pods.filter(isMember)));
  const working = initialWorking(view, memberMasters, repairs);
  for (const stranger of view.strangers) {
    steps.push({ kind: 'forget', node: stranger.id, reason: `${stranger.id.slice(0, 8)} (${stranger.address}) is no pod and unreachable` });
  }

  // Pods >= D the cluster still counts: a removed pod the cluster already forgot (it still runs
  // until the StatefulSet stops it, and may know the other removed pods) is left alone.
  const removed = view.pods.filter((pod) => pod.ordinal >= podCount && (membership.cluster.has(pod.ordinal) || (isMember(pod) && pod.slots.length > 0)));
  const survivors = view.pods.filter((pod) => pod.ordinal < podCount);
  // Removed masters: fail over to a staying replica where one exists (no data moves).
  const drainedRemoved: PodNode[] = [];
  for (const pod of removed) {
    if (working.role.get(pod.id) !== 'master' || ownedSlots(working, pod.id).length === 0) continue;
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

  const context: PlanContext = {
    view,
    desired,
    podCount,
    byId: new Map(view.pods.map((pod) => [pod.id, pod])),
    membership,
    isMember,
    removed,
    survivors,
    drainedRemoved,
    working,
    steps,
    notes,
  };
  if (phase === 'pre') planPre(context);
  else planPost(context);
  return { steps, notes, clusterOrdinals: [...membership.cluster] };
}
