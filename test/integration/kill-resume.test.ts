// The program SIGKILLed at random moments while it migrates slots (growing 3->4 masters
// and, in pre, shrinking back), then run again until it exits 0: every run must finish
// what the killed one left (open slots, half-joined nodes) and no key may be lost.
// The random kill delays come from a seed printed at the start (KILL_SEED=... to replay).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { LocalRedisPods } from '../support/redis-pods.js';
import { assertClusterShape } from '../support/cluster-view.js';
import { assertAllKeys, bulkClient, keysOnMasters, loadKeys, type KeySet } from '../support/keyspace.js';
import { describeRun, ensureBundle, runTopology, runTopologyOk, startTopology, topologyArgs, type TopologyRun } from '../support/topology-cli.js';

const pods = new LocalRedisPods({ subnet: 43 });
// Enough data that a quarter of it takes the program a few seconds to move.
const keys: KeySet = { prefix: 'kill', count: Number(process.env.KILL_KEYS ?? 150_000), valueSize: 100 };
const maxKillRounds = 12;
const timeBudgetMs = 150_000;
const seed = Number(process.env.KILL_SEED ?? Date.now() % 1_000_000);

/** mulberry32: a small seeded generator, so a failing sequence of kill points can be replayed. */
function seededRandom(state: number): () => number {
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const random = seededRandom(seed);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Starts the program, SIGKILLs it after delayMs unless it finished first. */
async function runAndKill(args: string[], delayMs: number): Promise<{ killed: boolean; run: TopologyRun }> {
  const running = startTopology(args);
  const finishedFirst = await Promise.race([running.result.then(() => true), sleep(delayMs).then(() => false)]);
  if (!finishedFirst) running.child.kill('SIGKILL');
  const run = await running.result;
  return { killed: run.signal === 'SIGKILL', run };
}

/** Runs again (sometimes killing the first retry too) until exit 0; bounded. */
async function resumeUntilDone(args: string[], estimateMs: number): Promise<number> {
  let attempts = 0;
  if (random() < 0.3) {
    attempts++;
    await runAndKill(args, 50 + random() * estimateMs * 0.5);
  }
  for (;;) {
    attempts++;
    const run = await runTopology(args, { timeoutMs: 120_000 });
    if (run.code === 0) return attempts;
    assert.ok(attempts < 5, `no convergence after ${attempts} runs; last: ${describeRun(run)}`);
  }
}

before(async () => {
  ensureBundle();
  await pods.startMany(6);
  await runTopologyOk(topologyArgs({ phase: 'post', masters: 3, replicasPerMaster: 1, pods: pods.addresses(6) }));
  const cluster = bulkClient(pods);
  try {
    await loadKeys(cluster, keys);
  } finally {
    await cluster.quit();
  }
  await pods.startMany(2, 6);
});

after(async () => {
  await pods.destroy();
});

test('5. SIGKILL during grow (post) and shrink (pre) migrations, then rerun: converges, no key lost', async () => {
  console.log(`kill-resume: seed ${seed} (KILL_SEED=${seed} replays it), ${keys.count} keys`);
  const growArgs = topologyArgs({ phase: 'post', masters: 4, replicasPerMaster: 1, pods: pods.addresses(8) });
  const shrinkArgs = topologyArgs({ phase: 'pre', masters: 3, replicasPerMaster: 1, pods: pods.addresses(8) });
  // Kill delays are drawn below the last observed length of a full run of that phase.
  const fullRunMs = { grow: 3000, shrink: 3000 };
  const startedAt = Date.now();
  let killsLanded = 0;
  for (let round = 0; round < maxKillRounds && Date.now() - startedAt < timeBudgetMs; round++) {
    const growing = round % 2 === 0;
    const kind = growing ? 'grow' : 'shrink';
    const args = growing ? growArgs : shrinkArgs;
    const delayMs = Math.round(100 + random() * fullRunMs[kind]);
    const { killed, run } = await runAndKill(args, delayMs);
    if (killed) {
      killsLanded++;
      const attempts = await resumeUntilDone(args, fullRunMs[kind]);
      console.log(`round ${round} ${kind}: killed after ${delayMs} ms, converged after ${attempts} more run(s)`);
    } else {
      assert.equal(run.code, 0, describeRun(run));
      fullRunMs[kind] = run.durationMs;
      console.log(`round ${round} ${kind}: finished in ${run.durationMs} ms before the kill at ${delayMs} ms`);
    }

    if (growing) {
      await assertClusterShape(pods, { masters: 4, replicasPerMaster: 1 });
    } else {
      // The StatefulSet shrinks (the volumes stay, as PVCs do), post runs on the 6 survivors,
      // then the pods come back empty for the next grow.
      await pods.stop(6);
      await pods.stop(7);
      await runTopologyOk(topologyArgs({ phase: 'post', masters: 3, replicasPerMaster: 1, pods: pods.addresses(6) }));
      await assertClusterShape(pods, { masters: 3, replicasPerMaster: 1 });
      await pods.startMany(2, 6);
    }
    assert.equal(await keysOnMasters(pods, [0, 1, 2, 3, 4, 5, 6, 7]), keys.count, `round ${round}: keys on masters`);
    await assertAllKeys(pods, keys);
  }
  console.log(`kill-resume: ${killsLanded} kills landed mid-run in ${Math.round((Date.now() - startedAt) / 1000)} s`);
  assert.ok(killsLanded >= 4, `only ${killsLanded} kills landed while the program ran`);
});
