// Big keys: the MIGRATE limits scale with cluster-node-timeout, a key over the limit is refused
// before anything moves (named, with its size and slot), and the plan names the large keys.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Refusal } from '../../jobs/errors';
import { checkKeySizes, describeLargeKeys, oversizedKeys } from '../../jobs/plan/capacity';
import { assumedMigrateBytesPerSecond, migrationLimits } from '../../jobs/plan/migration-limits';
import type { ClusterView, MoveSurvey, PodNode, SlotContents, Step } from '../../jobs/plan/model';
import { podNode } from '../support/pod-node';

const MiB = 1024 * 1024;

test('the limits scale with the node timeout: a MIGRATE a tenth of it, a key at most half of it, at the assumed rate', () => {
  const limits = migrationLimits(5000);
  assert.equal(limits.maxBlockMs, 500);
  assert.equal(limits.batchBytes, Math.floor((assumedMigrateBytesPerSecond / 1000) * 500));
  assert.equal(limits.largeKeyBytes, Math.floor(limits.batchBytes / 2));
  assert.equal(limits.maxKeyBytes, Math.floor((assumedMigrateBytesPerSecond / 1000) * 2500));
  assert.equal(migrationLimits(10_000).maxKeyBytes, 2 * limits.maxKeyBytes);
  // A tiny timeout still lets a MIGRATE carry something.
  assert.equal(migrationLimits(10).batchBytes, 64 * 1024);
});

const node = (ordinal: number, id: string): PodNode => podNode(ordinal, { id });
const view: ClusterView = { pods: [node(0, 'source'), node(1, 'target')], strangers: [] };
const steps: Step[] = [{ kind: 'migrate', moves: [{ from: 'source', to: 'target', slots: [7, 8] }] }];
const contents = (largeKeys: SlotContents['largeKeys']): SlotContents => ({ keys: 10, measuredKeys: 10, bytes: 100 * MiB, largeKeys });
const survey = (timeoutMs: number, slot7: SlotContents['largeKeys']): MoveSurvey => ({
  slots: new Map([
    [7, contents(slot7)],
    [8, contents([])],
  ]),
  nodeTimeoutMs: new Map([['source', timeoutMs]]),
});

test('a key over the limit is refused before anything moves, named with its size, slot and pod, with the way forward', () => {
  const big = survey(5000, [
    { name: '"user:1:events"', bytes: 64 * MiB },
    { name: '"small"', bytes: 3 * MiB },
  ]);
  assert.deepEqual(oversizedKeys(view, steps, big), ['"user:1:events" (~64 MiB, slot 7 on pod 0)']);
  assert.throws(
    () => checkKeySizes(view, steps, big),
    (error: unknown) =>
      error instanceof Refusal &&
      /1 key\(s\) are too big to move safely; no slot was moved: "user:1:events" \(~64 MiB, slot 7 on pod 0\)/.test(error.message) &&
      /cluster-node-timeout \(5000 ms\)/.test(error.message) &&
      /raise cluster-node-timeout/.test(error.hint ?? ''),
  );
});

test('the same key passes once the node timeout is long enough for it', () => {
  checkKeySizes(view, steps, survey(30_000, [{ name: '"user:1:events"', bytes: 64 * MiB }]));
});

test('the plan names the large keys of a move, largest first', () => {
  const lines = describeLargeKeys(
    steps,
    survey(5000, [
      { name: '"a"', bytes: 3 * MiB },
      { name: '"b"', bytes: 9 * MiB },
    ]),
  );
  assert.deepEqual(lines, ['large keys in slots 7 (each moves alone): "b" ~9 MiB (slot 7), "a" ~3 MiB (slot 7)']);
  assert.deepEqual(describeLargeKeys(steps, survey(5000, [])), []);
});

test('key names in the log: printable as is, anything else escaped, long names cut', async () => {
  const { displayKeyName } = await import('../../jobs/observe/slot-survey');
  assert.equal(displayKeyName(Buffer.from('user:{42}:profile')), '"user:{42}:profile"');
  assert.equal(displayKeyName(Buffer.from([0x61, 0x00, 0xff, 0x22])), '"a\\x00\\xff\\x22"');
  assert.equal(displayKeyName(Buffer.alloc(100, 0x78)), `"${'x'.repeat(80)}"... (100 bytes)`);
});
