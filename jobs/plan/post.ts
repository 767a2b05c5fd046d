// post: join pods 0..D-1, choose exactly M masters, give unowned slots out, balance by moving
// only each master's surplus, give every master R replicas keeping existing relations (spread over
// zones and nodes where placement is known), and remove any pod >= D still in the cluster.
import { TopologyError } from '../errors';
import type { PlanContext } from './context';
import type { PodNode, SlotMove } from './model';
import { layoutShards, placementKnown, type Layout } from './placement';
import { assignReplicas, chooseMasters } from './roles';
import { evenShare, slotCount } from './slots';
import { byOrdinal, ownedSlots } from './working';

export function planPost(context: PlanContext): void {
  const { desired, podCount, byId, membership, isMember, removed, survivors, working, steps, notes } = context;
  const slotsOf = (id: string) => ownedSlots(working, id);
  const joiners = survivors.filter((pod) => !membership.cluster.has(pod.ordinal));
  // A joiner that knows members of the cluster, which do not know it, is one the cluster forgot: it
  // rejoins under a new id, in a round of its own (the next round plans with the new id).
  const clusterPods = context.view.pods.filter((pod) => membership.cluster.has(pod.ordinal));
  const clusterIds = new Set(clusterPods.map((pod) => pod.id));
  const forgotten = joiners.filter((pod) => pod.slots.length === 0 && pod.knows.some((id) => clusterIds.has(id)));
  if (forgotten.length > 0) {
    const rejoinVia = clusterPods.find((pod) => pod.ordinal < podCount) ?? clusterPods[0]!;
    for (const pod of forgotten) steps.push({ kind: 'rejoinAsNew', node: pod.id, via: rejoinVia.id });
    return;
  }
  const chosen = chooseMasters(desired, working, survivors, isMember);
  const layout = planLayout(context, chosen);
  const masterIds = layout ? [...layout.masters] : chosen;
  const finalMasters = masterIds.map((id) => byId.get(id)!);
  if (layout) notes.push(...layout.notes);
  // Where the pods run is unknown: as always, existing relations first, then shard blocks.
  const replicaAssignment = () => layout?.replicaOf ?? assignReplicas(desired, finalMasters, survivors, working);

  const mainSurvivors = survivors.filter((pod) => membership.cluster.has(pod.ordinal));
  const via = mainSurvivors[0] ?? finalMasters[0]!;
  for (const pod of joiners) {
    if (pod.id === via.id) continue;
    // A replica outside the cluster (a removed pod back on its old volume) joins empty: a reset
    // turns it into an empty master first.
    steps.push(pod.role === 'replica' ? { kind: 'makeEmptyMaster', node: pod.id, via: via.id } : { kind: 'meet', node: pod.id, via: via.id });
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
    steps.push({ kind: 'addSlots', node: deficit.to, slots: take });
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
    const early = replicaAssignment();
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

  const assignment = replicaAssignment();
  for (const pod of survivors) {
    if (masterIds.includes(pod.id)) continue;
    const master = assignment.get(pod.id)!;
    if (working.role.get(pod.id) !== 'replica' || working.masterOf.get(pod.id) !== master) {
      steps.push({ kind: 'replicate', node: pod.id, master });
    }
  }
  for (const pod of removed) steps.push({ kind: 'removeNode', node: pod.id });
  // Last: the shape is reached without them, and a replica that takes over is one in sync now.
  for (const failover of layout?.failovers ?? []) steps.push({ kind: 'failover', replica: failover.replica, master: failover.master });
  if (joiners.length === survivors.length) notes.push(`no cluster yet: bootstrapping ${podCount} pods`);
}

/** Shards laid out over the pods' zones and nodes; undefined when placement is unknown (or no replicas). */
function planLayout(context: PlanContext, chosen: readonly string[]): Layout | undefined {
  const { desired, survivors, working, byId, view } = context;
  if (desired.replicasPerMaster === 0 || !placementKnown(survivors)) return undefined;
  const slotsHeld = new Map<string, number>();
  for (const id of working.owner) if (id !== null) slotsHeld.set(id, (slotsHeld.get(id) ?? 0) + 1);
  return layoutShards({
    replicasPerMaster: desired.replicasPerMaster,
    survivors,
    anchors: chosen.map((id) => byId.get(id)!),
    holdsSlots: (pod) => (slotsHeld.get(pod.id) ?? 0) > 0,
    masterOf: (pod) => (working.role.get(pod.id) === 'replica' ? (working.masterOf.get(pod.id) ?? null) : null),
    isEmptyMaster: (pod) => working.role.get(pod.id) === 'master' && !slotsHeld.has(pod.id),
    isFailing: (pod) => view.pods.some((other) => other.failing.includes(pod.id)),
  });
}
