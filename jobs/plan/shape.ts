// The desired end state, checked independently of the planner: what is still wrong.
import { desiredPodCount } from '../contract';
import type { ClusterView, DesiredShape, PlanPhase } from './model';
import { evenShare, formatRanges, slotCount } from './slots';

export function shapeProblems(view: ClusterView, desired: DesiredShape, phase: PlanPhase): string[] {
  const problems: string[] = [];
  const podCount = desiredPodCount(desired);
  const survivors = view.pods.filter((pod) => pod.ordinal < podCount);
  const removed = view.pods.filter((pod) => pod.ordinal >= podCount);
  const survivorIds = new Set(survivors.map((pod) => pod.id));

  for (const pod of removed) {
    if (pod.slots.length > 0) problems.push(`${pod.name} is removed but holds slots ${formatRanges(pod.slots)}`);
    const knownBy = survivors.filter((other) => other.knows.includes(pod.id));
    if (knownBy.length > 0) problems.push(`${pod.name} is removed but still known by pods ${knownBy.map((other) => other.ordinal).join(',')}`);
  }
  for (const pod of view.pods) {
    const open = [...Object.keys(pod.migrating), ...Object.keys(pod.importing)];
    if (open.length > 0) problems.push(`${pod.name} has open slots ${open.join(',')}`);
  }
  const clusterSurvivors = survivors.filter((pod) => pod.knows.length > 0 || pod.slots.length > 0);
  const owners: Array<string | null> = new Array(slotCount).fill(null);
  for (const pod of survivors) for (const slot of pod.slots) owners[slot] = pod.id;
  const uncovered = owners.flatMap((owner, slot) => (owner === null ? [slot] : []));
  if (phase === 'pre') {
    if (clusterSurvivors.length > 0 && uncovered.length > 0) problems.push(`slots ${formatRanges(uncovered)} are not covered by the pods that stay`);
    return problems;
  }

  if (uncovered.length > 0) problems.push(`slots ${formatRanges(uncovered)} are not covered`);
  const masters = survivors.filter((pod) => pod.role === 'master' && pod.slots.length > 0);
  if (masters.length !== desired.masters) problems.push(`${masters.length} masters hold slots, want ${desired.masters}`);
  const { base } = evenShare(desired.masters);
  for (const master of masters) {
    if (master.slots.length < base || master.slots.length > base + 1) {
      problems.push(`${master.name} holds ${master.slots.length} slots, want ${base} or ${base + 1}`);
    }
    const replicas = survivors.filter((pod) => pod.role === 'replica' && pod.masterId === master.id);
    if (replicas.length !== desired.replicasPerMaster) {
      problems.push(`${master.name} has ${replicas.length} replicas, want ${desired.replicasPerMaster}`);
    }
  }
  for (const pod of survivors) {
    if (pod.role === 'master' && pod.slots.length === 0) problems.push(`${pod.name} is a master without slots`);
    if (pod.role === 'replica' && !masters.some((master) => master.id === pod.masterId)) {
      problems.push(`${pod.name} replicates a node that is not one of the masters`);
    }
    const missing = survivors.filter((other) => other !== pod && !pod.knows.includes(other.id));
    if (missing.length > 0) problems.push(`${pod.name} does not know pods ${missing.map((other) => other.ordinal).join(',')}`);
    const extra = pod.knows.filter((id) => !survivorIds.has(id));
    if (extra.length > 0) problems.push(`${pod.name} knows ${extra.length} node(s) that are not pods 0..${podCount - 1}`);
    if (pod.failing.length > 0) problems.push(`${pod.name} flags ${pod.failing.length} node(s) as failing`);
  }
  return problems;
}
