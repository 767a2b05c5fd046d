// An abstract, in-memory Redis Cluster that applies planner steps with the semantics the real
// commands have (independent of the planner's own bookkeeping), and asserts their preconditions.
import type { ClusterView, Placement, PodNode, Step } from '../../jobs/plan/model';
import { slotCount } from '../../jobs/plan/slots';

export interface SimNode {
  ordinal: number;
  id: string;
  inCluster: boolean;
  role: 'master' | 'replica';
  masterId: string | null;
  /** slot -> keys; presence = owned (masters only). */
  owned: Set<number>;
  keys: Map<number, number>;
  migrating: Record<number, string>;
  importing: Record<number, string>;
  /** Where the pod runs (stays with the pod, whatever its role); absent = unknown. */
  placement?: Placement;
}

export interface SimCluster {
  nodes: SimNode[];
  strangers: Array<{ id: string; unreachable: boolean }>;
  /** Slots moved by migrate steps, for least-movement checks. */
  migratedSlots: number;
}

export function toView(cluster: SimCluster): ClusterView {
  const members = cluster.nodes.filter((node) => node.inCluster);
  const pods: PodNode[] = cluster.nodes.map((node) => {
    const keysBySlot: Record<number, number> = {};
    for (const [slot, count] of node.keys) if (count > 0) keysBySlot[slot] = count;
    const keyCount = [...node.keys.values()].reduce((sum, count) => sum + count, 0);
    return {
      ordinal: node.ordinal,
      name: `pod ${node.ordinal}`,
      ip: `127.0.9.${node.ordinal + 1}`,
      port: 6379,
      id: node.id,
      role: node.role,
      masterId: node.masterId,
      slots: node.role === 'master' ? [...node.owned].sort((a, b) => a - b) : [],
      migrating: { ...node.migrating },
      importing: { ...node.importing },
      knows: node.inCluster ? [...members.filter((other) => other !== node).map((other) => other.id), ...cluster.strangers.map((stranger) => stranger.id)] : [],
      failing: node.inCluster ? cluster.strangers.filter((stranger) => stranger.unreachable).map((stranger) => stranger.id) : [],
      handshakes: 0,
      keyCount: node.role === 'master' ? keyCount : 0,
      keysBySlot: node.role === 'master' ? keysBySlot : {},
      usedMemory: keyCount * 100,
      maxMemory: 0,
      maxMemoryPolicy: 'noeviction',
      evictedKeys: 0,
      // The simulator's replicas are always in sync.
      ...(node.role === 'replica' ? { masterLinkUp: true } : {}),
      ...(node.placement ? { placement: { ...node.placement } } : {}),
    };
  });
  return {
    pods,
    strangers: cluster.strangers.map((stranger) => ({
      id: stranger.id,
      address: '10.0.0.1:6379',
      knownBy: members.map((node) => node.ordinal),
      unreachable: stranger.unreachable,
      slots: [],
    })),
  };
}

export function clone(cluster: SimCluster): SimCluster {
  return {
    nodes: cluster.nodes.map((node) => ({
      ...node,
      owned: new Set(node.owned),
      keys: new Map(node.keys),
      migrating: { ...node.migrating },
      importing: { ...node.importing },
    })),
    strangers: cluster.strangers.map((stranger) => ({ ...stranger })),
    migratedSlots: cluster.migratedSlots,
  };
}

function fail(message: string): never {
  throw new Error(`simulator: ${message}`);
}

export function apply(cluster: SimCluster, steps: readonly Step[]): SimCluster {
  const next = clone(cluster);
  const byId = (id: string) => next.nodes.find((node) => node.id === id) ?? fail(`unknown node ${id}`);
  const ownerOf = (slot: number) => next.nodes.find((node) => node.role === 'master' && node.owned.has(slot));
  const moveKeys = (from: SimNode, to: SimNode, slot: number) => {
    const count = from.keys.get(slot) ?? 0;
    from.keys.delete(slot);
    if (count > 0) to.keys.set(slot, (to.keys.get(slot) ?? 0) + count);
  };
  const follow = (oldMaster: SimNode, newMaster: SimNode) => {
    for (const node of next.nodes) if (node.role === 'replica' && node.masterId === oldMaster.id) node.masterId = newMaster.id;
  };
  for (const [index, step] of steps.entries()) {
    switch (step.kind) {
      case 'repairOpenSlot': {
        const owner = byId(step.owner);
        for (const node of next.nodes) {
          delete node.migrating[step.slot];
          delete node.importing[step.slot];
          if (node !== owner && node.role === 'master') {
            node.owned.delete(step.slot);
            moveKeys(node, owner, step.slot);
          }
        }
        if (owner.role !== 'master') fail(`fix owner ${owner.ordinal} is a replica`);
        owner.owned.add(step.slot);
        break;
      }
      case 'forget':
        next.strangers = next.strangers.filter((stranger) => stranger.id !== step.node);
        break;
      case 'failover': {
        const replica = byId(step.replica);
        const master = byId(step.master);
        if (replica.role !== 'replica' || replica.masterId !== master.id) fail(`failover: ${replica.ordinal} is not a replica of ${master.ordinal}`);
        replica.role = 'master';
        replica.masterId = null;
        replica.owned = master.owned;
        replica.keys = master.keys;
        master.owned = new Set();
        master.keys = new Map(replica.keys);
        follow(master, replica);
        master.role = 'replica';
        master.masterId = replica.id;
        break;
      }
      case 'addSlots': {
        const node = byId(step.node);
        if (node.role !== 'master' || !node.inCluster) fail(`assignSlots to ${node.ordinal}, not a master in the cluster`);
        for (const slot of step.slots) {
          const owner = ownerOf(slot);
          if (owner && owner !== node) fail(`slot ${slot} already owned by ${owner.ordinal}`);
          node.owned.add(slot);
        }
        break;
      }
      case 'meet': {
        const node = byId(step.node);
        const via = byId(step.via);
        if (node.inCluster && via.inCluster) fail(`meet: ${node.ordinal} already in the cluster`);
        node.inCluster = true;
        via.inCluster = true;
        break;
      }
      case 'makeEmptyMaster': {
        const node = byId(step.node);
        if (node.role !== 'replica') fail(`makeEmptyMaster on ${node.ordinal}, not a replica`);
        node.role = 'master';
        node.masterId = null;
        node.keys = new Map();
        break;
      }
      case 'rejoinAsNew': {
        const node = byId(step.node);
        if (node.inCluster || node.owned.size > 0) fail(`rejoinAsNew on ${node.ordinal}, in the cluster or owning slots`);
        node.id = `${node.id}-new`;
        node.role = 'master';
        node.masterId = null;
        node.keys = new Map();
        node.inCluster = true;
        byId(step.via).inCluster = true;
        break;
      }
      case 'migrate': {
        const before = new Map(next.nodes.map((node) => [node.id, node.owned.size]));
        const lastTarget = new Map<string, SimNode>();
        for (const move of step.moves) {
          const from = byId(move.from);
          const to = byId(move.to);
          if (to.role !== 'master' || !to.inCluster) fail(`migrate to ${to.ordinal}, not a master in the cluster`);
          for (const slot of move.slots) {
            if (!from.owned.has(slot)) fail(`migrate slot ${slot} from ${from.ordinal}, which does not own it`);
            from.owned.delete(slot);
            to.owned.add(slot);
            moveKeys(from, to, slot);
            next.migratedSlots++;
          }
          lastTarget.set(from.id, to);
        }
        // Redis 7: a master that gave away its last slot replicates the receiver (and so do its replicas).
        for (const node of next.nodes) {
          if (node.role === 'master' && before.get(node.id)! > 0 && node.owned.size === 0) {
            const to = lastTarget.get(node.id)!;
            follow(node, to);
            node.role = 'replica';
            node.masterId = to.id;
          }
        }
        // Replicas attached before the move receive the moved keys as they arrive.
        for (const node of next.nodes) {
          const master = node.role === 'replica' ? next.nodes.find((other) => other.id === node.masterId) : undefined;
          if (master?.role === 'master') node.keys = new Map(master.keys);
        }
        break;
      }
      case 'replicate': {
        const node = byId(step.node);
        const master = byId(step.master);
        if (node.owned.size > 0) fail(`replicate: ${node.ordinal} still owns slots`);
        if (master.role !== 'master') fail(`replicate: ${master.ordinal} is not a master`);
        if (node.role === 'master' && next.nodes.some((other) => other.role === 'replica' && other.masterId === node.id && other !== master)) {
          // Redis allows it; the orphaned replicas are the planner's business (checked at the end).
        }
        node.role = 'replica';
        node.masterId = master.id;
        node.keys = new Map(master.keys);
        break;
      }
      case 'removeNode': {
        const node = byId(step.node);
        if (node.role === 'master' && node.owned.size > 0) fail(`removeNode: ${node.ordinal} still owns slots`);
        // Consecutive removals run together (all reset, then all forgotten).
        const batch = new Set<string>();
        for (let first = index; first >= 0 && steps[first]!.kind === 'removeNode'; first--) batch.add((steps[first] as { node: string }).node);
        for (let last = index; last < steps.length && steps[last]!.kind === 'removeNode'; last++) batch.add((steps[last] as { node: string }).node);
        const remaining = (other: SimNode) => other.inCluster && !batch.has(other.id) && !batch.has(`${other.id}`.replace(/-reset$/, ''));
        if (next.nodes.some((other) => remaining(other) && other !== node && other.role === 'replica' && other.masterId === node.id)) {
          fail(`removeNode: ${node.ordinal} is still the master of another node (CLUSTER FORGET would refuse)`);
        }
        node.id = `${node.id}-reset`;
        node.inCluster = false;
        node.role = 'master';
        node.masterId = null;
        node.owned = new Set();
        node.keys = new Map();
        node.migrating = {};
        node.importing = {};
        break;
      }
    }
  }
  return next;
}

export function totalKeys(cluster: SimCluster): number {
  let total = 0;
  for (const node of cluster.nodes) if (node.role === 'master') for (const count of node.keys.values()) total += count;
  return total;
}

export function owners(cluster: SimCluster): Array<SimNode | undefined> {
  const result: Array<SimNode | undefined> = new Array(slotCount).fill(undefined);
  for (const node of cluster.nodes) if (node.role === 'master') for (const slot of node.owned) result[slot] = node;
  return result;
}
