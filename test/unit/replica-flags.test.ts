// Valkey replicates SETSLOT, so a replica shows its master's open slots, and can keep some its
// master has closed. The planner has the master repeat SETSLOT STABLE for those; Redis replicas
// never show open slots, and a master still migrating is left to the open-slot repairs.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { planReplicaFlagRepairs } from '../../jobs/plan/open-slots';
import { podNode } from '../support/pod-node';

const pod = podNode;

test('a replica keeping slots open that its master closed: the master repeats SETSLOT STABLE for them', () => {
  const members = [
    pod(0, { slots: [1, 2] }),
    pod(6, { slots: [5, 6] }),
    pod(7, { role: 'replica', masterId: 'node6', importing: { 5: 'node0', 6: 'node0' } }),
    pod(1, { role: 'replica', masterId: 'node0', migrating: { 5: 'node6' } }),
  ];
  assert.deepEqual(planReplicaFlagRepairs(members), [
    { kind: 'clearReplicaSlotFlags', replica: 'node7', master: 'node6', slots: [5, 6] },
    { kind: 'clearReplicaSlotFlags', replica: 'node1', master: 'node0', slots: [5] },
  ]);
});

test('nothing when the master has the same slot open (an interrupted migration) or nobody owns the slot', () => {
  const members = [
    pod(0, { slots: [1, 2], migrating: { 2: 'node6' } }),
    pod(6, { slots: [5], importing: { 2: 'node0' } }),
    pod(7, { role: 'replica', masterId: 'node6', importing: { 2: 'node0', 9: 'node0' } }),
  ];
  assert.deepEqual(planReplicaFlagRepairs(members), []);
});
