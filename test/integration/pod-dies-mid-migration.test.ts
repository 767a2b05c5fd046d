// A pod dies while slots migrate to it: the program must give up within bounded time with a
// message naming the pod (a Job that hangs blocks the sync), and once the pod is back (its
// volume kept: appendonly, as the chart's redis.conf) a rerun converges with every key.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { LocalRedisPods } from '../support/redis-pods.js';
import { assertClusterShape } from '../support/cluster-view.js';
import { assertAllKeys, type KeySet } from '../support/keyspace.js';
import { describeRun, runTopologyOk, startTopology, topologyArgs } from '../support/topology-cli.js';
import { bootstrapSeedCluster } from '../support/seed-cluster.js';

const pods = new LocalRedisPods({ subnet: 40, extraArgs: ['--appendonly', 'yes'] });
const keys: KeySet = { prefix: 'dies', count: 80_000, valueSize: 100 };

before(async () => {
  await bootstrapSeedCluster(pods, keys);
  await pods.startMany(2, 6);
  // Valkey 9 moves these slots itself in about 0.2 s, before any kill could land; a delay per key
  // in the snapshot its sources fork (the setting Valkey's own tests slow a child with; MIGRATE
  // does not fork, so Redis 7 and the MIGRATE engine are unchanged) keeps its jobs running ~2 s.
  for (const ordinal of [0, 2, 4]) {
    const client = pods.connect(ordinal);
    await client.config('SET', 'rdb-key-save-delay', '100');
    client.disconnect();
  }
});

after(async () => {
  await pods.destroy();
});

test('the target of a migration is killed: the program exits non-zero naming it, a rerun after it restarts converges', async () => {
  const args = topologyArgs({ phase: 'post', masters: 4, replicasPerMaster: 1, pods: pods.addresses(8) });
  let output = '';
  let killed: Promise<void> | undefined;
  const running = startTopology(args, {
    timeoutMs: 60_000,
    onOutput: (chunk) => {
      output += chunk;
      if (!killed && /migrating \d+ slots/.test(output)) {
        killed = new Promise((resolve) => setTimeout(resolve, 500)).then(() => pods.stop(6, 'SIGKILL'));
      }
    },
  });
  const run = await running.result;
  await killed;
  assert.ok(killed, `the migration never started: ${describeRun(run)}`);
  assert.equal(run.timedOut, false, `the program hung after pod 6 died: ${describeRun(run)}`);
  assert.notEqual(run.code, 0, describeRun(run));
  assert.match(run.stdout + run.stderr, new RegExp(`pod 6|${pods.hostOf(6).replaceAll('.', '\\.')}`), describeRun(run));

  await pods.start(6);
  await runTopologyOk(args, { timeoutMs: 120_000 });
  await assertClusterShape(pods, { masters: 4, replicasPerMaster: 1 });
  await assertAllKeys(pods, keys);
});
