// Example-based planner tests: the seed's stories and the open-slot cases, step by step.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { planPhase } from '../../jobs/plan/index';
import { checkCapacity } from '../../jobs/plan/capacity';
import { TopologyError } from '../../jobs/errors';
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

/** Slots start..end inclusive. */
const range = (start: number, end: number) => Array.from({ length: end - start + 1 }, (_, index) => start + index);
const seed = () => cluster('m5462', 'r0', 'm5461', 'r2', 'm5461', 'r4');

test('bootstrap: shards are consecutive ordinals, master first', () => {
  const fresh = cluster('fresh', 'fresh', 'fresh', 'fresh', 'fresh', 'fresh');
  const plan = planPhase(toView(fresh), { masters: 3, replicasPerMaster: 1 }, 'post');
  assert.deepEqual(plan.steps, [
    { kind: 'meet', node: 'node01', via: 'node00' },
    { kind: 'meet', node: 'node02', via: 'node00' },
    { kind: 'meet', node: 'node03', via: 'node00' },
    { kind: 'meet', node: 'node04', via: 'node00' },
    { kind: 'meet', node: 'node05', via: 'node00' },
    { kind: 'addSlots', node: 'node00', slots: range(0, 5461) },
    { kind: 'addSlots', node: 'node02', slots: range(5462, 10922) },
    { kind: 'addSlots', node: 'node04', slots: range(10923, 16383) },
    { kind: 'replicate', node: 'node01', master: 'node00' },
    { kind: 'replicate', node: 'node03', master: 'node02' },
    { kind: 'replicate', node: 'node05', master: 'node04' },
  ]);
  assert.deepEqual(plan.notes, ['no cluster yet: bootstrapping 6 pods']);
});

test('the seed growth: pod 6 becomes the new master, pod 7 its replica (attached before data moves), only surpluses move', () => {
  const grown = seed();
  grown.nodes.push(...cluster('m0', 'm0', 'm0', 'm0', 'm0', 'm0', 'fresh', 'fresh').nodes.slice(6));
  const plan = planPhase(toView(grown), { masters: 4, replicasPerMaster: 1 }, 'post');
  // Each old master keeps its first 4096 slots and gives the rest.
  assert.deepEqual(plan.steps, [
    { kind: 'meet', node: 'node06', via: 'node00' },
    { kind: 'meet', node: 'node07', via: 'node00' },
    { kind: 'replicate', node: 'node07', master: 'node06' },
    {
      kind: 'migrate',
      moves: [
        { from: 'node00', to: 'node06', slots: range(4096, 5461) },
        { from: 'node02', to: 'node06', slots: range(9558, 10922) },
        { from: 'node04', to: 'node06', slots: range(15019, 16383) },
      ],
    },
  ]);
});

test('the seed shrink: pre drains pods 6 and 7 evenly and removes them; post then has nothing to do', () => {
  const big = cluster('m4096', 'r0', 'm4096', 'r2', 'm4096', 'r4', 'm4096', 'r6');
  const desired = { masters: 3, replicasPerMaster: 1 };
  const pre = planPhase(toView(big), desired, 'pre');
  assert.deepEqual(pre.steps, [
    {
      kind: 'migrate',
      moves: [
        { from: 'node06', to: 'node00', slots: range(12288, 13653) },
        { from: 'node06', to: 'node02', slots: range(13654, 15018) },
        { from: 'node06', to: 'node04', slots: range(15019, 16383) },
      ],
    },
    { kind: 'removeNode', node: 'node06' },
    { kind: 'removeNode', node: 'node07' },
  ]);
  const after = apply(big, pre.steps);
  assert.deepEqual(planPhase(toView(after), desired, 'post').steps, []);
});

test('a removed master whose replica stays is failed over (its slots do not move); one without is drained evenly', () => {
  // M=3, R=0: pods 3..5 leave. Pod 4 (a master) has its replica at pod 2, which stays; pod 5 has none.
  const state = cluster('m5462', 'r0', 'r4', 'fresh', 'm5461', 'm5461');
  state.nodes[3]!.inCluster = false;
  const plan = planPhase(toView(state), { masters: 3, replicasPerMaster: 0 }, 'pre');
  // Pod 5's 5461 slots go to pod 0 (5462) and pod 2 (5461 after the failover): both end with 8192.
  assert.deepEqual(plan.steps, [
    { kind: 'failover', replica: 'node02', master: 'node04' },
    {
      kind: 'migrate',
      moves: [
        { from: 'node05', to: 'node00', slots: range(10923, 13652) },
        { from: 'node05', to: 'node02', slots: range(13653, 16383) },
      ],
    },
    { kind: 'removeNode', node: 'node04' },
    { kind: 'removeNode', node: 'node05' },
  ]);
  assert.deepEqual(plan.notes, ['pod 4 is removed but its replica pod 2 stays: failing over instead of moving data']);
});

test('replicas 1 -> 2 adds replicas without moving slots; 2 -> 1 removes them the same way', () => {
  const withNew = seed();
  withNew.nodes.push(...cluster('m0', 'm0', 'm0', 'm0', 'm0', 'm0', 'fresh', 'fresh', 'fresh').nodes.slice(6));
  const desired = { masters: 3, replicasPerMaster: 2 };
  const plan = planPhase(toView(withNew), desired, 'post');
  assert.deepEqual(plan.steps, [
    { kind: 'meet', node: 'node06', via: 'node00' },
    { kind: 'meet', node: 'node07', via: 'node00' },
    { kind: 'meet', node: 'node08', via: 'node00' },
    { kind: 'replicate', node: 'node06', master: 'node00' },
    { kind: 'replicate', node: 'node07', master: 'node02' },
    { kind: 'replicate', node: 'node08', master: 'node04' },
  ]);
  const after = apply(withNew, plan.steps);
  const back = planPhase(toView(after), { masters: 3, replicasPerMaster: 1 }, 'pre');
  assert.deepEqual(back.steps, [
    { kind: 'removeNode', node: 'node06' },
    { kind: 'removeNode', node: 'node07' },
    { kind: 'removeNode', node: 'node08' },
  ]);
});

test('too many masters: the extra one is drained and becomes a replica', () => {
  const state = cluster('m4096', 'm4096', 'm4096', 'm4096', 'r0', 'r1');
  const plan = planPhase(toView(state), { masters: 3, replicasPerMaster: 1 }, 'post');
  // Pod 3 (the last of four equal masters) gives its 4096 slots; pod 0 takes the odd extra one.
  assert.deepEqual(plan.steps, [
    {
      kind: 'migrate',
      moves: [
        { from: 'node03', to: 'node00', slots: range(12288, 13653) },
        { from: 'node03', to: 'node01', slots: range(13654, 15018) },
        { from: 'node03', to: 'node02', slots: range(15019, 16383) },
      ],
    },
    // Pods 2 and 3 form a shard block (consecutive ordinals, master first).
    { kind: 'replicate', node: 'node03', master: 'node02' },
  ]);
});

test('pods the cluster forgot, back on their old volumes (one still a replica of a removed pod): they rejoin under new ids first, in a round of their own', () => {
  const state = seed();
  // Removed by an earlier shrink without their preStop reset: each still knows the cluster, which forgot them.
  state.nodes.push(...cluster('m0', 'm0', 'm0', 'm0', 'm0', 'm0', 'fresh', 'fresh').nodes.slice(6));
  state.nodes[7]!.role = 'replica';
  state.nodes[7]!.masterId = 'gone0006';
  const view = toView(state);
  const returned = { ...view, pods: view.pods.map((pod) => (pod.ordinal >= 6 ? { ...pod, knows: ['node00', 'node01', 'gone0006'] } : pod)) };
  const plan = planPhase(returned, { masters: 4, replicasPerMaster: 1 }, 'post');
  assert.deepEqual(plan.steps, [
    { kind: 'rejoinAsNew', node: 'node06', via: 'node00' },
    { kind: 'rejoinAsNew', node: 'node07', via: 'node00' },
  ]);
  // The next round sees two new empty masters in the cluster and grows as for fresh pods.
  const next = planPhase(toView(apply(state, plan.steps)), { masters: 4, replicasPerMaster: 1 }, 'post');
  assert.deepEqual(
    next.steps.map((step) => step.kind),
    ['replicate', 'migrate'],
  );
});

test('too few masters: a replica is turned into an empty master', () => {
  const state = cluster('m8192', 'r0', 'm8192', 'r2', 'r0', 'r2');
  const plan = planPhase(toView(state), { masters: 3, replicasPerMaster: 1 }, 'post');
  // Pod 4 starts a shard block (4, 5); its replica joins it before the data arrives.
  assert.deepEqual(plan.steps, [
    { kind: 'makeEmptyMaster', node: 'node04', via: 'node00' },
    { kind: 'replicate', node: 'node05', master: 'node04' },
    {
      kind: 'migrate',
      moves: [
        { from: 'node00', to: 'node04', slots: range(5462, 8191) },
        { from: 'node02', to: 'node04', slots: range(13653, 16383) },
      ],
    },
  ]);
});

test('open slots are finished the way redis-cli --cluster fix does', () => {
  const state = cluster('m5462', 'm5461', 'm5461');
  state.nodes[0]!.migrating[7] = 'node01';
  state.nodes[1]!.importing[7] = 'node00';
  state.nodes[1]!.keys.set(7, 1);
  // The slot counts stay balanced (5461 to 5462 each) whichever node ends with slot 7: the repair is the whole plan.
  const desired = { masters: 3, replicasPerMaster: 0 };
  assert.deepEqual(planPhase(toView(state), desired, 'post').steps, [
    {
      kind: 'repairOpenSlot',
      slot: 7,
      owner: 'node01',
      claim: false,
      extraOwners: [],
      flagged: ['node00', 'node01'],
      mode: 'complete',
      from: ['node00'],
      reason: 'slot 7 was being migrated from pod 0 to pod 1: finishing the migration',
    },
  ]);
  // Importing only (the run died before MIGRATING): the owner keeps it and takes the key back.
  delete state.nodes[0]!.migrating[7];
  assert.deepEqual(planPhase(toView(state), desired, 'post').steps, [
    {
      kind: 'repairOpenSlot',
      slot: 7,
      owner: 'node00',
      claim: false,
      extraOwners: [],
      flagged: ['node01'],
      mode: 'toOwner',
      from: ['node01'],
      reason: 'slot 7 is open on pod 1: moving its keys to the owner pod 0',
    },
  ]);
  // Migrating only, target already owns it (died after SETSLOT NODE on the target): close.
  state.nodes[1]!.importing = {};
  state.nodes[0]!.owned.delete(7);
  state.nodes[0]!.keys.delete(7);
  state.nodes[1]!.owned.add(7);
  state.nodes[0]!.migrating[7] = 'node01';
  assert.deepEqual(planPhase(toView(state), desired, 'post').steps, [
    {
      kind: 'repairOpenSlot',
      slot: 7,
      owner: 'node01',
      claim: false,
      extraOwners: [],
      flagged: ['node00'],
      mode: 'close',
      from: [],
      reason: 'slot 7 is left migrating on pod 0 with nothing to move: closing it',
    },
  ]);
});

/** Asserts that planning throws a TopologyError with this message and a hint. */
function assertRefused(plan: () => unknown, message: RegExp, hint: RegExp): void {
  assert.throws(plan, (error: unknown) => {
    assert.ok(error instanceof TopologyError, `not a TopologyError: ${String(error)}`);
    assert.match(error.message, message);
    assert.match(error.hint ?? '', hint);
    return true;
  });
}

test('refusals: two clusters, keys outside the cluster, keys in unowned slots, a live stranger, nowhere to drain to', () => {
  const two = cluster('m16384', 'fresh', 'fresh');
  const other = cluster('fresh', 'm16384', 'r1');
  two.nodes[1] = { ...other.nodes[1]!, id: 'node01' };
  two.nodes[2] = { ...other.nodes[2]!, id: 'node02' };
  const view = toView(two);
  // Same keys and slots on both sides: the larger group is named as the cluster.
  const split = { ...view, pods: view.pods.map((pod) => ({ ...pod, knows: pod.ordinal === 0 ? [] : pod.ordinal === 1 ? ['node02'] : ['node01'] })) };
  assertRefused(
    () => planPhase(split, { masters: 3, replicasPerMaster: 0 }, 'post'),
    /^pods 1,2 and pods 0 belong to two different clusters$/,
    /must form one cluster/,
  );

  const dirty = cluster('m16384', 'fresh', 'fresh');
  dirty.nodes[2]!.keys.set(5, 3);
  assertRefused(
    () => planPhase(toView(dirty), { masters: 3, replicasPerMaster: 0 }, 'post'),
    /^pod 2 holds 3 keys but is not part of the cluster$/,
    /FLUSHALL/,
  );

  // Pod 0 owns every slot but the last, and holds keys in that last one too: no member master owns,
  // imports or migrates slot 16383, so nobody can say where those keys belong.
  const orphan = cluster('m16383', 'r0', 'r0');
  orphan.nodes[0]!.keys.set(16383, 4);
  assertRefused(
    () => planPhase(toView(orphan), { masters: 3, replicasPerMaster: 0 }, 'post'),
    /^pod 0 holds keys in slots 16383 that no node owns$/,
    /assign those slots \(redis-cli --cluster fix\) or delete the keys/,
  );

  const live = toView(cluster('m16384', 'r0', 'r0'));
  const withStranger = { ...live, strangers: [{ id: 'abc', address: '10.1.1.1:6379', knownBy: [0], unreachable: false, slots: [] }] };
  assertRefused(
    () => planPhase(withStranger, { masters: 3, replicasPerMaster: 0 }, 'post'),
    /^node abc \(10\.1\.1\.1:6379\) is in the cluster and answering, but is not one of the pods 0,1,2$/,
    /missing from --pods or DNS/,
  );
  // Gone, but with slots no pod claims: forgetting it would lose them.
  const lost = { ...live, strangers: [{ id: 'abc', address: '10.1.1.1:6379', knownBy: [0], unreachable: true, slots: [16383] }] };
  lost.pods = lost.pods.map((pod) => (pod.ordinal === 0 ? { ...pod, slots: pod.slots.slice(0, -1), keysBySlot: {} } : pod));
  assertRefused(
    () => planPhase(lost, { masters: 3, replicasPerMaster: 0 }, 'post'),
    /^slots 16383 belong to node abc \(10\.1\.1\.1:6379\), which is gone/,
    /bring that node back/,
  );

  // pre: the pods that stay (0..2) are fresh, so the slots of pod 3 have nowhere to go.
  const nowhere = cluster('fresh', 'fresh', 'fresh', 'm16384', 'r3');
  assertRefused(
    () => planPhase(toView(nowhere), { masters: 3, replicasPerMaster: 0 }, 'pre'),
    /^the pods that stay \(0\.\.2\) have no master holding slots/,
    /pre refuses to leave slots uncovered/,
  );
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
