// pre checks the survivors can hold what they would receive before moving anything: with
// 4 masters nearly full (maxmemory), shrinking to 3 would overflow them, so pre refuses
// with a clear error and the cluster keeps every slot and key where they were.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { LocalRedisPods } from '../support/redis-pods.js';
import { assertClusterShape, readClusterNodes, topologySnapshot } from '../support/cluster-view.js';
import { assertAllKeys, bulkClient, keysOnMasters, loadKeys, type KeySet } from '../support/keyspace.js';
import { describeRun, ensureBundle, runTopology, runTopologyOk, topologyArgs } from '../support/topology-cli.js';

const maxmemoryBytes = 16 * 1024 * 1024;
const pods = new LocalRedisPods({ subnet: 48, maxmemory: '16mb' });
const range = (count: number, from = 0) => Array.from({ length: count }, (_, index) => from + index);

async function usedMemoryOfMasters(): Promise<number[]> {
  const used: number[] = [];
  for (const ordinal of range(8)) {
    const myself = (await readClusterNodes(pods, ordinal)).find((entry) => entry.myself);
    if (myself?.role !== 'master') continue;
    const client = pods.connect(ordinal);
    client.on('error', () => {});
    try {
      used.push(Number(/used_memory:(\d+)/.exec(await client.info('memory'))![1]));
    } finally {
      client.disconnect();
    }
  }
  return used;
}

let keys: KeySet = { prefix: 'full', count: 0, valueSize: 1000 };

before(async () => {
  ensureBundle();
  await pods.startMany(8);
  await runTopologyOk(topologyArgs({ phase: 'post', masters: 4, replicasPerMaster: 1, pods: pods.addresses(8) }));
  // Fill the masters to ~80% of maxmemory: a third more each (what shrinking 4->3 gives
  // every survivor) cannot fit.
  const cluster = bulkClient(pods);
  try {
    for (let batch = 0; batch < 100; batch++) {
      const used = await usedMemoryOfMasters();
      if (Math.min(...used) >= 0.8 * maxmemoryBytes) break;
      const next: KeySet = { ...keys, count: keys.count + 1000 };
      await loadKeys(cluster, next, keys.count);
      keys = next;
    }
    console.log(
      `memory-refusal: ${keys.count} keys, masters use ${(await usedMemoryOfMasters()).map((bytes) => `${(bytes / 2 ** 20).toFixed(1)}MiB`).join(' ')} of 16MiB`,
    );
  } finally {
    await cluster.quit();
  }
});

after(async () => {
  await pods.destroy();
});

test('pre refuses to shrink 4->3 masters when the survivors lack memory, and moves nothing', async () => {
  const before = await topologySnapshot(pods, range(8));
  const run = await runTopology(topologyArgs({ phase: 'pre', masters: 3, replicasPerMaster: 1, pods: pods.addresses(8) }), { timeoutMs: 120_000 });
  assert.equal(run.signal, null, describeRun(run));
  assert.notEqual(run.code, 0, `expected a refusal: ${describeRun(run)}`);
  assert.match(run.stdout + run.stderr, /memory/i, describeRun(run));
  const errorLine = (run.stdout + run.stderr).split('\n').find((line) => /ERROR/.test(line)) ?? '(no ERROR line)';
  console.log(`refused (exit ${run.code}, ${run.durationMs} ms): ${errorLine}`);
  assert.deepEqual(await topologySnapshot(pods, range(8)), before, `pre moved something: ${describeRun(run)}`);

  await assertClusterShape(pods, { masters: 4, replicasPerMaster: 1 });
  assert.equal(await keysOnMasters(pods, range(8)), keys.count);
  await assertAllKeys(pods, keys);
});
