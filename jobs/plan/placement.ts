// Shards over failure domains: which shard each pod joins and which member leads it, so that no two
// members of a shard share a zone (or a node, where there is one zone) whenever the pods' placement
// allows it, with the least change. Pure: where pods run is data in the view (PodNode.placement).
//
// Two choices, each a minimum-cost flow (min-cost-flow.ts) whose costs are compared in order:
// 1. Membership. The M masters chooseMasters picked anchor the shards (those with slots hold the
//    data; the others are new shards). Every other pod joins one, R per shard, costing first the
//    shards with every member in one zone, then pairs of members sharing a zone, the same for
//    nodes, then replicas re-pointed away from a master they already follow (each a full resync),
//    then pods outside their own block of consecutive ordinals.
// 2. Leaders. A failover never changes who is in a shard (the old master stays in it as a replica),
//    so it cannot spread a shard; what it does spread is the masters: a zone that holds half of them
//    takes the cluster's majority with it, and no replica can then be promoted. So each shard picks
//    its master among the anchor and the replicas that follow it with a live link, costing first
//    resets (a new shard led by a replica), then masters sharing a zone, then a node, then failovers.
import { FlowNetwork } from './min-cost-flow';
import type { PodNode } from './model';
import { spreadNotes } from './spread-notes';

export interface LayoutInput {
  readonly replicasPerMaster: number;
  /** Pods 0..D-1. */
  readonly survivors: readonly PodNode[];
  /** chooseMasters' M masters, in its order. */
  readonly anchors: readonly PodNode[];
  /** The anchor holds slots (an existing shard): it stays master while the plan runs. */
  readonly holdsSlots: (pod: PodNode) => boolean;
  /** The master a pod replicates now, or null. */
  readonly masterOf: (pod: PodNode) => string | null;
  /** A master without slots (or a fresh pod): it can lead a new shard without a reset. */
  readonly isEmptyMaster: (pod: PodNode) => boolean;
  /** Some pod flags it fail or pfail. */
  readonly isFailing: (pod: PodNode) => boolean;
}

export interface Layout {
  /** The M masters while the plan runs: the anchors, a new shard perhaps led by another member. */
  readonly masters: readonly string[];
  /** Every other pod 0..D-1 -> the master it replicates. */
  readonly replicaOf: ReadonlyMap<string, string>;
  /** Failovers for the end of the plan (no data moves), spreading the masters. */
  readonly failovers: ReadonlyArray<{ readonly replica: string; readonly master: string }>;
  readonly notes: readonly string[];
}

/** Whether any pod's placement is known: without, the planner places shards as it always has. */
export function placementKnown(pods: readonly PodNode[]): boolean {
  return pods.some((pod) => pod.placement?.zone !== undefined || pod.placement?.node !== undefined);
}

const zoneOf = (pod: PodNode) => pod.placement?.zone;
const nodeOf = (pod: PodNode) => pod.placement?.node;

export function layoutShards(input: LayoutInput): Layout {
  const members = assignMembers(input);
  const leaders = chooseLeaders(input, members);
  const masters = input.anchors.map((anchor, group) => (input.holdsSlots(anchor) ? anchor.id : leaders[group]!.id));
  const replicaOf = new Map<string, string>();
  const failovers: Array<{ replica: string; master: string }> = [];
  members.forEach((pods, group) => {
    for (const pod of pods) if (pod.id !== masters[group]) replicaOf.set(pod.id, masters[group]!);
    if (leaders[group]!.id !== masters[group]) failovers.push({ replica: leaders[group]!.id, master: masters[group]! });
  });
  const shards = members.map((pods, group) => ({ leader: leaders[group]!, pods }));
  // Replicas that leave the master they follow for another shard (each resyncs from its new master).
  const moved = input.survivors.filter((pod) => {
    const current = input.masterOf(pod);
    const group = members.findIndex((pods) => pods.includes(pod));
    return (
      current !== null &&
      input.anchors.some((anchor) => anchor.id === current && input.holdsSlots(anchor)) &&
      !members[group]!.some((other) => other.id === current)
    );
  });
  return { masters, replicaOf, failovers, notes: spreadNotes(shards, input.survivors, failovers, moved) };
}

/**
 * Every pod of each shard, by shard (index of input.anchors). A shard with slots keeps its anchor
 * and takes R pods; a new shard takes R + 1 of the other pods, its anchor among them or not, so
 * that the anchors chooseMasters picked for new shards constrain nothing (the leader comes after).
 */
function assignMembers(input: LayoutInput): PodNode[][] {
  const { anchors, survivors, replicasPerMaster: replicas } = input;
  const shardSize = 1 + replicas;
  const fixed = anchors.map((anchor) => (input.holdsSlots(anchor) ? anchor : undefined));
  const fixedIds = new Set(fixed.flatMap((anchor) => (anchor ? [anchor.id] : [])));
  const groupOfFixed = new Map(fixed.flatMap((anchor, group) => (anchor ? [[anchor.id, group] as const] : [])));
  const free = survivors.filter((pod) => !fixedIds.has(pod.id));
  const block = (pod: PodNode) => Math.floor(pod.ordinal / shardSize);
  const homeOf = (pod: PodNode) => {
    const own = anchors.findIndex((anchor) => anchor.id === pod.id);
    return own !== -1 ? own : anchors.findIndex((anchor) => block(anchor) === block(pod));
  };

  // A node is named with its zone, so that the flow counts its pods in that zone. A node with a
  // single pod can pair no two members: its pod counts by zone alone.
  const nodeKey = (pod: PodNode) => (nodeOf(pod) === undefined ? undefined : `${zoneOf(pod) ?? ''}\n${nodeOf(pod)}`);
  const podsOnNode = new Map<string, number>();
  for (const pod of survivors) if (nodeKey(pod) !== undefined) podsOnNode.set(nodeKey(pod)!, (podsOnNode.get(nodeKey(pod)!) ?? 0) + 1);
  const crowdedNode = (pod: PodNode) => (nodeKey(pod) !== undefined && podsOnNode.get(nodeKey(pod)!)! > 1 ? nodeKey(pod) : undefined);
  const classOf = (pod: PodNode) =>
    crowdedNode(pod) !== undefined ? `node\n${crowdedNode(pod)}` : zoneOf(pod) !== undefined ? `zone\n${zoneOf(pod)}` : 'unknown';

  // Costs: [shards in one zone, then pairs sharing a zone; the same for nodes; replicas re-pointed; pods outside their block].
  const oneDomain = anchors.length * ((shardSize * replicas) / 2) + 1;
  const network = new FlowNetwork(4);
  const source = network.addVertex();
  const sink = network.addVertex();
  const room = (group: number) => (fixed[group] ? replicas : shardSize);
  const shardVertex = anchors.map((_, group) => {
    const vertex = network.addVertex();
    network.addEdge(vertex, sink, room(group), [0, 0, 0, 0]);
    return vertex;
  });
  // The k-th pod of one domain in a shard pairs with the k-1 before it (and the anchor, if there),
  // and the one that puts the whole shard in that domain also costs a shard in one domain.
  const domainSteps = (group: number, domain: string, level: 0 | 1) => {
    const anchor = fixed[group];
    const before = anchor !== undefined && (level === 0 ? zoneOf(anchor) : nodeKey(anchor)) === domain ? 1 : 0;
    return Array.from({ length: room(group) }, (_, index) => {
      const cost = [0, 0, 0, 0];
      cost[level] = (before + index + 1 === shardSize ? oneDomain : 0) + before + index;
      return cost;
    });
  };
  const domainVertex = new Map<string, number>();
  const zoneEntry = (group: number, zone: string | undefined): number => {
    if (zone === undefined) return shardVertex[group]!;
    const key = `${group}\nzone\n${zone}`;
    let vertex = domainVertex.get(key);
    if (vertex === undefined) {
      vertex = network.addVertex();
      domainVertex.set(key, vertex);
      for (const cost of domainSteps(group, zone, 0)) network.addEdge(vertex, shardVertex[group]!, 1, cost);
    }
    return vertex;
  };
  const entry = (group: number, pod: PodNode): number => {
    const node = crowdedNode(pod);
    if (node === undefined) return zoneEntry(group, zoneOf(pod));
    const key = `${group}\nnode\n${node}`;
    let vertex = domainVertex.get(key);
    if (vertex === undefined) {
      vertex = network.addVertex();
      domainVertex.set(key, vertex);
      const next = zoneEntry(group, zoneOf(pod));
      for (const cost of domainSteps(group, node, 1)) network.addEdge(vertex, next, 1, cost);
    }
    return vertex;
  };

  // Pods alike to the flow (same class, current shard and block) go as one kind.
  const kinds = new Map<string, { pods: PodNode[]; current: number | undefined; home: number }>();
  for (const pod of free) {
    const current = groupOfFixed.get(input.masterOf(pod) ?? '');
    const home = homeOf(pod);
    const key = `${classOf(pod)}\n${current ?? ''}\n${home}`;
    const kind = kinds.get(key) ?? { pods: [], current, home };
    kind.pods.push(pod);
    kinds.set(key, kind);
  }
  // One pool per class of pods, open to every shard.
  const pools = new Map<string, { vertex: number; toShard: number[] }>();
  const routes = [...kinds.values()].map((kind) => {
    const { pods, current, home } = kind;
    const sample = pods[0]!;
    let pool = pools.get(classOf(sample));
    if (!pool) {
      const vertex = network.addVertex();
      pool = { vertex, toShard: anchors.map((_, group) => network.addEdge(vertex, entry(group, sample), room(group), [0, 0, 0, 0])) };
      pools.set(classOf(sample), pool);
    }
    const kindVertex = network.addVertex();
    network.addEdge(source, kindVertex, pods.length, [0, 0, 0, 0]);
    const change = current === undefined ? 0 : 1;
    return {
      kind,
      keep: current === undefined ? -1 : network.addEdge(kindVertex, entry(current, sample), pods.length, [0, 0, 0, home === current ? 0 : 1]),
      toHome: home === -1 || home === current ? -1 : network.addEdge(kindVertex, entry(home, sample), pods.length, [0, 0, change, 0]),
      toPool: network.addEdge(kindVertex, pool.vertex, pods.length, [0, 0, change, 1]),
    };
  });
  if (network.minCostFlow(source, sink, free.length) !== free.length) throw new Error('planner bug: the pods do not fill the shards');

  const members: PodNode[][] = anchors.map((_, group) => (fixed[group] ? [fixed[group]] : []));
  const left = new Map([...pools].map(([key, pool]) => [key, pool.toShard.map((edge) => network.flowOn(edge))]));
  for (const { kind, keep, toHome } of routes) {
    let keeping = keep === -1 ? 0 : network.flowOn(keep);
    let homing = toHome === -1 ? 0 : network.flowOn(toHome);
    for (const pod of kind.pods) {
      if (keeping > 0) {
        keeping--;
        members[kind.current!]!.push(pod);
      } else if (homing > 0) {
        homing--;
        members[kind.home]!.push(pod);
      } else {
        // Through the pool, where pods of one class are alike to the shards: the first with room.
        const counts = left.get(classOf(pod))!;
        const group = counts.findIndex((count) => count > 0);
        counts[group]!--;
        members[group]!.push(pod);
      }
    }
  }
  for (const pods of members) pods.sort((a, b) => a.ordinal - b.ordinal);
  return members;
}

/** The member that leads each shard, by shard. */
function chooseLeaders(input: LayoutInput, members: readonly PodNode[][]): PodNode[] {
  const { anchors } = input;
  const candidates = anchors.map((anchor, group) => {
    // Costs: [resets, masters sharing a zone, masters sharing a node, failovers, not the anchor].
    const options: Array<{ pod: PodNode; cost: number[] }> = [];
    if (input.holdsSlots(anchor)) {
      options.push({ pod: anchor, cost: [0, 0, 0, 0, 0] });
      for (const pod of members[group]!) {
        // Only a replica that follows the anchor now, as observed, with its link up: it is in sync.
        const follows = pod.role === 'replica' && pod.masterId === anchor.id && input.masterOf(pod) === anchor.id && pod.masterLinkUp === true;
        if (follows && !input.isFailing(pod) && !input.isFailing(anchor)) options.push({ pod, cost: [0, 0, 0, 1, 1] });
      }
    } else {
      // A new shard: any member but a master that still gives its slots away, best one without a reset.
      for (const pod of members[group]!) {
        const notAnchor = pod.id === anchor.id ? 0 : 1;
        if (input.isEmptyMaster(pod)) options.push({ pod, cost: [0, 0, 0, 0, notAnchor] });
        else if (input.masterOf(pod) !== null) options.push({ pod, cost: [1, 0, 0, 0, notAnchor] });
      }
      if (options.length === 0) throw new Error(`planner bug: no pod of the new shard of ${anchor.name} can lead it`);
    }
    return options;
  });
  const zoneKey = (pod: PodNode) => (zoneOf(pod) === undefined ? undefined : `zone\n${zoneOf(pod)}`);
  const nodeKey = (pod: PodNode) => (nodeOf(pod) === undefined ? undefined : `node\n${zoneOf(pod) ?? ''}\n${nodeOf(pod)}`);
  const reach = new Map<string, number>();
  for (const options of candidates) {
    for (const key of new Set(options.flatMap(({ pod }) => [zoneKey(pod), nodeKey(pod)]))) if (key) reach.set(key, (reach.get(key) ?? 0) + 1);
  }

  const network = new FlowNetwork(5);
  const source = network.addVertex();
  const sink = network.addVertex();
  const domainVertex = new Map<string, number>();
  const domainEntry = (key: string, level: 1 | 2, next: number): number => {
    let vertex = domainVertex.get(key);
    if (vertex === undefined) {
      vertex = network.addVertex();
      domainVertex.set(key, vertex);
      // The k-th master in one zone (node) shares it with k-1 others.
      for (let count = 0; count < reach.get(key)!; count++) {
        const cost = [0, 0, 0, 0, 0];
        cost[level] = count;
        network.addEdge(vertex, next, 1, cost);
      }
    }
    return vertex;
  };
  const entry = (pod: PodNode) => {
    const zone = zoneKey(pod) === undefined ? sink : domainEntry(zoneKey(pod)!, 1, sink);
    return nodeKey(pod) === undefined ? zone : domainEntry(nodeKey(pod)!, 2, zone);
  };
  const edges = candidates.map((options) => {
    const shardVertex = network.addVertex();
    network.addEdge(source, shardVertex, 1, [0, 0, 0, 0, 0]);
    return options.map(({ pod, cost }) => ({ pod, edge: network.addEdge(shardVertex, entry(pod), 1, cost) }));
  });
  if (network.minCostFlow(source, sink, anchors.length) !== anchors.length) throw new Error('planner bug: a shard has no leader');
  return edges.map((options) => options.find(({ edge }) => network.flowOn(edge) > 0)!.pod);
}
