// Valkey 9 moves slots itself (atomic slot migration: CLUSTER MIGRATESLOTS). The program uses it
// where both ends of a pair can, falls back to MIGRATE for the slots whose job fails, and a
// rerun after a kill waits for the jobs the servers still run instead of planning over them.
// Judged from outside: CLUSTER NODES, valkey-cli --cluster check, every key read back.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { LocalRedisPods } from '../support/redis-pods.js';
import { runPreStop } from '../support/pre-stop.js';
import { assertClusterShape } from '../support/cluster-view.js';
import { assertAllKeys, type KeySet } from '../support/keyspace.js';
import { bootstrapSeedCluster } from '../support/seed-cluster.js';
import { describeRun, runTopologyOk, startTopology, topologyArgs } from '../support/topology-cli.js';

const pods = new LocalRedisPods({ subnet: 90, server: 'valkey9' });
const keys: KeySet = { prefix: 'asm', count: 60_000, valueSize: 100 };
const grow = topologyArgs({ phase: 'post', masters: 4, replicasPerMaster: 1, pods: pods.addresses(8) });
const shrink = topologyArgs({ phase: 'pre', masters: 3, replicasPerMaster: 1, pods: pods.addresses(8) });
const settle = topologyArgs({ phase: 'post', masters: 3, replicasPerMaster: 1, pods: pods.addresses(6) });

before(async () => {
  await bootstrapSeedCluster(pods, keys);
  await pods.startMany(2, 6);
});

after(async () => {
  await pods.destroy();
});

/** Shrinks back to 3 masters the way the Jobs and the StatefulSet do, pods 6 and 7 restarted empty. */
async function shrinkBack(): Promise<string> {
  const run = await runTopologyOk(shrink, { timeoutMs: 120_000 });
  for (const ordinal of [6, 7]) {
    const client = pods.connect(ordinal);
    client.on('error', () => {});
    const nodes = String(await client.call('CLUSTER', 'NODES').finally(() => client.disconnect()));
    assert.match(await runPreStop(pods, ordinal), /topology Job removed/, `pod ${ordinal}'s preStop did not reset it:\n${nodes}`);
    await pods.stop(ordinal);
  }
  await runTopologyOk(settle, { timeoutMs: 120_000 });
  await assertClusterShape(pods, { masters: 3, replicasPerMaster: 1 });
  await pods.startMany(2, 6);
  return run.stdout;
}

test('grow and shrink move slots with the servers own atomic slot migration, every key kept', async () => {
  const grown = await runTopologyOk(grow, { timeoutMs: 120_000 });
  assert.match(grown.stdout, /with the servers' atomic slot migration \(CLUSTER MIGRATESLOTS\)/, describeRun(grown));
  assert.doesNotMatch(grown.stdout, /falling back/, describeRun(grown));
  await assertClusterShape(pods, { masters: 4, replicasPerMaster: 1 });
  await assertAllKeys(pods, keys);

  const shrunk = await shrinkBack();
  assert.match(shrunk, /atomic slot migration/);
  await assertAllKeys(pods, keys);
});

test('a job the servers fail is moved with MIGRATE instead, in the same run', async () => {
  // Kill the target's importing connection as soon as it appears: the job ends failed.
  const target = pods.connect(6);
  target.on('error', () => {});
  let killed = 0;
  const deadline = Date.now() + 60_000;
  const running = startTopology(grow, { timeoutMs: 120_000 });
  let finished = false;
  void running.result.then(() => (finished = true));
  while (!finished && killed === 0 && Date.now() < deadline) {
    const clients = String(await target.call('CLIENT', 'LIST')).split('\n');
    for (const line of clients) {
      const id = /(?:^| )id=(\d+)/.exec(line)?.[1];
      const flags = /(?:^| )flags=(\S+)/.exec(line)?.[1] ?? '';
      if (id && flags.includes('i')) {
        await target.call('CLIENT', 'KILL', 'ID', id).catch(() => undefined);
        killed++;
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  target.disconnect();
  const run = await running.result;
  assert.equal(run.code, 0, describeRun(run));
  assert.ok(killed > 0, `no importing connection was seen to kill: ${describeRun(run)}`);
  assert.match(run.stdout, /ended failed.*moving them with MIGRATE instead/, describeRun(run));
  assert.match(run.stdout, /falling back to the MIGRATE engine for \d+ slots/, describeRun(run));
  await assertClusterShape(pods, { masters: 4, replicasPerMaster: 1 });
  await assertAllKeys(pods, keys);
  await shrinkBack();
});

test('killed while the servers move slots: the rerun waits for their jobs, then finishes; no key lost', async () => {
  // Fresh, empty pods 6 and 7: after the fallback test, pod 7 has once come back from its kept
  // volume holding slots (under investigation, see the closing note of this change).
  for (const ordinal of [6, 7]) await pods.remove(ordinal);
  await pods.startMany(2, 6);
  const running = startTopology(grow, {
    timeoutMs: 120_000,
    onOutput: (chunk) => {
      if (/atomic slot migration \(CLUSTER MIGRATESLOTS\)/.test(chunk)) running.child.kill('SIGKILL');
    },
  });
  const killed = await running.result;
  assert.equal(killed.signal, 'SIGKILL', describeRun(killed));
  const rerun = await runTopologyOk(grow, { timeoutMs: 120_000 });
  await assertClusterShape(pods, { masters: 4, replicasPerMaster: 1 });
  await assertAllKeys(pods, keys);
  console.log(`rerun after the kill: ${rerun.durationMs} ms${/waiting for atomic slot migrations/.test(rerun.stdout) ? ", waited for the servers' jobs" : ''}`);
});
