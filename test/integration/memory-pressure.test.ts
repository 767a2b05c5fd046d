// Receivers short of memory. A grow (3 -> 4 masters x 1 replica) sends pod 6 a quarter of the
// slots; each case gives pod 6 too little memory for that, in another way:
// (a) maxmemory-policy allkeys-lru, and the moving slots hold the big values (so an estimate from
//     each source's average bytes per key is far too low): the run must refuse before moving
//     anything, naming pod 6, the bytes and the policy; no key is evicted anywhere.
// (b) noeviction, maxmemory lowered under the run while it migrates: the run must stop saying pod
//     6 ran out of memory, leave no slot open and lose no key; with memory raised a rerun converges.
// (c) a run killed mid-migration leaves slots open, then pod 6's memory is too short for the rest:
//     the rerun closes the open slots first, then refuses.
// (d) what (b) leaves when a receiver's OOM stops a slot half moved, made on purpose (no grow): the
//     keys go back to the source, which still has the slot MIGRATING when the repair begins.
// (e) a killed run can leave a Valkey replica showing a slot open its master never opened: a run
//     refused for memory closes that too before it stops.
// (f) allkeys-lru with room enough at the start, maxmemory lowered under the run (as clients
//     writing to pod 6 meanwhile would fill it): pod 6 evicts keys while it receives, and the run
//     must not exit 0; it names pod 6 and the count first, also when pod 6 ran out of memory too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LocalRedisPods } from '../support/redis-pods.js';
import { assertClusterShape, openSlotsAnywhere, ordinalOf, readClusterNodes, topologySnapshot } from '../support/cluster-view.js';
import { tagForSlot } from '../support/key-slots.js';
import { assertAllKeys, bulkClient, keysOnMasters, loadKeys, type KeySet } from '../support/keyspace.js';
import { configSet, readInfo } from '../support/node-info.js';
import { dryRunMoves } from '../support/planned-moves.js';
import { describeRun, runTopology, runTopologyOk, startTopology, topologyArgs, type TopologyRun } from '../support/topology-cli.js';
import { bootstrapSeedCluster } from '../support/seed-cluster.js';

const subnet = 56;
const all = [0, 1, 2, 3, 4, 5, 6, 7];
const mebibytes = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

/** The seed cluster (3 masters x 1 replica) with `keys`, and pods 6 and 7 started for the fourth shard. */
async function startCluster(keys: KeySet): Promise<{ pods: LocalRedisPods; growArgs: string[] }> {
  const pods = new LocalRedisPods({ subnet });
  await bootstrapSeedCluster(pods, keys);
  await pods.startMany(2, 6);
  return { pods, growArgs: topologyArgs({ phase: 'post', masters: 4, replicasPerMaster: 1, pods: pods.addresses(8) }) };
}

async function usedMemory(pods: LocalRedisPods, ordinal: number): Promise<number> {
  return Number((await readInfo(pods, ordinal, 'memory')).used_memory);
}

async function evictedKeys(pods: LocalRedisPods): Promise<Map<number, number>> {
  const evicted = new Map<number, number>();
  for (const ordinal of all) evicted.set(ordinal, Number((await readInfo(pods, ordinal, 'stats')).evicted_keys));
  return evicted;
}

/** Runs the program and calls `action` once when its output first matches `trigger`. */
async function runActingOn(args: string[], trigger: RegExp, action: (running: ReturnType<typeof startTopology>) => Promise<void>): Promise<TopologyRun> {
  let output = '';
  let acted: Promise<void> | undefined;
  const running = startTopology(args, {
    timeoutMs: 120_000,
    onOutput: (chunk) => {
      output += chunk;
      if (!acted && trigger.test(output)) acted = action(running);
    },
  });
  const run = await running.result;
  assert.ok(acted, `the run never printed ${trigger}: ${describeRun(run)}`);
  await acted;
  return run;
}

/**
 * The grow under a rate cap (which stretches the migration to a few seconds), with pod 6's maxmemory
 * lowered to 256 KiB above what it uses once keys start moving. Returns the run and that usage.
 */
async function growSqueezingPod6(pods: LocalRedisPods, growArgs: string[]): Promise<{ run: TopologyRun; squeezedAt: number }> {
  let squeezedAt = 0;
  const run = await runActingOn([...growArgs, '--max-keys-per-second', '3000'], /migrating: \d+\/\d+ slots/, async () => {
    squeezedAt = await usedMemory(pods, 6);
    await configSet(pods, [6], 'maxmemory', String(squeezedAt + 256 * 1024));
  });
  return { run, squeezedAt };
}

async function assertNoOpenSlot(pods: LocalRedisPods, run: TopologyRun, ordinals = all): Promise<void> {
  const open = await openSlotsAnywhere(pods, ordinals);
  assert.deepEqual(open, [], `slots left open after the run: ${open.slice(0, 10).join(', ')}\n${describeRun(run)}`);
}

test('(a) an evicting receiver too small for the big values coming to it: refused before anything moves, nothing evicted', async () => {
  const keys: KeySet = { prefix: 'evict', count: 30_000, valueSize: 100 };
  const { pods, growArgs } = await startCluster(keys);
  try {
    // The big values go exactly into slots that move to pod 6: 40 of 100 KiB from each source.
    const moves = (await dryRunMoves(growArgs)).filter((move) => move.to === 6);
    const bigValue = 'x'.repeat(100 * 1024);
    const bigKeys: string[] = [];
    const cluster = bulkClient(pods);
    try {
      for (const move of moves) {
        for (const slot of move.slots.slice(0, 40)) {
          const key = `evict:big:{${tagForSlot(slot)}}`;
          await cluster.set(key, bigValue);
          bigKeys.push(key);
        }
      }
    } finally {
      await cluster.quit();
    }
    const room = 10 * 2 ** 20;
    const used = await usedMemory(pods, 6);
    await configSet(pods, [6], 'maxmemory-policy', 'allkeys-lru');
    await configSet(pods, [6], 'maxmemory', String(used + room));
    console.log(
      `(a) ${bigKeys.length} values of 100 KiB in slots moving to pod 6; pod 6 uses ${mebibytes(used)}, maxmemory ${mebibytes(used + room)} allkeys-lru`,
    );

    const before = await topologySnapshot(pods, all);
    const run = await runTopology(growArgs, { timeoutMs: 120_000 });
    const output = run.stdout + run.stderr;
    console.log(`(a) exit ${run.code} in ${run.durationMs} ms: ${output.split('\n').find((line) => / ERROR /.test(line)) ?? '(no ERROR line)'}`);
    const evicted = await evictedKeys(pods);
    assert.deepEqual(
      [...evicted].filter(([, count]) => count > 0),
      [],
      `keys were evicted: ${describeRun(run)}`,
    );
    assert.notEqual(run.code, 0, `expected a refusal: ${describeRun(run)}`);
    assert.match(output, new RegExp(`pod 6 \\(${pods.hostOf(6).replaceAll('.', '\\.')}:\\d+\\) would need ~\\d+ MiB`), describeRun(run));
    assert.match(output, /allkeys-lru would evict keys/, describeRun(run));
    assert.deepEqual(await topologySnapshot(pods, all), before, `the refused run changed the cluster: ${describeRun(run)}`);
    assert.equal(await keysOnMasters(pods, all), keys.count + bigKeys.length);
    await assertAllKeys(pods, keys);
    const reader = bulkClient(pods);
    try {
      for (const key of bigKeys) assert.equal(await reader.strlen(key), bigValue.length, `${key} is gone`);
    } finally {
      await reader.quit();
    }
  } finally {
    await pods.destroy();
  }
});

test('(b) a noeviction receiver runs out of memory mid-way: the run says so, no slot is left open, no key lost; with memory a rerun converges', async () => {
  const keys: KeySet = { prefix: 'oom', count: 60_000, valueSize: 300 };
  const { pods, growArgs } = await startCluster(keys);
  try {
    const { run, squeezedAt } = await growSqueezingPod6(pods, growArgs);
    const output = run.stdout + run.stderr;
    console.log(
      `(b) maxmemory of pod 6 set to ${mebibytes(squeezedAt)} + 256 KiB mid-way; exit ${run.code} in ${run.durationMs} ms: ${output.split('\n').find((line) => / ERROR /.test(line)) ?? '(no ERROR line)'}`,
    );
    assert.equal(run.timedOut, false, describeRun(run));
    assert.notEqual(run.code, 0, describeRun(run));
    assert.match(output, new RegExp(`pod 6 \\(${pods.hostOf(6).replaceAll('.', '\\.')}:\\d+\\) ran out of memory while receiving`), describeRun(run));
    await assertNoOpenSlot(pods, run);
    assert.equal(await keysOnMasters(pods, all), keys.count, `keys on masters after the stopped run: ${describeRun(run)}`);
    await assertAllKeys(pods, keys);

    await configSet(pods, [6], 'maxmemory', '0');
    await runTopologyOk(growArgs, { timeoutMs: 120_000 });
    await assertClusterShape(pods, { masters: 4, replicasPerMaster: 1 });
    assert.equal(await keysOnMasters(pods, all), keys.count);
    await assertAllKeys(pods, keys);
  } finally {
    await pods.destroy();
  }
});

test('(c) a rerun after a killed run, with too little memory for the rest: it closes the open slots first, then refuses', async () => {
  const keys: KeySet = { prefix: 'reopen', count: 60_000, valueSize: 300 };
  const { pods, growArgs } = await startCluster(keys);
  try {
    const slowGrow = [...growArgs, '--max-keys-per-second', '3000'];
    const killed = await runActingOn(slowGrow, /migrating \d+ slots/, async (running) => {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      running.child.kill('SIGKILL');
    });
    assert.equal(killed.signal, 'SIGKILL', `the run finished before the kill: ${describeRun(killed)}`);
    const leftOpen = await openSlotsAnywhere(pods, all);
    assert.ok(leftOpen.length > 0, 'the killed run left no slot open: nothing to test');
    const used = await usedMemory(pods, 6);
    await configSet(pods, [6], 'maxmemory', String(used + 512 * 1024));
    console.log(`(c) killed run left ${leftOpen.length} open slot entries; pod 6 uses ${mebibytes(used)}, maxmemory + 512 KiB`);

    const run = await runTopology(growArgs, { timeoutMs: 120_000 });
    const output = run.stdout + run.stderr;
    console.log(`(c) rerun: exit ${run.code} in ${run.durationMs} ms: ${output.split('\n').find((line) => / ERROR /.test(line)) ?? '(no ERROR line)'}`);
    assert.equal(run.timedOut, false, describeRun(run));
    assert.notEqual(run.code, 0, `expected a refusal for memory: ${describeRun(run)}`);
    assert.match(output, /memory/, describeRun(run));
    await assertNoOpenSlot(pods, run);
    assert.equal(await keysOnMasters(pods, all), keys.count);
    await assertAllKeys(pods, keys);

    await configSet(pods, [6], 'maxmemory', '0');
    await runTopologyOk(growArgs, { timeoutMs: 120_000 });
    await assertClusterShape(pods, { masters: 4, replicasPerMaster: 1 });
    await assertAllKeys(pods, keys);
  } finally {
    await pods.destroy();
  }
});

test('(d) a slot half moved to a master with no room left goes back to its source, keys and all', async () => {
  const keys: KeySet = { prefix: 'back', count: 6_000, valueSize: 300 };
  const pods = new LocalRedisPods({ subnet });
  try {
    await bootstrapSeedCluster(pods, keys);
    const masters = (await readClusterNodes(pods, 0)).filter((entry) => entry.role === 'master');
    const [source, target] = [0, 2].map((ordinal) => masters.find((entry) => entry.address === pods.addresses(6)[ordinal])!);
    assert.ok(source && target, 'pods 0 and 2 are masters after the bootstrap');
    const slot = source.slots[0];
    const slotKeys: KeySet = { prefix: `back:{${tagForSlot(slot)}}`, count: 200, valueSize: 300 };
    const cluster = bulkClient(pods);
    try {
      await loadKeys(cluster, slotKeys);
    } finally {
      await cluster.quit();
    }
    // The state a migration stopped by the target's OOM leaves: half the keys on the target, the slot open on both.
    const sourceClient = pods.connect(0);
    const targetClient = pods.connect(2);
    try {
      await targetClient.call('CLUSTER', 'SETSLOT', slot, 'IMPORTING', source.id);
      await sourceClient.call('CLUSTER', 'SETSLOT', slot, 'MIGRATING', target.id);
      const half = (await sourceClient.call('CLUSTER', 'GETKEYSINSLOT', slot, 100)) as string[];
      await sourceClient.call('MIGRATE', pods.hostOf(2), pods.port, '', 0, 5000, 'KEYS', ...half);
    } finally {
      sourceClient.disconnect();
      targetClient.disconnect();
    }
    await configSet(pods, [2], 'maxmemory', String((await usedMemory(pods, 2)) + 256 * 1024));

    const run = await runTopology(topologyArgs({ phase: 'post', masters: 3, replicasPerMaster: 1, pods: pods.addresses(6) }), { timeoutMs: 120_000 });
    assert.match(run.stdout, new RegExp(`slot ${slot} was being migrated .* lacks the memory for the rest: moving its keys back`), describeRun(run));
    assert.equal(run.code, 0, describeRun(run));
    await assertNoOpenSlot(pods, run, [0, 1, 2, 3, 4, 5]);
    const counts = await Promise.all(
      [0, 2].map(async (ordinal) => {
        const client = pods.connect(ordinal);
        try {
          return Number(await client.call('CLUSTER', 'COUNTKEYSINSLOT', slot));
        } finally {
          client.disconnect();
        }
      }),
    );
    assert.deepEqual(counts, [200, 0], `keys of slot ${slot} on pods 0 and 2`);
    await assertAllKeys(pods, keys);
    await assertAllKeys(pods, slotKeys);
  } finally {
    await pods.destroy();
  }
});

test('(e) a replica left showing a slot open that its master never opened: a run refused for memory closes it too', async () => {
  const keys: KeySet = { prefix: 'ahead', count: 3_000 };
  const { pods, growArgs } = await startCluster(keys);
  try {
    const nodes = await readClusterNodes(pods, 0);
    const idOf = (ordinal: number) => nodes.find((entry) => entry.address === pods.addresses(8)[ordinal])!.id;
    const replica = ordinalOf(pods, nodes.find((entry) => entry.masterId === idOf(0))!.address);
    const slot = nodes.find((entry) => entry.id === idOf(0))!.slots[0];
    // Valkey sends SETSLOT to the replicas and applies it once they answer: with the replica stopped
    // and the client gone before it answers, the replica ends MIGRATING and its master not (Redis
    // applies it on the master at once, and the repair closes it there).
    const replicaProcess = pods.pods.get(replica)!.process!;
    replicaProcess.kill('SIGSTOP');
    const client = pods.connect(0);
    client.on('error', () => {});
    try {
      client.call('CLUSTER', 'SETSLOT', slot, 'MIGRATING', idOf(2)).catch(() => {});
      await new Promise((resolve) => setTimeout(resolve, 300));
    } finally {
      client.disconnect();
      replicaProcess.kill('SIGCONT');
    }
    const deadline = Date.now() + 10_000;
    while ((await openSlotsAnywhere(pods, all)).length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    const leftOpen = await openSlotsAnywhere(pods, all);
    assert.ok(leftOpen.length > 0, 'no node shows the slot open: nothing to test');
    await configSet(pods, [6], 'maxmemory', String((await usedMemory(pods, 6)) + 256 * 1024));
    console.log(`(e) open before the run: ${leftOpen.join(', ')}`);

    const run = await runTopology(growArgs, { timeoutMs: 120_000 });
    assert.notEqual(run.code, 0, `expected a refusal for memory: ${describeRun(run)}`);
    assert.match(run.stdout + run.stderr, /not enough memory/, describeRun(run));
    await assertNoOpenSlot(pods, run);
    assert.equal(await keysOnMasters(pods, all), keys.count);
    await assertAllKeys(pods, keys);
  } finally {
    await pods.destroy();
  }
});

test('(f) an evicting receiver that evicts keys during the run: the run ends non-zero naming the pod and the count, no slot left open', async () => {
  const keys: KeySet = { prefix: 'evicting', count: 60_000, valueSize: 300 };
  const { pods, growArgs } = await startCluster(keys);
  try {
    await configSet(pods, [6], 'maxmemory-policy', 'allkeys-lru');
    const { run, squeezedAt } = await growSqueezingPod6(pods, growArgs);
    const output = run.stdout + run.stderr;
    const evicted = (await evictedKeys(pods)).get(6)!;
    console.log(
      `(f) maxmemory of pod 6 set to ${mebibytes(squeezedAt)} + 256 KiB mid-way, ${evicted} keys evicted there; exit ${run.code} in ${run.durationMs} ms: ${output.split('\n').find((line) => / ERROR /.test(line)) ?? '(no ERROR line)'}`,
    );
    assert.ok(evicted > 0, `pod 6 evicted nothing, so the case was not made: ${describeRun(run)}`);
    assert.equal(run.timedOut, false, describeRun(run));
    assert.notEqual(run.code, 0, `keys were evicted on a receiver, yet the run exited 0: ${describeRun(run)}`);
    // Either eviction keeps up and the run ends on the evictions, or the receiver also refuses a
    // write (OOM: it could not evict enough in time) and the run stops for that: the evictions
    // come first in its error either way, since raising memory cannot bring those keys back.
    assert.match(
      output,
      new RegExp(
        `keys were evicted on masters that received slots during the run.*pod 6 \\(${pods.hostOf(6).replaceAll('.', '\\.')}:\\d+\\) evicted \\d+ keys \\(maxmemory-policy allkeys-lru\\)`,
      ),
      describeRun(run),
    );
    await assertNoOpenSlot(pods, run);
  } finally {
    await pods.destroy();
  }
});
