// Plan steps as the dry run and the log print them.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describePlan, describeStep } from '../../jobs/plan/describe';
import type { OpenSlotRepair, Plan, Step } from '../../jobs/plan/model';
import { toView } from '../support/cluster-simulator';

// Pods 0..2, ids node00..node02, named "pod 0".. "pod 2".
const view = toView({
  nodes: [0, 1, 2].map((ordinal) => ({
    ordinal,
    id: `node0${ordinal}`,
    inCluster: true,
    role: 'master' as const,
    masterId: null,
    owned: new Set<number>(),
    keys: new Map<number, number>(),
    migrating: {},
    importing: {},
  })),
  strangers: [],
  migratedSlots: 0,
});

const repair = (slot: number): OpenSlotRepair => ({
  kind: 'repairOpenSlot',
  slot,
  owner: 'node01',
  claim: false,
  extraOwners: [],
  mode: 'complete',
  from: ['node00'],
  flagged: ['node00', 'node01'],
  reason: `slot ${slot} was being migrated from pod 0 to pod 1: finishing the migration`,
});

const plan = (steps: Step[], notes: string[] = []): Plan => ({ steps, notes, clusterOrdinals: [0, 1, 2] });

test('each kind of step in words, with pod names (and a short id for a node that is no pod)', () => {
  const cases: Array<[Step, string]> = [
    [repair(7), 'repair: slot 7 was being migrated from pod 0 to pod 1: finishing the migration'],
    [
      { kind: 'forget', node: 'deadbeef00112233', reason: 'deadbeef (10.0.0.9:6379) is no pod and unreachable' },
      'forget stale node deadbeef on every pod: deadbeef (10.0.0.9:6379) is no pod and unreachable',
    ],
    [{ kind: 'failover', replica: 'node02', master: 'node01' }, 'fail over pod 1 to its replica pod 2 (no data moves)'],
    [{ kind: 'addSlots', node: 'node00', slots: [0, 1, 2, 5] }, 'assign 4 unowned slots 0-2,5 to pod 0'],
    [{ kind: 'meet', node: 'node02', via: 'node00' }, 'join pod 2 to the cluster through pod 0'],
    [{ kind: 'makeEmptyMaster', node: 'node01', via: 'node00' }, 'turn replica pod 1 into an empty master (CLUSTER RESET SOFT, then meet pod 0)'],
    [
      { kind: 'rejoinAsNew', node: 'node01', via: 'node00' },
      'pod 1, which the cluster forgot, rejoins as a new node through pod 0 (CLUSTER RESET HARD, dropping its old keys; every pod forgets its old id)',
    ],
    [
      {
        kind: 'migrate',
        moves: [
          { from: 'node00', to: 'node01', slots: [0, 1, 2] },
          { from: 'node00', to: 'node02', slots: [10, 12] },
        ],
      },
      'migrate 5 slots with their keys:\n    3 slots 0-2: pod 0 -> pod 1\n    2 slots 10,12: pod 0 -> pod 2',
    ],
    [{ kind: 'replicate', node: 'node02', master: 'node00' }, 'make pod 2 a replica of pod 0'],
    [{ kind: 'replicate', node: 'node02', master: 'cafebabe99' }, 'make pod 2 a replica of node cafebabe'],
    [{ kind: 'removeNode', node: 'node02' }, 'remove pod 2 from the cluster (every other pod forgets it; it keeps redirecting clients until its pod stops)'],
  ];
  for (const [step, text] of cases) assert.equal(describeStep(step, view), text);
});

test('notes first, then numbered steps', () => {
  assert.deepEqual(describePlan(plan([{ kind: 'meet', node: 'node02', via: 'node00' }, repair(7)], ['no cluster yet: bootstrapping 3 pods']), view), [
    'note: no cluster yet: bootstrapping 3 pods',
    '1. join pod 2 to the cluster through pod 0',
    '2. repair: slot 7 was being migrated from pod 0 to pod 1: finishing the migration',
  ]);
});

test('more than 5 repairs in a row are summarized in one line; numbering goes on after it', () => {
  const steps: Step[] = [{ kind: 'meet', node: 'node02', via: 'node00' }, ...[10, 11, 12, 13, 14, 20].map(repair), { kind: 'removeNode', node: 'node02' }];
  assert.deepEqual(describePlan(plan(steps), view), [
    '1. join pod 2 to the cluster through pod 0',
    '2-7. repair 6 open slots 10-14,20, e.g. slot 10 was being migrated from pod 0 to pod 1: finishing the migration',
    '8. remove pod 2 from the cluster (every other pod forgets it; it keeps redirecting clients until its pod stops)',
  ]);
});

test('5 repairs in a row are still listed one by one', () => {
  const lines = describePlan(plan([10, 11, 12, 13, 14].map(repair)), view);
  assert.deepEqual(
    lines,
    [10, 11, 12, 13, 14].map((slot, index) => `${index + 1}. repair: slot ${slot} was being migrated from pod 0 to pod 1: finishing the migration`),
  );
});
