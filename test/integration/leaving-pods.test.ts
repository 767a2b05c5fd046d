// Pods removed by pre keep running until the StatefulSet deletes them (seconds under Argo CD, up
// to a retry interval under Flux), and clients that route by their own slot map keep sending
// there. So after pre the survivors must no longer list the leaving pods, while the leaving pods
// still answer MOVED to the new owner (never CLUSTERDOWN); their preStop hook resets them when
// they stop, and a removed pod that returns later on its kept volume never brings old keys back.
// The clients: Valkey GLIDE's cluster client (keeps its own slot map) and ioredis.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { LocalRedisPods } from '../support/redis-pods.js';
import { assertClusterShape, readClusterNodes, SLOT_COUNT } from '../support/cluster-view.js';
import { deleteTrafficKeys, describeTraffic, glideTraffic, ioredisTraffic, runTraffic, type KeyValueClient } from '../support/client-traffic.js';
import { slotOf, tagForSlot } from '../support/key-slots.js';
import { bulkClient, keyAt, keysOnMasters, loadKeys, verifyKeys, type KeySet } from '../support/keyspace.js';
import { readInfo } from '../support/node-info.js';
import { runPreStop } from '../support/pre-stop.js';
import { runTopologyOk, topologyArgs } from '../support/topology-cli.js';

// appendonly as the chart's redis.conf: what a returning pod would bring back is on its volume.
const pods = new LocalRedisPods({ subnet: 55, extraArgs: ['--appendonly', 'yes'] });
const keys: KeySet = { prefix: 'leaving', count: 20_000, valueSize: 100 };
const survivors = [0, 1, 2, 3, 4, 5];
const all = [0, 1, 2, 3, 4, 5, 6, 7];
const grow = () => runTopologyOk(topologyArgs({ phase: 'post', masters: 4, replicasPerMaster: 1, pods: pods.addresses(8) }), { timeoutMs: 120_000 });
const shrink = () => runTopologyOk(topologyArgs({ phase: 'pre', masters: 3, replicasPerMaster: 1, pods: pods.addresses(8) }), { timeoutMs: 120_000 });
const finishShrink = () => runTopologyOk(topologyArgs({ phase: 'post', masters: 3, replicasPerMaster: 1, pods: pods.addresses(6) }), { timeoutMs: 120_000 });
/** Keys deleted after a shrink: none may come back. */
const deleted = new Set<string>();

before(async () => {
  await pods.startMany(8);
  await grow();
  const cluster = bulkClient(pods);
  await loadKeys(cluster, keys).finally(() => cluster.quit());
});

after(async () => {
  await pods.destroy();
});

async function nodeIdOf(ordinal: number): Promise<string> {
  return (await readClusterNodes(pods, ordinal)).find((entry) => entry.myself)!.id;
}

async function slotsOf(ordinal: number): Promise<Set<number>> {
  return new Set((await readClusterNodes(pods, ordinal)).find((entry) => entry.myself)!.slots);
}

/** The survivors list neither leaving pod (by id or address). */
async function assertSurvivorsForgot(leavingIds: string[]): Promise<void> {
  const leavingAddresses = [6, 7].map((ordinal) => pods.pods.get(ordinal)!.address);
  for (const ordinal of survivors) {
    const listed = (await readClusterNodes(pods, ordinal)).filter((entry) => leavingIds.includes(entry.id) || leavingAddresses.includes(entry.address));
    assert.deepEqual(
      listed.map((entry) => `${entry.address} ${entry.flags.join(',')}`),
      [],
      `pod ${ordinal} still lists a removed pod`,
    );
  }
}

/** A GET of a key in every 64th slot, sent to the pod itself: each must answer MOVED to another pod. */
async function assertAnswersMoved(ordinal: number): Promise<void> {
  const client = pods.connect(ordinal);
  client.on('error', () => {});
  try {
    for (let slot = 0; slot < SLOT_COUNT; slot += 64) {
      const reply = await client.get(`probe:{${tagForSlot(slot)}}`).then(
        (value) => `answered ${value}`,
        (error: Error) => error.message,
      );
      assert.match(reply, new RegExp(`^MOVED ${slot} `), `pod ${ordinal}, a removed pod still running, for slot ${slot}`);
    }
  } finally {
    client.disconnect();
  }
}

/** How many commands the pod has answered with MOVED since it started (INFO errorstats). */
async function movedRepliesOf(ordinal: number): Promise<number> {
  return Number(/count=(\d+)/.exec((await readInfo(pods, ordinal, 'errorstats')).errorstat_MOVED ?? '')?.[1] ?? 0);
}

async function assertResetAndEmpty(ordinal: number): Promise<void> {
  const nodes = await readClusterNodes(pods, ordinal);
  assert.equal(nodes.length, 1, `pod ${ordinal} after its preStop still knows other nodes`);
  const client = pods.connect(ordinal);
  client.on('error', () => {});
  assert.equal(await client.dbsize().finally(() => client.disconnect()), 0, `pod ${ordinal} after its preStop still holds keys`);
}

/** Deletes `count` keys that lived in `oldSlots` (the removed master's), so a volume that kept them would show. */
async function deleteKeysIn(oldSlots: Set<number>, count: number): Promise<void> {
  const cluster = bulkClient(pods);
  try {
    let removed = 0;
    for (let index = 0; index < keys.count && removed < count; index++) {
      const key = keyAt(keys, index);
      if (deleted.has(key) || !oldSlots.has(slotOf(key))) continue;
      assert.equal(await cluster.del(key), 1, `${key} was not there to delete`);
      deleted.add(key);
      removed++;
    }
  } finally {
    await cluster.quit();
  }
}

/** Every key but the deleted ones is there with its value; no deleted one came back. */
async function assertKeysWithoutDeleted(): Promise<void> {
  const result = await verifyKeys(pods, keys);
  assert.equal(result.wrong, 0, `wrong values, e.g. ${result.examples.join(', ')}`);
  assert.equal(result.missing, deleted.size, `missing keys (${deleted.size} were deleted), e.g. ${result.examples.join(', ')}`);
  const cluster = bulkClient(pods);
  try {
    const back = (await Promise.all([...deleted].map(async (key) => ((await cluster.exists(key)) ? key : undefined)))).filter(Boolean);
    assert.deepEqual(back, [], 'deleted keys came back');
  } finally {
    await cluster.quit();
  }
  assert.equal(await keysOnMasters(pods, all), keys.count - deleted.size, 'keys on masters');
}

test('after pre the removed pods keep redirecting: GLIDE and ioredis see no error; preStop resets them; they return empty', async () => {
  const leavingIds = [await nodeIdOf(6), await nodeIdOf(7)];
  const oldSlotsOf6 = await slotsOf(6);
  assert.ok(oldSlotsOf6.size > 0, 'pod 6 owns no slots before the shrink');

  // Both clients learn the 4-master slot map before the shrink and keep it.
  const clients: KeyValueClient[] = [await glideTraffic(pods), ioredisTraffic(bulkClient(pods))];
  try {
    for (const client of clients) {
      const warmUp = await runTraffic(client, `warmup-${client.name}`, 0);
      assert.equal(warmUp.errors, 0, `before the shrink: ${describeTraffic(warmUp)}`);
    }
    await shrink();
    await assertSurvivorsForgot(leavingIds);
    // Pods 6 and 7 run on (the StatefulSet has not shrunk yet) while both clients work every slot.
    const movedBefore = await movedRepliesOf(6);
    const reports = await Promise.all(clients.map((client) => runTraffic(client, `after-${client.name}`, 5000)));
    const redirected = (await movedRepliesOf(6)) - movedBefore;
    for (const report of reports) console.log(`after pre, pods 6 and 7 still running: ${describeTraffic(report)}`);
    console.log(`pod 6 answered ${redirected} commands with MOVED meanwhile`);
    for (const report of reports) assert.deepEqual([report.errors, report.wrongValues], [0, 0], describeTraffic(report));
    // The clients' old slot maps did send commands to the removed pod (else this proves nothing).
    assert.ok(redirected > 0, 'no client sent a command to pod 6 after the shrink');
    await assertAnswersMoved(6);
    await assertAnswersMoved(7);
  } finally {
    for (const client of clients) await client.close();
  }
  const cleaner = bulkClient(pods);
  for (const prefix of ['warmup-glide', 'warmup-ioredis', 'after-glide', 'after-ioredis']) await deleteTrafficKeys(cleaner, prefix);
  await cleaner.quit();

  for (const ordinal of [6, 7]) {
    const output = await runPreStop(pods, ordinal);
    console.log(`preStop of pod ${ordinal}: ${output.trim()}`);
    assert.match(output, /topology Job removed/, `preStop of pod ${ordinal}`);
    await assertResetAndEmpty(ordinal);
  }
  await pods.stop(6);
  await pods.stop(7);
  await finishShrink();
  await assertClusterShape(pods, { masters: 3, replicasPerMaster: 1 });

  await deleteKeysIn(oldSlotsOf6, 200);
  await pods.start(6);
  await pods.start(7);
  await grow();
  await assertClusterShape(pods, { masters: 4, replicasPerMaster: 1 });
  await assertKeysWithoutDeleted();
});

test('without preStop (pod 7 SIGKILLed, back as a replica of a node the cluster forgot): the grow resets it and converges; no deleted key comes back', async () => {
  // From 4 masters x 1 replica (where the test before leaves the cluster; a no-op then).
  await pods.startMany(2, 6);
  await grow();
  const oldSlotsOf6 = await slotsOf(6);
  assert.ok(oldSlotsOf6.size > 0, 'pod 6 owns no slots before the shrink');
  await shrink();
  await assertAnswersMoved(6);
  await assertAnswersMoved(7);

  assert.match(await runPreStop(pods, 6), /topology Job removed/, 'preStop of pod 6');
  await pods.stop(7, 'SIGKILL');
  await pods.stop(6);
  await finishShrink();
  await assertClusterShape(pods, { masters: 3, replicasPerMaster: 1 });

  await deleteKeysIn(oldSlotsOf6, 200);
  await pods.start(6);
  await pods.start(7);
  const returned = (await readClusterNodes(pods, 7)).find((entry) => entry.myself)!;
  const client = pods.connect(7);
  client.on('error', () => {});
  const returnedKeys = await client.dbsize().finally(() => client.disconnect());
  console.log(`pod 7 returned as ${returned.role} of ${returned.masterId ?? '-'} with ${returnedKeys} keys`);
  assert.equal(returned.role, 'replica', 'pod 7 was expected back as the replica it was when it was killed');

  await grow();
  await assertClusterShape(pods, { masters: 4, replicasPerMaster: 1 });
  await assertKeysWithoutDeleted();
});
