// Example-based planner tests: the seed's stories and the open-slot cases, step by step.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { planPhase } from '../../jobs/plan/index';
import { checkCapacity } from '../../jobs/plan/capacity';
import { TopologyError } from '../../jobs/errors';
import type { Step } from '../../jobs/plan/model';
import { apply, toView, type SimCluster, type SimNode } from '../support/cluster-simulator';

/** Pods from a spec: 'mN' master with the next N slots, 'rK' replica of pod K, 'fresh'. */
function cluster(...spec: string[]): SimCluster {
  const id = (ordinal: number) => `node${String(ordinal).padStart(2, '0')}`;
  const nodes: SimNode[] = spec.map((kind, ordinal) => ({
    ordinal,
    id: id(ordinal),
    inCluster: kind !== 'fresh',
    role: kind.startsWith('r') ? 'replica' : 'master',
    masterId: kind.startsWith('r') ? id(Number(kind.slice(1))) : null,
    owned: new Set<number>(),
    keys: new Map<number, number>(),
    migrating: {},
    importing: {},
  }));
  let slot = 0;
  spec.forEach((kind, ordinal) => {
    if (!kind.startsWith('m')) return;
    for (const end = slot + Number(kind.slice(1)); slot < end; slot++) {
      nodes[ordinal]!.owned.add(slot);
      nodes[ordinal]!.keys.set(slot, 2);
    }
  });
  return { nodes, strangers: [], migratedSlots: 0 };
}

const kinds = (steps: readonly Step[]) => steps.map((step) => step.kind);
const seed = () => cluster('m5462', 'r0', 'm5461', 'r2', 'm5461', 'r4');

test('bootstrap: shards are consecutive ordinals, master first', () => {
  const fresh = cluster('fresh', 'fresh', 'fresh', 'fresh', 'fresh', 'fresh');
  const plan = planPhase(toView(fresh), { masters: 3, replicasPerMaster: 1 }, 'post');
  const assigned = plan.steps.flatMap((step) => (step.kind === 'addSlots' ? [[step.node, step.slots.length]] : []));
  assert.deepEqual(assigned, [
    ['node00', 5462],
    ['node02', 5461],
    ['node04', 5461],
  ]);
  const replicas = plan.steps.flatMap((step) => (step.kind === 'replicate' ? [[step.node, step.master]] : []));
  assert.deepEqual(replicas, [
    ['node01', 'node00'],
    ['node03', 'node02'],
    ['node05', 'node04'],
  ]);
});

test('the seed growth: pod 6 becomes the new master, pod 7 its replica (attached before data moves), only surpluses move', () => {
  const grown = seed();
  grown.nodes.push(...cluster('m0', 'm0', 'm0', 'm0', 'm0', 'm0', 'fresh', 'fresh').nodes.slice(6));
  const plan = planPhase(toView(grown), { masters: 4, replicasPerMaster: 1 }, 'post');
  assert.deepEqual(kinds(plan.steps), ['meet', 'meet', 'replicate', 'migrate']);
  assert.deepEqual(plan.steps[2], { kind: 'replicate', node: 'node07', master: 'node06' });
  const migrate = plan.steps[3]!;
  assert.ok(migrate.kind === 'migrate');
  assert.ok(migrate.moves.every((move) => move.to === 'node06'));
  assert.equal(
    migrate.moves.reduce((sum, move) => sum + move.slots.length, 0),
    4096,
  );
});

test('the seed shrink: pre drains pods 6 and 7 evenly and removes them; post then has nothing to do', () => {
  const big = cluster('m4096', 'r0', 'm4096', 'r2', 'm4096', 'r4', 'm4096', 'r6');
  const desired = { masters: 3, replicasPerMaster: 1 };
  const pre = planPhase(toView(big), desired, 'pre');
  assert.deepEqual(kinds(pre.steps), ['migrate', 'removeNode', 'removeNode']);
  const counts = new Map<string, number>();
  for (const move of (pre.steps[0] as Extract<Step, { kind: 'migrate' }>).moves) counts.set(move.to, (counts.get(move.to) ?? 0) + move.slots.length);
  assert.deepEqual([...counts.values()].sort(), [1365, 1365, 1366]);
  const after = apply(big, pre.steps);
  assert.deepEqual(planPhase(toView(after), desired, 'post').steps, []);
});

test('a removed master whose replica stays is failed over, no data moves', () => {
  // M=3,R=1 -> M=3,R=0: pods 3..5 leave; pod 3's... here pod 4 (a master) has its replica at pod 2.
  const state = cluster('m5462', 'r0', 'r4', 'fresh', 'm5461', 'm5461');
  state.nodes[3]!.inCluster = false;
  const plan = planPhase(toView(state), { masters: 3, replicasPerMaster: 0 }, 'pre');
  assert.deepEqual(kinds(plan.steps).slice(0, 1), ['failover']);
  assert.ok(!kinds(plan.steps).includes('migrate') || plan.steps.some((step) => step.kind === 'migrate' && step.moves.every((move) => move.from === 'node05')));
});

test('replicas 1 -> 2 adds replicas without moving slots; 2 -> 1 removes them the same way', () => {
  const withNew = seed();
  withNew.nodes.push(...cluster('m0', 'm0', 'm0', 'm0', 'm0', 'm0', 'fresh', 'fresh', 'fresh').nodes.slice(6));
  const desired = { masters: 3, replicasPerMaster: 2 };
  const plan = planPhase(toView(withNew), desired, 'post');
  assert.ok(!kinds(plan.steps).includes('migrate'));
  const after = apply(withNew, plan.steps);
  const back = planPhase(toView(after), { masters: 3, replicasPerMaster: 1 }, 'pre');
  assert.deepEqual(kinds(back.steps), ['removeNode', 'removeNode', 'removeNode']);
});

test('too many masters: the extra one is drained and becomes a replica', () => {
  const state = cluster('m4096', 'm4096', 'm4096', 'm4096', 'r0', 'r1');
  const plan = planPhase(toView(state), { masters: 3, replicasPerMaster: 1 }, 'post');
  assert.deepEqual(kinds(plan.steps), ['migrate', 'replicate']);
  assert.deepEqual(plan.steps[1], { kind: 'replicate', node: 'node03', master: 'node02' });
});

test('too few masters: a replica is turned into an empty master', () => {
  const state = cluster('m8192', 'r0', 'm8192', 'r2', 'r0', 'r2');
  const plan = planPhase(toView(state), { masters: 3, replicasPerMaster: 1 }, 'post');
  assert.equal(plan.steps[0]!.kind, 'makeEmptyMaster');
});

test('open slots are finished the way redis-cli --cluster fix does', () => {
  const state = cluster('m5462', 'm5461', 'm5461');
  state.nodes[0]!.migrating[7] = 'node01';
  state.nodes[1]!.importing[7] = 'node00';
  state.nodes[1]!.keys.set(7, 1);
  let plan = planPhase(toView(state), { masters: 3, replicasPerMaster: 0 }, 'post');
  assert.deepEqual(plan.steps[0], {
    kind: 'repairOpenSlot',
    slot: 7,
    owner: 'node01',
    claim: false,
    extraOwners: [],
    flagged: ['node00', 'node01'],
    mode: 'complete',
    from: ['node00'],
    reason: 'slot 7 was being migrated from pod 0 to pod 1: finishing the migration',
  });
  // Importing only (the run died before MIGRATING): the owner keeps it.
  delete state.nodes[0]!.migrating[7];
  plan = planPhase(toView(state), { masters: 3, replicasPerMaster: 0 }, 'post');
  assert.equal((plan.steps[0] as Extract<Step, { kind: 'repairOpenSlot' }>).mode, 'toOwner');
  assert.equal((plan.steps[0] as Extract<Step, { kind: 'repairOpenSlot' }>).owner, 'node00');
  // Migrating only, target already owns it (died after SETSLOT NODE on the target): close.
  state.nodes[1]!.importing = {};
  state.nodes[0]!.owned.delete(7);
  state.nodes[0]!.keys.delete(7);
  state.nodes[1]!.owned.add(7);
  state.nodes[0]!.migrating[7] = 'node01';
  plan = planPhase(toView(state), { masters: 3, replicasPerMaster: 0 }, 'post');
  assert.equal((plan.steps[0] as Extract<Step, { kind: 'repairOpenSlot' }>).mode, 'close');
});

test('refusals: two clusters, keys outside the cluster, keys in unowned slots, a live stranger', () => {
  const two = cluster('m16384', 'fresh', 'fresh');
  const other = cluster('fresh', 'm16384', 'r1');
  two.nodes[1] = { ...other.nodes[1]!, id: 'node01' };
  two.nodes[2] = { ...other.nodes[2]!, id: 'node02' };
  const view = toView(two);
  const split = { ...view, pods: view.pods.map((pod) => ({ ...pod, knows: pod.ordinal === 0 ? [] : pod.ordinal === 1 ? ['node02'] : ['node01'] })) };
  assert.throws(() => planPhase(split, { masters: 3, replicasPerMaster: 0 }, 'post'), /belong to two different clusters/);

  const dirty = cluster('m16384', 'fresh', 'fresh');
  dirty.nodes[2]!.keys.set(5, 3);
  assert.throws(() => planPhase(toView(dirty), { masters: 3, replicasPerMaster: 0 }, 'post'), /pod 2 holds 3 keys but is not part of the cluster/);

  const live = toView(cluster('m16384', 'r0', 'r0'));
  const withStranger = { ...live, strangers: [{ id: 'abc', address: '10.1.1.1:6379', knownBy: [0], unreachable: false, slots: [] }] };
  assert.throws(() => planPhase(withStranger, { masters: 3, replicasPerMaster: 0 }, 'post'), TopologyError);
});

test('memory check refuses before anything moves', () => {
  const grown = seed();
  grown.nodes.push(...cluster('m0', 'm0', 'm0', 'm0', 'm0', 'm0', 'fresh', 'fresh').nodes.slice(6));
  const view = toView(grown);
  const plan = planPhase(view, { masters: 4, replicasPerMaster: 1 }, 'post');
  const tight = { ...view, pods: view.pods.map((pod) => (pod.ordinal === 6 ? { ...pod, maxMemory: 1000, usedMemory: 900 } : pod)) };
  assert.throws(() => checkCapacity(tight, plan.steps), /not enough memory.*pod 6 would need/);
  checkCapacity(view, plan.steps);
});
