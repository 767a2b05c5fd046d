// Plan steps as lines a person reads (dry run and logs).
import type { ClusterView, Plan, Step } from './model';
import { formatRanges } from './slots';

export function describeStep(step: Step, view: ClusterView): string {
  const name = (id: string) => view.pods.find((pod) => pod.id === id)?.name ?? `node ${id.slice(0, 8)}`;
  switch (step.kind) {
    case 'repairOpenSlot':
      return `repair: ${step.reason}`;
    case 'forget':
      return `forget stale node ${step.node.slice(0, 8)} on every pod: ${step.reason}`;
    case 'failover':
      return `fail over ${name(step.master)} to its replica ${name(step.replica)} (no data moves)`;
    case 'clearReplicaSlotFlags':
      return `repair: ${name(step.replica)} still shows slots ${formatRanges(step.slots)} open, which its master ${name(step.master)} has closed: the master repeats SETSLOT STABLE for them`;
    case 'addSlots':
      return `assign ${step.slots.length} unowned slots ${formatRanges(step.slots)} to ${name(step.node)}`;
    case 'meet':
      return `join ${name(step.node)} to the cluster through ${name(step.via)}`;
    case 'makeEmptyMaster':
      return `turn replica ${name(step.node)} into an empty master (CLUSTER RESET SOFT, then meet ${name(step.via)})`;
    case 'rejoinAsNew':
      return `${name(step.node)}, which the cluster forgot, rejoins as a new node through ${name(step.via)} (CLUSTER RESET HARD, dropping its old keys; every pod forgets its old id)`;
    case 'migrate': {
      const total = step.moves.reduce((sum, move) => sum + move.slots.length, 0);
      const lines = step.moves.map((move) => `    ${move.slots.length} slots ${formatRanges(move.slots)}: ${name(move.from)} -> ${name(move.to)}`);
      return [`migrate ${total} slots with their keys:`, ...lines].join('\n');
    }
    case 'replicate':
      return `make ${name(step.node)} a replica of ${name(step.master)}`;
    case 'removeNode':
      return `remove ${name(step.node)} from the cluster (every other pod forgets it; it keeps redirecting clients until its pod stops)`;
  }
}

/** Numbered lines; long runs of open-slot repairs are summarized. */
export function describePlan(plan: Plan, view: ClusterView): string[] {
  const lines = plan.notes.map((note) => `note: ${note}`);
  const steps = plan.steps;
  for (let index = 0; index < steps.length; index++) {
    const step = steps[index]!;
    let end = index;
    while (step.kind === 'repairOpenSlot' && end + 1 < steps.length && steps[end + 1]!.kind === 'repairOpenSlot') end++;
    if (end - index >= 5) {
      const repairs = steps.slice(index, end + 1).flatMap((item) => (item.kind === 'repairOpenSlot' ? [item] : []));
      lines.push(
        `${index + 1}-${end + 1}. repair ${repairs.length} open slots ${formatRanges(repairs.map((repair) => repair.slot))}, e.g. ${repairs[0]!.reason}`,
      );
      index = end;
    } else {
      lines.push(`${index + 1}. ${describeStep(step, view)}`);
    }
  }
  return lines;
}
