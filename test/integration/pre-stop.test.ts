// The chart's preStop hook on pods the topology Job removed, which must leave them knowing no
// other node, owning no slot, holding no key, and that must survive a restart from the volume
// (appendonly, as the chart's redis.conf):
// - a master the cluster forgot that still holds keys and slots (CLUSTER RESET refuses it; such
//   a pod once came back from its kept volume claiming its old slots);
// - a pod the Job removed that the cluster lists again (Valkey 8+ meets its old peers again once
//   they forget it): the Job's mark on the node says it was removed.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { LocalRedisPods } from '../support/redis-pods.js';
import { readClusterNodes } from '../support/cluster-view.js';
import { bulkClient, loadKeys, type KeySet } from '../support/keyspace.js';
import { runPreStop } from '../support/pre-stop.js';
import { ensureBundle, runTopologyOk, topologyArgs } from '../support/topology-cli.js';

const pods = new LocalRedisPods({ subnet: 56, extraArgs: ['--appendonly', 'yes'] });
// The second test's own cluster: 4 masters, then pre to 3 removes pod 3.
const removedPods = new LocalRedisPods({ subnet: 57, extraArgs: ['--appendonly', 'yes'] });
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
  await removedPods.destroy();
});

async function assertAlone(ordinal: number, when: string, where = pods): Promise<void> {
  const nodes = await readClusterNodes(where, ordinal);
  assert.equal(nodes.length, 1, `${when}: pod ${ordinal} still knows other nodes`);
  assert.deepEqual(nodes[0]!.slots.length, 0, `${when}: pod ${ordinal} still claims slots`);
  const client = where.connect(ordinal);
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

test('a pod the topology Job removed that the cluster lists again: preStop still resets and empties it', async () => {
  await removedPods.startMany(4);
  await runTopologyOk(topologyArgs({ phase: 'post', masters: 4, replicasPerMaster: 0, pods: removedPods.addresses(4) }));
  const cluster = bulkClient(removedPods);
  await loadKeys(cluster, keys).finally(() => cluster.quit());
  await runTopologyOk(topologyArgs({ phase: 'pre', masters: 3, replicasPerMaster: 0, pods: removedPods.addresses(4) }));
  // What Valkey 8+ does by itself: the removed node meets its old peers again, and they list it.
  // Under its old id that takes a minute: for 60 s after a FORGET the peers gossip the forgotten id
  // and drop it wherever it shows up. A new id (what preStop keys on is the mark, not the id) is
  // listed at once, so the test does not depend on catching the moment the old one is back.
  const client = removedPods.connect(3);
  await client.call('CLUSTER', 'RESET', 'HARD');
  for (const ordinal of [0, 1, 2]) await client.call('CLUSTER', 'MEET', removedPods.hostOf(ordinal), String(removedPods.port));
  const newId = String(await client.call('CLUSTER', 'MYID'));
  client.disconnect();
  for (let waited = 0; !(await readClusterNodes(removedPods, 0)).some((entry) => entry.id === newId); waited += 100) {
    assert.ok(waited < 10_000, 'pod 0 never listed pod 3 again');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }

  const output = await runPreStop(removedPods, 3);
  assert.match(output, /the topology Job removed this node/, output);
  await assertAlone(3, 'after preStop', removedPods);
  await removedPods.stop(3);
  await removedPods.start(3);
  await assertAlone(3, 'after a restart from its volume', removedPods);
});
