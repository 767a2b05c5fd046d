// Example-based tests of shards over failure domains: where the pods run (zones, nodes) changes
// which pod replicates which master, and which member leads each shard.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { planPhase } from '../../jobs/plan/index';
import type { Placement } from '../../jobs/plan/model';
import { apply, toView, type SimCluster, type SimNode } from '../support/cluster-simulator';

const id = (ordinal: number) => `node${String(ordinal).padStart(2, '0')}`;

/** Pods from a spec: 'mN@zone/node' master with the next N slots, 'rK@...' replica of pod K, 'fresh@...'; '@' part optional. */
function cluster(...spec: string[]): SimCluster {
  const nodes: SimNode[] = spec.map((entry, ordinal) => {
    const [kind, where] = entry.split('@') as [string, string | undefined];
    const [zone, node] = (where ?? '').split('/');
    const placement: Placement | undefined = where === undefined ? undefined : { ...(zone ? { zone } : {}), ...(node ? { node } : {}) };
    return {
      ordinal,
      id: id(ordinal),
      inCluster: kind !== 'fresh',
      role: kind.startsWith('r') ? 'replica' : 'master',
      masterId: kind.startsWith('r') ? id(Number(kind.slice(1))) : null,
      owned: new Set<number>(),
      keys: new Map<number, number>(),
      migrating: {},
      importing: {},
      placement,
    };
  });
  let slot = 0;
  spec.forEach((entry, ordinal) => {
    if (!entry.startsWith('m')) return;
    for (const end = slot + Number(entry.split('@')[0]!.slice(1)); slot < end; slot++) {
      nodes[ordinal]!.owned.add(slot);
      nodes[ordinal]!.keys.set(slot, 1);
    }
  });
  return { nodes, strangers: [], migratedSlots: 0 };
}

/** "0,1 2,3 4,5": each master with its replicas, masters first. */
function shards(state: SimCluster): string {
  return state.nodes
    .filter((node) => node.inCluster && node.role === 'master')
    .map((master) => [master, ...state.nodes.filter((node) => node.role === 'replica' && node.masterId === master.id)].map((node) => node.ordinal).join(','))
    .join(' ');
}

const shape = { masters: 3, replicasPerMaster: 1 };

test('bootstrap: shard blocks stay consecutive where the scheduler already spread them', () => {
  const state = cluster('fresh@a', 'fresh@b', 'fresh@c', 'fresh@a', 'fresh@b', 'fresh@c');
  const plan = planPhase(toView(state), shape, 'post');
  const unplaced = planPhase(toView(cluster('fresh', 'fresh', 'fresh', 'fresh', 'fresh', 'fresh')), shape, 'post');
  assert.deepEqual(plan.steps, unplaced.steps);
  assert.equal(shards(apply(state, plan.steps)), '0,1 2,3 4,5');
});

test('bootstrap: pods of one block in one zone are paired across zones, masters one per zone', () => {
  const state = cluster('fresh@a', 'fresh@a', 'fresh@b', 'fresh@b', 'fresh@c', 'fresh@c');
  const plan = planPhase(toView(state), shape, 'post');
  const after = apply(state, plan.steps);
  for (const group of shards(after).split(' ')) {
    const [first, second] = group.split(',').map((ordinal) => state.nodes[Number(ordinal)]!.placement!.zone);
    assert.notEqual(first, second, `shard ${group} is in one zone`);
  }
  const masterZones = after.nodes.filter((node) => node.role === 'master').map((node) => node.placement!.zone);
  assert.deepEqual(masterZones.sort(), ['a', 'b', 'c']);
  assert.ok(!plan.steps.some((step) => step.kind === 'failover'), 'a new cluster needs no failover');
});

test('an existing cluster: two shards each in one zone swap their replicas (two REPLICATE, no slot moves)', () => {
  const state = cluster('m5462@a', 'r0@a', 'm5461@b', 'r2@b', 'm5461@c', 'r4@a');
  const plan = planPhase(toView(state), shape, 'post');
  assert.deepEqual(plan.steps, [
    { kind: 'replicate', node: 'node01', master: 'node02' },
    { kind: 'replicate', node: 'node03', master: 'node00' },
  ]);
  assert.deepEqual(plan.notes, [
    'pods 1,3 follow another master, so that the shards spread over zones (0 a + 3 b; 1 a + 2 b; 4 c + 5 a); each resyncs from its new master, no slot moves',
  ]);
  const after = apply(state, plan.steps);
  assert.equal(shards(after), '0,3 2,1 4,5');
  assert.deepEqual(planPhase(toView(after), shape, 'post').steps, []);
});

test('one zone: members go to different nodes', () => {
  const state = cluster('m5462@a/n1', 'r0@a/n1', 'm5461@a/n2', 'r2@a/n2', 'm5461@a/n3', 'r4@a/n3');
  const after = apply(state, planPhase(toView(state), shape, 'post').steps);
  for (const group of shards(after).split(' ')) {
    const nodes = group.split(',').map((ordinal) => state.nodes[Number(ordinal)]!.placement!.node);
    assert.equal(new Set(nodes).size, 2, `shard ${group} is on one node`);
  }
});

test('pods on virtual nodes (zones only): the zone alone decides, blocks kept where they span zones', () => {
  const state = cluster('fresh@a', 'fresh@a', 'fresh@a', 'fresh@b', 'fresh@b', 'fresh@b');
  const after = apply(state, planPhase(toView(state), shape, 'post').steps);
  // Pods 2 and 3 form a block across zones a and b; the others pair across the zones.
  assert.equal(shards(after), '0,5 2,3 4,1');
});

test('when no layout can spread a shard, the plan says which and why', () => {
  // Five of six pods in zone a: with three shards of two, at most three pods may run in one zone.
  const state = cluster('fresh@a', 'fresh@a', 'fresh@a', 'fresh@a', 'fresh@a', 'fresh@b');
  const plan = planPhase(toView(state), shape, 'post');
  const after = apply(state, plan.steps);
  const inOneZone = shards(after)
    .split(' ')
    .filter((group) => group.split(',').every((ordinal) => state.nodes[Number(ordinal)]!.placement!.zone === 'a'));
  assert.equal(inOneZone.length, 2, 'one shard takes the pod in zone b, the other two cannot');
  const notes = plan.notes.filter((note) => /has every member in zone a/.test(note));
  assert.equal(notes.length, 2, plan.notes.join('\n'));
  assert.match(notes[0]!, /5 of the 6 pods run in zone a, and with 3 shards of 2 at most 3 may, for each shard to have a member elsewhere/);

  const allOnOne = cluster('fresh@a/n1', 'fresh@a/n1', 'fresh@a/n1', 'fresh@a/n1', 'fresh@a/n1', 'fresh@a/n1');
  assert.deepEqual(planPhase(toView(allOnOne), shape, 'post').notes, [
    'every pod runs in zone a on node n1: the shards cannot be spread over failure domains',
    'no cluster yet: bootstrapping 6 pods',
  ]);
});

test('masters crowded in one zone: a failover (no data moves) spreads them, at the end of the plan', () => {
  const state = cluster('m5462@a', 'r0@b', 'm5461@a', 'r2@c', 'm5461@b', 'r4@c');
  const plan = planPhase(toView(state), shape, 'post');
  assert.deepEqual(plan.steps, [{ kind: 'failover', replica: 'node03', master: 'node02' }]);
  assert.deepEqual(plan.notes, ['pod 3 takes over from pod 2 as master (a failover, no data moves), so that the masters spread over zones (a: 1, c: 1, b: 1)']);
  const after = apply(state, plan.steps);
  assert.deepEqual(planPhase(toView(after), shape, 'post').steps, []);

  // A replica whose link to its master is down is not in sync: no failover to it. Here the other two
  // shards fail over instead (masters b, a, c), as spreading is worth two failovers.
  const view = toView(state);
  const syncing = { ...view, pods: view.pods.map((pod) => (pod.ordinal === 3 ? { ...pod, masterLinkUp: false } : pod)) };
  assert.deepEqual(planPhase(syncing, shape, 'post').steps, [
    { kind: 'failover', replica: 'node01', master: 'node00' },
    { kind: 'failover', replica: 'node05', master: 'node04' },
  ]);
  const noneInSync = { ...view, pods: view.pods.map((pod) => ({ ...pod, masterLinkUp: false })) };
  assert.deepEqual(planPhase(noneInSync, shape, 'post').steps, []);
});

test('placement unknown (no Kubernetes API): the plan is what it always was', () => {
  const placed = cluster('m5462@a', 'r0@a', 'm5461@b', 'r2@b', 'm5461@c', 'r4@a');
  const unknown = cluster('m5462', 'r0', 'm5461', 'r2', 'm5461', 'r4');
  assert.deepEqual(planPhase(toView(unknown), shape, 'post').steps, []);
  assert.notDeepEqual(planPhase(toView(placed), shape, 'post').steps, []);
});

test('two replicas per master over three zones: every shard has one member in each zone', () => {
  const zones = ['a', 'a', 'a', 'b', 'b', 'b', 'c', 'c', 'c'];
  const state = cluster(...zones.map((zone, ordinal) => `fresh@${zone}/n${ordinal}`));
  const plan = planPhase(toView(state), { masters: 3, replicasPerMaster: 2 }, 'post');
  for (const group of shards(apply(state, plan.steps)).split(' ')) {
    assert.deepEqual(
      group
        .split(',')
        .map((ordinal) => zones[Number(ordinal)])
        .sort(),
      ['a', 'b', 'c'],
      `shard ${group}`,
    );
  }
  assert.deepEqual(plan.notes, ['no cluster yet: bootstrapping 9 pods']);
});
