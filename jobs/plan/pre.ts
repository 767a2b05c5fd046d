// pre: the removed pods' slots move to the staying masters evenly, staying replicas of removed
// masters follow a staying master, and the removed pods leave.
import { TopologyError } from '../errors';
import type { PlanContext } from './context';
import { ownedSlots, spreadEvenly } from './working';

export function planPre(context: PlanContext): void {
  const { working, survivors, removed, isMember, steps, podCount } = context;
  const slotsOf = (id: string) => ownedSlots(working, id);
  const stayingMasters = () => survivors.filter((pod) => isMember(pod) && working.role.get(pod.id) === 'master' && slotsOf(pod.id).length > 0);

  const toMove = context.drainedRemoved.flatMap((pod) => slotsOf(pod.id).map((slot) => ({ slot, from: pod.id })));
  if (toMove.length > 0) {
    const targets = stayingMasters();
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
  const masters = stayingMasters();
  const replicaCount = (id: string) => survivors.filter((pod) => working.masterOf.get(pod.id) === id).length;
  for (const pod of survivors) {
    if (!isMember(pod) || working.role.get(pod.id) !== 'replica') continue;
    const master = working.masterOf.get(pod.id);
    if (master && !removedIds.has(master)) continue;
    const newMaster = [...masters].sort((a, b) => replicaCount(a.id) - replicaCount(b.id) || a.ordinal - b.ordinal)[0];
    if (!newMaster) continue;
    steps.push({ kind: 'replicate', node: pod.id, master: newMaster.id });
    working.masterOf.set(pod.id, newMaster.id);
  }
  for (const pod of removed) steps.push({ kind: 'removeNode', node: pod.id });
}
