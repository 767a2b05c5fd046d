// The memory check before data moves: what each receiver gets, and refusing when it will not fit.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Refusal } from '../../jobs/errors';
import { checkCapacity, incomingBytes, keysToMove } from '../../jobs/plan/capacity';
import type { ClusterView, MoveSurvey, PodNode, Step } from '../../jobs/plan/model';
import { podNode } from '../support/pod-node';

const MiB = 1024 * 1024;

const pod = (ordinal: number, fields: Partial<PodNode>): PodNode => podNode(ordinal, { id: `node0${ordinal}`, ...fields });

// Pod 0: 100 keys in 60 MiB (0.6 MiB a key): 40 in slot 1, 50 in slot 2, 10 in slot 3.
// Pod 1: 10 keys in 10 MiB (1 MiB a key), all in slot 9. Pods 2 and 3: empty.
const view = (pod2: Partial<PodNode> = {}, pod3: Partial<PodNode> = {}): ClusterView => ({
  pods: [
    pod(0, { slots: [1, 2, 3], keyCount: 100, keysBySlot: { 1: 40, 2: 50, 3: 10 }, usedMemory: 60 * MiB }),
    pod(1, { slots: [9], keyCount: 10, keysBySlot: { 9: 10 }, usedMemory: 10 * MiB }),
    pod(2, { usedMemory: 2 * MiB, ...pod2 }),
    pod(3, { usedMemory: 1 * MiB, ...pod3 }),
  ],
  strangers: [],
});

const steps: Step[] = [
  { kind: 'meet', node: 'node02', via: 'node00' },
  {
    kind: 'migrate',
    moves: [
      { from: 'node00', to: 'node02', slots: [1, 3] },
      { from: 'node00', to: 'node03', slots: [2] },
    ],
  },
  { kind: 'addSlots', node: 'node03', slots: [100, 101] },
  { kind: 'migrate', moves: [{ from: 'node01', to: 'node02', slots: [9] }] },
];

test("incomingBytes: keys per moved slot times the source's bytes per key, summed per receiver", () => {
  assert.deepEqual(
    incomingBytes(view(), steps),
    new Map([
      ['node02', (40 + 10) * 0.6 * MiB + 10 * MiB],
      ['node03', 50 * 0.6 * MiB],
    ]),
  );
});

test('incomingBytes: a surveyed slot counts its measured bytes instead of the estimate', () => {
  const survey: MoveSurvey = { slots: new Map([[2, { keys: 50, measuredKeys: 50, bytes: 5 * MiB, largeKeys: [] }]]), nodeTimeoutMs: new Map() };
  assert.equal(incomingBytes(view(), steps, survey).get('node03'), 5 * MiB);
  assert.equal(incomingBytes(view(), steps, survey).get('node02'), (40 + 10) * 0.6 * MiB + 10 * MiB);
});

test('incomingBytes: a source without keys, and slots without keys, bring nothing', () => {
  const empty: Step[] = [{ kind: 'migrate', moves: [{ from: 'node02', to: 'node03', slots: [50, 51] }] }];
  assert.equal(incomingBytes(view(), empty).get('node03') ?? 0, 0);
  const keyless: Step[] = [{ kind: 'migrate', moves: [{ from: 'node00', to: 'node03', slots: [4] }] }];
  assert.equal(incomingBytes(view(), keyless).get('node03') ?? 0, 0);
});

test('keysToMove counts the keys in every moved slot', () => {
  assert.equal(keysToMove(view(), steps), 40 + 10 + 50 + 10);
  assert.equal(keysToMove(view(), []), 0);
});

// Pod 2 ends with 2 + 30 + 10 = 42 MiB, pod 3 with 1 + 30 = 31 MiB; a receiver keeps 10% of its maxmemory free.
test('checkCapacity: receivers without maxmemory, or with room to spare, pass', () => {
  checkCapacity(view(), steps);
  checkCapacity(view({ maxMemory: 47 * MiB }, { maxMemory: 35 * MiB }), steps);
});

test('checkCapacity refuses before anything moves, naming every receiver short of room, with numbers', () => {
  assert.throws(
    () => checkCapacity(view({ maxMemory: 46 * MiB }, { maxMemory: 16 * MiB, maxMemoryPolicy: 'allkeys-lru' }), steps),
    (error: unknown) => {
      assert.ok(error instanceof Refusal, 'running again unchanged would end the same way');
      assert.match(error.message, /^not enough memory to move the data; no slot was moved: /);
      const [pod2, pod3, ...rest] = error.message.replace(/^[^:]+: /, '').split('; ');
      assert.deepEqual(rest, []);
      assert.match(pod2!, /^pod 2 would need ~42 MiB \(uses 2 MiB, receives ~40 MiB\) but maxmemory is 46 MiB \(10% of it is kept free\)$/);
      assert.match(pod3!, /^pod 3 would need ~31 MiB \(uses 1 MiB, receives ~30 MiB\) but maxmemory is 16 MiB .*maxmemory-policy allkeys-lru would evict keys/);
      assert.match(error.hint ?? '', /raise maxmemory/);
      return true;
    },
  );
});
