// The seed's walkthrough, done by the topology program: bootstrap 6 pods (3 masters, 1
// replica each), grow to 4 masters with pods 6 and 7, shrink back. Each step is judged
// from outside: CLUSTER NODES of every pod, redis-cli --cluster check, and every key read back.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { LocalRedisPods } from '../support/redis-pods.js';
import { assertClusterShape, ordinalOf, readClusterNodes, slotsByAddress } from '../support/cluster-view.js';
import { assertAllKeys, bulkClient, keysOnMasters, loadKeys, type KeySet } from '../support/keyspace.js';
import { ensureBundle, runTopologyOk, topologyArgs } from '../support/topology-cli.js';
import { configGet } from '../support/node-info.js';

const pods = new LocalRedisPods({ subnet: 41 });
const keys: KeySet = { prefix: 'seed', count: 20_000, valueSize: 64 };

before(async () => {
  ensureBundle();
  await pods.startMany(6);
});

after(async () => {
  await pods.destroy();
});

/** Asserts each given pod is a replica whose link to its master is up (its first sync done), right now. */
async function assertReplicasInSync(ordinals: number[]): Promise<void> {
  for (const ordinal of ordinals) {
    const client = pods.connect(ordinal);
    try {
      const info = String(await client.info('replication'));
      assert.match(info, /role:slave/, `pod ${ordinal} is a replica`);
      assert.match(info, /master_link_status:up/, `pod ${ordinal} finished its sync before the program said done:\n${info}`);
    } finally {
      client.disconnect();
    }
  }
}

test('1. bootstrap: 6 empty pods become 3 masters with 1 replica each, master on the even ordinal; done means replicas synced', async () => {
  await runTopologyOk(topologyArgs({ phase: 'post', masters: 3, replicasPerMaster: 1, pods: pods.addresses(6) }));
  await assertReplicasInSync([1, 3, 5]);

  const shards = await assertClusterShape(pods, { masters: 3, replicasPerMaster: 1 });
  assert.deepEqual(shards.map((shard) => shard.slotCount).sort(), [5461, 5461, 5462]);
  const layout = shards
    .map((shard) => [ordinalOf(pods, shard.masterAddress), ...shard.replicaAddresses.map((address) => ordinalOf(pods, address))])
    .sort((a, b) => a[0] - b[0]);
  assert.deepEqual(
    layout,
    [
      [0, 1],
      [2, 3],
      [4, 5],
    ],
    'shards are consecutive ordinals, master first',
  );
  // Each master has its own config epoch from the start (as redis-cli --cluster create gives
  // them), not one the servers find collision by collision while slots may already be moving.
  const epochs = (await readClusterNodes(pods, 0)).filter((entry) => entry.role === 'master').map((entry) => entry.configEpoch);
  assert.equal(new Set(epochs).size, 3, `distinct master epochs: ${epochs.join(', ')}`);
  assert.ok(!epochs.includes(0), `no master left at epoch 0: ${epochs.join(', ')}`);
});

test('2. grow: pods 6 and 7 join as the 4th shard, a quarter of the slots move, every key stays (under a key rate cap)', async () => {
  const cluster = bulkClient(pods);
  try {
    await loadKeys(cluster, keys);
  } finally {
    await cluster.quit();
  }
  const before = slotsByAddress(await readClusterNodes(pods, 0));

  await pods.startMany(2, 6);
  const cap = 2500;
  const run = await runTopologyOk([
    ...topologyArgs({ phase: 'post', masters: 4, replicasPerMaster: 1, pods: pods.addresses(8) }),
    '--max-keys-per-second',
    String(cap),
  ]);
  // The cap is honoured (a slower machine only lowers the rate): the program's own figure, over the whole migration.
  const [, movedKeys, rate] = /migrated \d+ slots and (\d+) keys in \S+ \((\d+) keys\/s/.exec(run.stdout) ?? [];
  assert.ok(Number(movedKeys) > 4000, `about a quarter of the keys moved: ${run.stdout.slice(-500)}`);
  assert.ok(Number(rate) <= cap * 1.1, `migrated at ${rate} keys/s with a cap of ${cap}`);

  await assertReplicasInSync([7]);
  const shards = await assertClusterShape(pods, { masters: 4, replicasPerMaster: 1 });
  const newShard = shards.find((shard) => shard.masterAddress === pods.addresses(8)[6]);
  assert.ok(newShard, 'pod 6 is a master');
  assert.deepEqual(newShard.replicaAddresses, [pods.addresses(8)[7]], 'pod 7 replicates pod 6');

  // Least movement: every old master only gave slots away (its surplus), none received any.
  const afterGrow = slotsByAddress(await readClusterNodes(pods, 0));
  let moved = 0;
  for (const [address, slotsBefore] of before) {
    const slotsAfter = afterGrow.get(address);
    assert.ok(slotsAfter, `${address} is still a master`);
    for (const slot of slotsAfter) assert.ok(slotsBefore.has(slot), `${address} received slot ${slot}`);
    moved += slotsBefore.size - slotsAfter.size;
  }
  assert.equal(moved, 4096, 'slots moved');

  await assertAllKeys(pods, keys);
  assert.equal(await keysOnMasters(pods, [0, 1, 2, 3, 4, 5, 6, 7]), keys.count, 'keys on masters (none lost, none duplicated)');
  // The joining masters' short node timeout (for their rejoin delay) is gone again.
  assert.deepEqual(await configGet(pods, [0, 1, 2, 3, 4, 5, 6, 7], 'cluster-node-timeout'), Array(8).fill('5000'));
});

test('3. shrink: pre empties and forgets pods 6 and 7, they are removed, post rebalances 3 masters', async () => {
  const removed = await Promise.all([6, 7].map(async (ordinal) => (await readClusterNodes(pods, ordinal)).find((entry) => entry.myself)!));
  const removedAddresses = removed.map((entry) => entry.address);
  const removedIds = removed.map((entry) => entry.id);
  const before = slotsByAddress(await readClusterNodes(pods, 0));

  await runTopologyOk(topologyArgs({ phase: 'pre', masters: 3, replicasPerMaster: 1, pods: pods.addresses(8) }));

  for (const ordinal of [6, 7]) {
    const own = (await readClusterNodes(pods, ordinal)).find((entry) => entry.myself)!;
    assert.deepEqual(own.slots, [], `pod ${ordinal} holds no slots after pre`);
  }
  for (let survivor = 0; survivor < 6; survivor++) {
    for (const entry of await readClusterNodes(pods, survivor)) {
      assert.ok(!removedAddresses.includes(entry.address), `pod ${survivor} still knows ${entry.address}`);
      assert.ok(!removedIds.includes(entry.id), `pod ${survivor} still knows node ${entry.id}`);
    }
  }
  // Only the removed shard's slots moved, to the survivors.
  const afterPre = slotsByAddress(await readClusterNodes(pods, 0));
  for (const [address, slotsAfter] of afterPre) {
    for (const slot of before.get(address) ?? []) assert.ok(slotsAfter.has(slot), `${address} lost slot ${slot} in pre`);
  }
  await assertAllKeys(pods, keys);

  await pods.remove(7);
  await pods.remove(6);
  await runTopologyOk(topologyArgs({ phase: 'post', masters: 3, replicasPerMaster: 1, pods: pods.addresses(6) }));

  await assertClusterShape(pods, { masters: 3, replicasPerMaster: 1 });
  await assertAllKeys(pods, keys);
  assert.equal(await keysOnMasters(pods, [0, 1, 2, 3, 4, 5]), keys.count, 'keys on masters');
});
