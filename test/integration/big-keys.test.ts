// Big keys in slots that move. MIGRATE blocks its source until the target has stored what it
// carries; blocked past cluster-node-timeout, the source is failed over (with replicas) or the
// cluster goes down (without). So the program must find big keys before it moves anything and
// either move them without blocking a node that long or refuse, naming them, with the cluster
// untouched. Judged from outside: a watch polls CLUSTER INFO and ROLE on every pod every 100 ms
// during each run, and no node may report cluster_state:fail or change role.
// Short node timeouts keep the data small: 2000 ms for the hash (the program refuses a key over
// ~8 MiB then), 1000 ms for the 1 MB strings (a 1000-key MIGRATE of them blocks for seconds).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { LocalRedisPods } from '../support/redis-pods.js';
import { assertClusterShape, topologySnapshot } from '../support/cluster-view.js';
import { ClusterWatch, describeEvents, type WatchReport } from '../support/cluster-watch.js';
import { tagForSlot } from '../support/key-slots.js';
import { assertAllKeys, bulkClient, loadKeys, type KeySet } from '../support/keyspace.js';
import { configSet } from '../support/node-info.js';
import { dryRunMoves } from '../support/planned-moves.js';
import { describeRun, ensureBundle, runTopology, runTopologyOk, topologyArgs, type TopologyRun } from '../support/topology-cli.js';

const subnet = 51;
const range = (count: number, from = 0) => Array.from({ length: count }, (_, index) => from + index);
/** Fields of the big hash: MEMORY USAGE ~25 MiB, three times what the program moves at a 2000 ms node timeout. */
const hashFields = 400_000;

interface GrowSetup {
  pods: LocalRedisPods;
  replicasPerMaster: number;
  /** Pods of the grown cluster (3 masters + the new shard). */
  podCount: number;
  growArgs: string[];
  keys: KeySet;
}

/** 3 masters x R with small keys, and the pods of a fourth shard started but not joined. */
async function startCluster(replicasPerMaster: number, nodeTimeoutMs: number, keyPrefix: string): Promise<GrowSetup> {
  ensureBundle();
  const pods = new LocalRedisPods({ subnet, extraArgs: ['--cluster-node-timeout', String(nodeTimeoutMs)] });
  const podCount = 4 * (1 + replicasPerMaster);
  await pods.startMany(podCount);
  await runTopologyOk(topologyArgs({ phase: 'post', masters: 3, replicasPerMaster, pods: pods.addresses(3 * (1 + replicasPerMaster)) }));
  const keys: KeySet = { prefix: keyPrefix, count: 20_000, valueSize: 100 };
  const cluster = bulkClient(pods);
  await loadKeys(cluster, keys).finally(() => cluster.quit());
  const growArgs = topologyArgs({ phase: 'post', masters: 4, replicasPerMaster, pods: pods.addresses(podCount) });
  return { pods, replicasPerMaster, podCount, growArgs, keys };
}

/** A slot the grow will move, and the pod that gives it away (from the program's own dry-run plan). */
async function movingSlot(setup: GrowSetup): Promise<{ slot: number; source: number }> {
  const move = (await dryRunMoves(setup.growArgs))[0];
  return { slot: move.slots[0], source: move.from };
}

/** Fills a hash of `hashFields` fields on its owner; returns its MEMORY USAGE. */
async function loadBigHash(pods: LocalRedisPods, owner: number, key: string): Promise<number> {
  const client = pods.connect(owner);
  client.on('error', () => {});
  try {
    const pipeline = client.pipeline();
    for (let start = 0; start < hashFields; start += 1000) {
      const fields: string[] = [];
      for (let index = start; index < Math.min(hashFields, start + 1000); index++) fields.push(`field:${index}`, `value:${index}`);
      pipeline.hset(key, ...fields);
    }
    const results = await pipeline.exec();
    const failed = results?.find(([error]) => error);
    if (failed) throw failed[0];
    return Number(await client.call('MEMORY', 'USAGE', key, 'SAMPLES', '0'));
  } finally {
    client.disconnect();
  }
}

/** Runs the program while the watch samples every pod. */
async function watchedRun(setup: GrowSetup, args: string[]): Promise<{ run: TopologyRun; watch: WatchReport }> {
  const watch = new ClusterWatch(setup.pods, range(setup.podCount));
  await watch.start();
  const run = await runTopology(args, { timeoutMs: 120_000 });
  const report = await watch.stop();
  const silences = [...report.longestSilenceMs].map(([ordinal, ms]) => `${ordinal}:${ms}`).join(' ');
  console.log(
    `  exit ${run.code} in ${run.durationMs} ms; longest silence per pod (ms) ${silences}; cluster_state not ok: ${describeEvents(report.stateFailures)}`,
  );
  return { run, watch: report };
}

function assertNoOutage(watch: WatchReport, run: TopologyRun): void {
  assert.ok(watch.samples.size > 0, 'the watch sampled no pod');
  assert.deepEqual(watch.stateFailures, [], `a node reported the cluster down during the run: ${describeEvents(watch.stateFailures)}\n${describeRun(run)}`);
  assert.deepEqual(watch.roleChanges, [], `a node changed role (a failover) during the run: ${describeEvents(watch.roleChanges)}\n${describeRun(run)}`);
}

/** The refusal: non-zero, before anything moved, naming the key, its size, its slot and pod, and the way forward. */
async function assertRefusesBigHash(setup: GrowSetup, key: string, slot: number, source: number): Promise<void> {
  const { pods } = setup;
  const before = await topologySnapshot(pods, range(setup.podCount));
  const { run, watch } = await watchedRun(setup, setup.growArgs);
  const output = run.stdout + run.stderr;
  assert.equal(run.timedOut, false, describeRun(run));
  assert.notEqual(run.code, 0, `expected a refusal: ${describeRun(run)}`);
  const escapedKey = key.replace(/[{}]/g, '\\$&');
  assert.match(
    output,
    new RegExp(`too big to move safely; no slot was moved: "${escapedKey}" \\(~\\d+ MiB, slot ${slot} on pod ${source}\\b`),
    describeRun(run),
  );
  assert.match(output, /cluster-node-timeout/, `the refusal does not say how to go on: ${describeRun(run)}`);
  assert.deepEqual(await topologySnapshot(pods, range(setup.podCount)), before, `the refused run changed the cluster: ${describeRun(run)}`);
  assertNoOutage(watch, run);
}

test('(a) no replicas: a hash too big for the node timeout is refused before anything moves, named in the dry run; with a larger timeout it moves', async () => {
  const setup = await startCluster(0, 2000, 'bigkeys-a');
  const { pods } = setup;
  try {
    const { slot, source } = await movingSlot(setup);
    const key = `bighash:{${tagForSlot(slot)}}`;
    const bytes = await loadBigHash(pods, source, key);
    console.log(`(a) ${key}: ${hashFields} fields, MEMORY USAGE ${(bytes / 2 ** 20).toFixed(1)} MiB, slot ${slot} on pod ${source}`);

    await assertRefusesBigHash(setup, key, slot, source);

    const dryRun = await runTopology([...setup.growArgs, '--dry-run'], { timeoutMs: 60_000 });
    assert.match(
      dryRun.stdout + dryRun.stderr,
      new RegExp(`"${key.replace(/[{}]/g, '\\$&')}" ~\\d+ MiB`),
      `the dry run does not name the key and its size: ${describeRun(dryRun)}`,
    );

    // The way forward the refusal gives: a node timeout under which the hash moves safely.
    await configSet(pods, range(setup.podCount), 'cluster-node-timeout', '60000');
    const { run, watch } = await watchedRun(setup, setup.growArgs);
    assert.equal(run.code, 0, describeRun(run));
    assertNoOutage(watch, run);
    await assertClusterShape(pods, { masters: 4, replicasPerMaster: 0 });
    const cluster = bulkClient(pods);
    try {
      assert.equal(await cluster.hlen(key), hashFields, `${key}: fields after the move`);
      for (const index of [0, 1, 12_345, hashFields - 1]) assert.equal(await cluster.hget(key, `field:${index}`), `value:${index}`, `${key} field:${index}`);
    } finally {
      await cluster.quit();
    }
    await assertAllKeys(pods, setup.keys);
  } finally {
    await pods.destroy();
  }
});

test('(b) with replicas: the same hash is refused and no node fails over', async () => {
  const setup = await startCluster(1, 2000, 'bigkeys-b');
  const { pods } = setup;
  try {
    const { slot, source } = await movingSlot(setup);
    const key = `bighash:{${tagForSlot(slot)}}`;
    const bytes = await loadBigHash(pods, source, key);
    console.log(`(b) ${key}: MEMORY USAGE ${(bytes / 2 ** 20).toFixed(1)} MiB, slot ${slot} on pod ${source}`);
    await assertRefusesBigHash(setup, key, slot, source);
    await assertAllKeys(pods, setup.keys);
  } finally {
    await pods.destroy();
  }
});

test('(c) many 1 MB values in one slot move in batches bounded by bytes: the cluster never goes down, every value arrives', async () => {
  const setup = await startCluster(0, 1000, 'bigkeys-c');
  const { pods } = setup;
  try {
    const { slot, source } = await movingSlot(setup);
    const tag = tagForSlot(slot);
    const valueCount = 400;
    const digests = new Map<string, string>();
    const client = pods.connect(source);
    client.on('error', () => {});
    try {
      // Random bytes: what real blobs look like, and what the MIGRATE payload cannot compress.
      for (let index = 0; index < valueCount; index++) {
        const key = `blob:{${tag}}:${index}`;
        const value = randomBytes(1 << 20);
        digests.set(key, createHash('sha256').update(value).digest('hex'));
        await client.set(key, value);
      }
    } finally {
      client.disconnect();
    }
    console.log(`(c) ${valueCount} values of 1 MiB in slot ${slot} on pod ${source}`);

    const { run, watch } = await watchedRun(setup, setup.growArgs);
    assert.equal(run.code, 0, describeRun(run));
    assertNoOutage(watch, run);
    // No pod went unanswered for as long as the node timeout (one 1000-key MIGRATE of these blocks for seconds).
    for (const [ordinal, silenceMs] of watch.longestSilenceMs) assert.ok(silenceMs < 1000, `pod ${ordinal} did not answer for ${silenceMs} ms`);
    await assertClusterShape(pods, { masters: 4, replicasPerMaster: 0 });
    const cluster = bulkClient(pods);
    try {
      for (const [key, digest] of digests) {
        const value = await cluster.getBuffer(key);
        assert.ok(value, `${key} is missing`);
        assert.equal(createHash('sha256').update(value).digest('hex'), digest, `${key} has other bytes`);
      }
    } finally {
      await cluster.quit();
    }
    await assertAllKeys(pods, setup.keys);
  } finally {
    await pods.destroy();
  }
});
