// At most one run changes the cluster at a time. Two runs started at once (a Job retried while
// the first still runs, or two syncs) must not fight over the same slots: one waits for the
// other and says so, and both end with the cluster as wanted. A run that was SIGKILLed holds
// nothing: runs started right after it do not wait for it.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { LocalRedisPods } from '../support/redis-pods.js';
import { assertClusterShape, openSlotsAnywhere } from '../support/cluster-view.js';
import { assertAllKeys, keysOnMasters, type KeySet } from '../support/keyspace.js';
import { describeRun, runTopologyOk, startTopology, topologyArgs, type TopologyRun } from '../support/topology-cli.js';
import { bootstrapSeedCluster } from '../support/seed-cluster.js';

const pods = new LocalRedisPods({ subnet: 54 });
const keys: KeySet = { prefix: 'concurrent', count: 60_000, valueSize: 100 };
const all = [0, 1, 2, 3, 4, 5, 6, 7];
const waitingLine = /another topology run \((pre|post), started \S+ ago, from \S+\) is changing the cluster; waiting for it to finish/;

before(async () => {
  await bootstrapSeedCluster(pods, keys);
  await pods.startMany(2, 6);
});

after(async () => {
  await pods.destroy();
});

/** Starts two runs of `args` at the same moment; resolves with both results. */
async function twoAtOnce(args: string[]): Promise<[TopologyRun, TopologyRun]> {
  const first = startTopology(args, { timeoutMs: 150_000 });
  const second = startTopology(args, { timeoutMs: 150_000 });
  return Promise.all([first.result, second.result]);
}

const stamp = (line: string | undefined) => Date.parse(/^(\S+Z) /.exec(line ?? '')?.[1] ?? '');
const linesOf = (run: TopologyRun) => (run.stdout + run.stderr).split('\n').filter((line) => line.trim() !== '');

/** ms from a run's first log line to its first line matching `pattern`, by the ISO timestamps. */
function msUntil(run: TopologyRun, pattern: RegExp): number {
  const lines = linesOf(run);
  return stamp(lines.find((line) => pattern.test(line))) - stamp(lines[0]);
}

/** The waiting run began reading the cluster (its first "servers:" line) only after the other run's last line. */
function assertOneAfterTheOther(waiting: TopologyRun, other: TopologyRun): void {
  const began = stamp(linesOf(waiting).find((line) => /: servers: /.test(line)));
  const otherEnded = stamp(linesOf(other).at(-1));
  assert.ok(began >= otherEnded, `the waiting run began at ${new Date(began).toISOString()}, before the other ended at ${new Date(otherEnded).toISOString()}`);
}

function describeBoth(runs: TopologyRun[]): string {
  return runs.map((run) => describeRun(run, 25)).join('\n\n');
}

test('two post runs started at once: one waits for the other, saying so; both exit 0 with the cluster grown and every key there', async () => {
  const growArgs = topologyArgs({ phase: 'post', masters: 4, replicasPerMaster: 1, pods: pods.addresses(8) });
  const runs = await twoAtOnce(growArgs);
  for (const run of runs)
    console.log(`exit ${run.code} in ${run.durationMs} ms; ${(run.stdout + run.stderr).split('\n').find((line) => waitingLine.test(line)) ?? 'did not wait'}`);
  assert.deepEqual(
    runs.map((run) => run.code),
    [0, 0],
    describeBoth(runs),
  );
  const waiting = runs.filter((run) => waitingLine.test(run.stdout + run.stderr));
  assert.equal(waiting.length, 1, `exactly one run should wait for the other:\n${describeBoth(runs)}`);
  assert.match(waiting[0].stdout + waiting[0].stderr, /another topology run \(post,/, describeBoth(runs));
  assertOneAfterTheOther(
    waiting[0],
    runs.find((run) => run !== waiting[0])!,
  );
  await assertClusterShape(pods, { masters: 4, replicasPerMaster: 1 });
  assert.equal(await keysOnMasters(pods, all), keys.count);
  await assertAllKeys(pods, keys);
});

test('a run SIGKILLed mid-migration holds no lease: the runs started right after it do not wait for it, and finish its work', async () => {
  const shrinkArgs = topologyArgs({ phase: 'pre', masters: 3, replicasPerMaster: 1, pods: pods.addresses(8) });
  let output = '';
  let killed = false;
  const doomed = startTopology([...shrinkArgs, '--max-keys-per-second', '5000'], {
    timeoutMs: 150_000,
    onOutput: (chunk) => {
      output += chunk;
      if (!killed && /migrating \d+ slots/.test(output)) {
        killed = true;
        setTimeout(() => doomed.child.kill('SIGKILL'), 500);
      }
    },
  });
  const doomedRun = await doomed.result;
  assert.equal(doomedRun.signal, 'SIGKILL', `the run finished before the kill: ${describeRun(doomedRun)}`);
  const open = await openSlotsAnywhere(pods, all);
  console.log(`killed the shrink mid-migration (${open.length} open slot entries left)`);

  // Two at once again: neither may wait for the dead run, so one starts at once and the other
  // waits only for it.
  const runs = await twoAtOnce(shrinkArgs);
  for (const run of runs)
    console.log(`exit ${run.code} in ${run.durationMs} ms; ${(run.stdout + run.stderr).split('\n').find((line) => waitingLine.test(line)) ?? 'did not wait'}`);
  assert.deepEqual(
    runs.map((run) => run.code),
    [0, 0],
    describeBoth(runs),
  );
  const leader = runs.filter((run) => !waitingLine.test(run.stdout + run.stderr));
  assert.equal(leader.length, 1, `exactly one run should go ahead at once:\n${describeBoth(runs)}`);
  const planAfterMs = msUntil(leader[0], /plan/);
  assert.ok(planAfterMs < 5000, `the run that did not wait took ${planAfterMs} ms to plan:\n${describeRun(leader[0])}`);
  assertOneAfterTheOther(
    runs.find((run) => run !== leader[0])!,
    leader[0],
  );

  await pods.stop(6);
  await pods.stop(7);
  await runTopologyOk(topologyArgs({ phase: 'post', masters: 3, replicasPerMaster: 1, pods: pods.addresses(6) }));
  await assertClusterShape(pods, { masters: 3, replicasPerMaster: 1 });
  assert.equal(await keysOnMasters(pods, [0, 1, 2, 3, 4, 5]), keys.count);
  await assertAllKeys(pods, keys);
});
