// The run lease: of the connections to pod 0 named topology-run-<start>-<id>-<phase>, the oldest holds it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseLeaseHolders } from '../../jobs/redis/run-lease';

test('CLIENT LIST: only runs count, oldest first, ties by name', () => {
  const list = [
    'id=3 addr=10.0.0.9:5000 laddr=10.0.0.1:6379 fd=8 name= age=1 idle=0 flags=N db=0',
    'id=4 addr=10.0.0.7:41000 laddr=10.0.0.1:6379 fd=9 name=topology-run-1700000002000-bbbbbbbb-post age=2 idle=0 flags=N db=0',
    'id=5 addr=10.0.0.8:42000 laddr=10.0.0.1:6379 fd=10 name=topology-run-1700000001000-cccccccc-pre age=3 idle=0 flags=N db=0',
    'id=6 addr=10.0.0.6:43000 laddr=10.0.0.1:6379 fd=11 name=topology-run-1700000002000-aaaaaaaa-all age=2 idle=0 flags=N db=0',
    'id=7 addr=10.0.0.5:44000 laddr=10.0.0.1:6379 fd=12 name=topology-runner age=2 idle=0 flags=N db=0',
  ].join('\n');
  assert.deepEqual(
    parseLeaseHolders(list).map((holder) => [holder.phase, holder.startedAt, holder.address]),
    [
      ['pre', 1700000001000, '10.0.0.8:42000'],
      ['all', 1700000002000, '10.0.0.6:43000'],
      ['post', 1700000002000, '10.0.0.7:41000'],
    ],
  );
  assert.deepEqual(parseLeaseHolders(''), []);
});
