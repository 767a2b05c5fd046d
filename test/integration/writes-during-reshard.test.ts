// A cluster client keeps writing while the program grows and shrinks the cluster: every
// write the cluster acknowledged must be there afterwards with its last value.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { LocalRedisPods } from '../support/redis-pods.js';
import { assertClusterShape } from '../support/cluster-view.js';
import { assertAllKeys, bulkClient, type KeySet } from '../support/keyspace.js';
import { AckedWriter } from '../support/acked-writes.js';
import { runTopologyOk, topologyArgs } from '../support/topology-cli.js';
import { bootstrapSeedCluster } from '../support/seed-cluster.js';

const pods = new LocalRedisPods({ subnet: 44 });
// Preloaded so that the migrations take a moment while the writer runs.
const keys: KeySet = { prefix: 'base', count: 60_000, valueSize: 100 };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

before(async () => {
  await bootstrapSeedCluster(pods, keys);
});

after(async () => {
  await pods.destroy();
});

/** Runs `change` while a client writes; then checks every acknowledged write and the preloaded keys. */
async function whileWriting(label: string, change: () => Promise<void>): Promise<void> {
  const writerClient = pods.clusterClient();
  writerClient.on('error', () => {});
  const writer = new AckedWriter(writerClient, { prefix: label, maxDurationMs: 120_000 });
  try {
    writer.start();
    await sleep(300);
    try {
      await change();
      await sleep(300);
    } finally {
      const report = await writer.stop();
      console.log(
        `${label}: ${report.operations} writes, ${report.acknowledged} acknowledged, ${report.errors} errors in ${report.durationMs} ms${report.errorKinds.length ? ` (${report.errorKinds.join(' | ')})` : ''}`,
      );
    }
    const reader = bulkClient(pods);
    const check = await writer.check(reader).finally(() => reader.quit().catch(() => {}));
    assert.equal(check.lost, 0, `${label}: ${check.lost} of ${check.keys} keys lost an acknowledged write, e.g. ${check.examples.join('; ')}`);
    await assertAllKeys(pods, keys);
  } finally {
    await writerClient.quit().catch(() => {});
  }
}

test('6a. writes during grow (M 3->4) are all kept', async () => {
  await pods.startMany(2, 6);
  await whileWriting('grow', async () => {
    await runTopologyOk(topologyArgs({ phase: 'post', masters: 4, replicasPerMaster: 1, pods: pods.addresses(8) }));
  });
  await assertClusterShape(pods, { masters: 4, replicasPerMaster: 1 });
});

test('6b. writes during shrink (pre, pods 6 and 7 removed, post) are all kept', async () => {
  await whileWriting('shrink', async () => {
    await runTopologyOk(topologyArgs({ phase: 'pre', masters: 3, replicasPerMaster: 1, pods: pods.addresses(8) }));
    await pods.remove(7);
    await pods.remove(6);
    await runTopologyOk(topologyArgs({ phase: 'post', masters: 3, replicasPerMaster: 1, pods: pods.addresses(6) }));
  });
  await assertClusterShape(pods, { masters: 3, replicasPerMaster: 1 });
});
