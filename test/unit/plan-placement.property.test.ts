// Property tests for shards over failure domains: generated clusters with generated placements
// (zones, nodes, some pods unknown), the plan applied to the independent simulator, and the result
// judged against what a brute-force search over every grouping of the pods says is possible.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { desiredPodCount } from '../../jobs/contract';
import type { DesiredShape, Placement } from '../../jobs/plan/model';
import { planPhase } from '../../jobs/plan/index';
import { shapeProblems } from '../../jobs/plan/shape';
import { slotCount } from '../../jobs/plan/slots';
import { apply, toView, type SimCluster, type SimNode } from '../support/cluster-simulator';

type Level = 'zone' | 'node';
type State = 'bootstrap' | 'steady' | 'grow' | 'scrambled';

interface Scenario {
  desired: DesiredShape;
  state: State;
  cluster: SimCluster;
}

const id = (ordinal: number) => `node${String(ordinal).padStart(2, '0')}`;

/** Pods 0..D-1 (D <= 12, so that every grouping can be searched), in a state, with placements. */
const scenario = fc
  .record({
    masters: fc.integer({ min: 3, max: 4 }),
    replicas: fc.integer({ min: 1, max: 2 }),
    state: fc.constantFrom<State>('bootstrap', 'steady', 'grow', 'scrambled'),
    zones: fc.integer({ min: 1, max: 3 }),
    nodesPerZone: fc.integer({ min: 1, max: 3 }),
    where: fc.array(fc.record({ zone: fc.nat(2), node: fc.nat(2), known: fc.nat(15) }), { minLength: 12, maxLength: 12 }),
    shuffle: fc.array(fc.nat(1000), { minLength: 12, maxLength: 12 }),
    picks: fc.array(fc.nat(11), { minLength: 12, maxLength: 12 }),
  })
  .filter(({ masters, replicas }) => desiredPodCount({ masters, replicasPerMaster: replicas }) <= 12)
  .map((input): Scenario => {
    const desired = { masters: input.masters, replicasPerMaster: input.replicas };
    const pods = desiredPodCount(desired);
    const nodes: SimNode[] = Array.from({ length: pods }, (_, ordinal) => {
      const where = input.where[ordinal]!;
      const zone = `z${where.zone % input.zones}`;
      const placement: Placement | undefined = where.known === 0 ? undefined : { zone, node: `${zone}-n${where.node % input.nodesPerZone}` };
      return {
        ordinal,
        id: id(ordinal),
        inCluster: false,
        role: 'master',
        masterId: null,
        owned: new Set(),
        keys: new Map(),
        migrating: {},
        importing: {},
        placement,
      };
    });
    if (input.state !== 'bootstrap') {
      // Holders at shuffled ordinals; each slot range with a few keys.
      const order = [...nodes].sort((a, b) => input.shuffle[a.ordinal]! - input.shuffle[b.ordinal]! || a.ordinal - b.ordinal);
      const holderCount = input.state === 'grow' ? input.masters - 1 : input.masters;
      const holders = order.slice(0, holderCount);
      holders.forEach((holder, index) => {
        holder.inCluster = true;
        for (let slot = index; slot < slotCount; slot += holderCount) {
          holder.owned.add(slot);
          if (slot % 97 === 0) holder.keys.set(slot, 1);
        }
      });
      const rest = order.slice(holderCount);
      const replicaCount = input.state === 'grow' ? holderCount * input.replicas : rest.length;
      rest.slice(0, replicaCount).forEach((pod, index) => {
        pod.inCluster = true;
        pod.role = 'replica';
        // steady: R each, grouped by the shuffle; scrambled: any holder.
        const master = input.state === 'scrambled' ? holders[input.picks[pod.ordinal]! % holderCount]! : holders[index % holderCount]!;
        pod.masterId = master.id;
        pod.keys = new Map(master.keys);
      });
    }
    const cluster: SimCluster = { nodes, strangers: [], migratedSlots: 0 };
    const printable = { desired, state: input.state, cluster };
    return Object.defineProperty(printable, fc.toStringMethod, { value: () => describe(desired, input.state, cluster) });
  });

function describe(desired: DesiredShape, state: State, cluster: SimCluster): string {
  const pods = cluster.nodes.map((node) => {
    const role = !node.inCluster ? 'fresh' : node.role === 'replica' ? `r->${node.masterId!.slice(4)}` : `m(${node.owned.size})`;
    return `${node.ordinal}:${role}@${node.placement?.node ?? '?'}`;
  });
  return `want ${desired.masters}x${desired.replicasPerMaster} (${state}): ${pods.join(' ')}`;
}

const domainOf = (node: SimNode, level: Level) => (level === 'zone' ? node.placement?.zone : node.placement?.node);

/** The shards of a result: each master with its replicas, as sets of ordinals. */
function shardsOf(cluster: SimCluster): SimNode[][] {
  const masters = cluster.nodes.filter((node) => node.inCluster && node.role === 'master');
  return masters.map((master) => [master, ...cluster.nodes.filter((node) => node.role === 'replica' && node.masterId === master.id)]);
}

function inOneDomain(shard: readonly SimNode[], level: Level): boolean {
  const domains = new Set(shard.map((node) => domainOf(node, level)));
  return domains.size === 1 && !domains.has(undefined);
}

/** Same-domain pairs in a shard. */
function pairs(shard: readonly SimNode[], level: Level): number {
  let count = 0;
  shard.forEach((node, index) => {
    for (const other of shard.slice(index + 1)) if (domainOf(node, level) !== undefined && domainOf(node, level) === domainOf(other, level)) count++;
  });
  return count;
}

/** Every way to split the pods into shards of `size` with at most one data-holding master each (brute force). */
function* groupings(pods: readonly SimNode[], size: number, holds: (node: SimNode) => boolean): Generator<SimNode[][]> {
  if (pods.length === 0) {
    yield [];
    return;
  }
  const [first, ...rest] = pods;
  const choose = function* (from: readonly SimNode[], count: number): Generator<SimNode[]> {
    if (count === 0) {
      yield [];
      return;
    }
    for (let index = 0; index <= from.length - count; index++) for (const tail of choose(from.slice(index + 1), count - 1)) yield [from[index]!, ...tail];
  };
  for (const companions of choose(rest, size - 1)) {
    const group = [first!, ...companions];
    if (group.filter(holds).length > 1) continue;
    for (const others of groupings(
      rest.filter((node) => !companions.includes(node)),
      size,
      holds,
    ))
      yield [group, ...others];
  }
}

/** The level the planner is judged at: zones where pods run in two or more, else nodes, else none. */
function levelOf(cluster: SimCluster): Level | undefined {
  const distinct = (level: Level) => new Set(cluster.nodes.flatMap((node) => domainOf(node, level) ?? [])).size;
  return distinct('zone') >= 2 ? 'zone' : distinct('node') >= 2 ? 'node' : undefined;
}

function runPost(cluster: SimCluster, desired: DesiredShape) {
  const plan = planPhase(toView(cluster), desired, 'post');
  const result = apply(cluster, plan.steps);
  assert.deepEqual(shapeProblems(toView(result), desired, 'post'), []);
  // Failovers that spread the masters may follow once the replicas attached are in sync; then nothing.
  const again = planPhase(toView(result), desired, 'post');
  assert.ok(
    again.steps.every((step) => step.kind === 'failover'),
    `re-planning gives more than failovers: ${JSON.stringify(again.steps)}`,
  );
  const settled = apply(result, again.steps);
  assert.deepEqual(planPhase(toView(settled), desired, 'post').steps, []);
  return { plan, result, settled };
}

test('post: no shard in one failure domain whenever some grouping of the pods has none, and a note naming each one left', () => {
  let spreadPossible = 0;
  let notPossible = 0;
  fc.assert(
    fc.property(scenario, ({ desired, cluster }) => {
      const { plan, result, settled } = runPost(cluster, desired);
      const level = levelOf(cluster);
      if (level === undefined) {
        if (cluster.nodes.some((node) => node.placement))
          assert.ok(
            plan.notes.some((note) => /cannot be spread/.test(note)),
            plan.notes.join('\n'),
          );
        return;
      }
      const holds = (node: SimNode) => node.owned.size > 0;
      let exists = false;
      for (const grouping of groupings(cluster.nodes, 1 + desired.replicasPerMaster, holds)) {
        if (grouping.every((group) => !inOneDomain(group, level))) {
          exists = true;
          break;
        }
      }
      const inOne = shardsOf(result).filter((shard) => inOneDomain(shard, level));
      if (exists) {
        spreadPossible++;
        assert.deepEqual(
          inOne.map((shard) => shard.map((node) => node.ordinal)),
          [],
          `a spread exists, yet these shards are each in one ${level}`,
        );
      } else {
        notPossible++;
        assert.ok(inOne.length > 0, 'the search found no spread, but the planner did');
        for (const shard of inOne) {
          const ordinals = shard.map((node) => node.ordinal).sort((a, b) => a - b);
          const note = plan.notes.find((text) => text.includes(`(pods ${ordinals.join(',')}) has every member in ${level}`));
          assert.ok(note, `no note names the shard of pods ${ordinals.join(',')}; notes:\n${plan.notes.join('\n')}`);
        }
      }
      // Failovers move no pod between shards.
      assert.deepEqual(
        shardsOf(settled)
          .map((shard) => shard.map((node) => node.ordinal).sort((a, b) => a - b))
          .sort(),
        shardsOf(result)
          .map((shard) => shard.map((node) => node.ordinal).sort((a, b) => a - b))
          .sort(),
      );
    }),
    { numRuns: 150 },
  );
  // Both kinds of cases occur, or the test proves little.
  assert.ok(spreadPossible > 20 && notPossible > 3, `spread possible ${spreadPossible}, not possible ${notPossible}`);
});

test('post: the best spread any grouping of the pods reaches, with the fewest replicas re-pointed', () => {
  fc.assert(
    fc.property(scenario, ({ desired, cluster }) => {
      const { result } = runPost(cluster, desired);
      const holds = (node: SimNode) => node.owned.size > 0;
      const masterOf = (node: SimNode) => cluster.nodes.find((other) => other.id === node.masterId && holds(other));
      // [shards in one zone, zone pairs, shards on one node, node pairs, replicas re-pointed]: lower is better, in that order.
      const score = (groups: readonly SimNode[][]) => [
        groups.filter((group) => inOneDomain(group, 'zone')).length,
        groups.reduce((sum, group) => sum + pairs(group, 'zone'), 0),
        groups.filter((group) => inOneDomain(group, 'node')).length,
        groups.reduce((sum, group) => sum + pairs(group, 'node'), 0),
        cluster.nodes.filter((node) => {
          const master = masterOf(node);
          return master !== undefined && !groups.some((group) => group.includes(node) && group.includes(master));
        }).length,
      ];
      let best: number[] | undefined;
      for (const grouping of groupings(cluster.nodes, 1 + desired.replicasPerMaster, holds)) {
        const candidate = score(grouping);
        if (!best || compare(candidate, best) < 0) best = candidate;
      }
      const got = score(shardsOf(result).map((shard) => shard.map((node) => cluster.nodes[node.ordinal]!)));
      assert.deepEqual(got, best, '[one zone, zone pairs, one node, node pairs, re-pointed]');
    }),
    { numRuns: 100 },
  );
});

function compare(a: readonly number[], b: readonly number[]): number {
  for (let index = 0; index < a.length; index++) if (a[index] !== b[index]) return a[index]! - b[index]!;
  return 0;
}
