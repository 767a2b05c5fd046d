// The chart's preStop hook on a pod the cluster no longer lists, in the state that once let a
// removed pod come back from its kept volume claiming slots: a master still holding keys, which
// CLUSTER RESET refuses. The hook must leave it knowing no other node, owning no slot, holding no
// key, and that must survive a restart from its volume (appendonly, as the chart's redis.conf).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { LocalRedisPods } from '../support/redis-pods.js';
import { readClusterNodes } from '../support/cluster-view.js';
import { bulkClient, loadKeys, type KeySet } from '../support/keyspace.js';
import { runPreStop } from '../support/pre-stop.js';
import { ensureBundle, runTopologyOk, topologyArgs } from '../support/topology-cli.js';

const pods = new LocalRedisPods({ subnet: 56, extraArgs: ['--appendonly', 'yes'] });
const keys: KeySet = { prefix: 'prestop', count: 5_000, valueSize: 50 };

before(async () => {
  ensureBundle();
  await pods.startMany(3);
  await runTopologyOk(topologyArgs({ phase: 'post', masters: 3, replicasPerMaster: 0, pods: pods.addresses(3) }));
  const cluster = bulkClient(pods);
  await loadKeys(cluster, keys).finally(() => cluster.quit());
});

after(async () => {
  await pods.destroy();
});

async function assertAlone(ordinal: number, when: string): Promise<void> {
  const nodes = await readClusterNodes(pods, ordinal);
  assert.equal(nodes.length, 1, `${when}: pod ${ordinal} still knows other nodes`);
  assert.deepEqual(nodes[0]!.slots.length, 0, `${when}: pod ${ordinal} still claims slots`);
  const client = pods.connect(ordinal);
  client.on('error', () => {});
  assert.equal(await client.dbsize().finally(() => client.disconnect()), 0, `${when}: pod ${ordinal} still holds keys`);
}

test('a forgotten master that still holds keys and slots: preStop empties and resets it, and it comes back from its volume alone and empty', async () => {
  const [self] = (await readClusterNodes(pods, 0)).filter((entry) => entry.myself);
  assert.ok(self && self.slots.length > 0, 'pod 0 owns slots');
  for (const ordinal of [1, 2]) {
    const client = pods.connect(ordinal);
    await client.call('CLUSTER', 'FORGET', self.id).finally(() => client.disconnect());
  }

  const output = await runPreStop(pods, 0);
  assert.match(output, /no longer lists this node/, output);
  assert.doesNotMatch(output, /RESET HARD failed/, output);
  await assertAlone(0, 'after preStop');

  await pods.stop(0);
  await pods.start(0);
  await assertAlone(0, 'after a restart from its volume');
});
