// The program SIGKILLed at random moments while it migrates slots (growing 3->4 masters
// and, in pre, shrinking back), then run again until it exits 0: every run must finish
// what the killed one left (open slots, half-joined nodes) and no key may be lost.
// The random kill delays come from a seed printed at the start (KILL_SEED=... to replay).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { runPreStop } from '../support/pre-stop.js';
import { LocalRedisPods } from '../support/redis-pods.js';
import { assertClusterShape } from '../support/cluster-view.js';
import { assertAllKeys, keysOnMasters, type KeySet } from '../support/keyspace.js';
import { describeRun, runTopology, runTopologyOk, startTopology, topologyArgs, type TopologyRun } from '../support/topology-cli.js';
import { bootstrapSeedCluster } from '../support/seed-cluster.js';

// appendonly as the chart's redis.conf has it: pods 6 and 7 keep their volumes across the
// shrink, so what the program did to them (reset, flush) must have reached the disk.
const pods = new LocalRedisPods({ subnet: 43, extraArgs: ['--appendonly', 'yes'] });
// Enough data that a quarter of it takes the program a few seconds to move.
const keys: KeySet = { prefix: 'kill', count: Number(process.env.KILL_KEYS ?? 80_000), valueSize: 100 };
const maxKillRounds = 12;
const timeBudgetMs = 110_000;
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

/**
 * Starts the program and SIGKILLs it delayMs after it starts or, with `after`, delayMs after
 * a line matching `after` appears in its output; unless it finished first.
 */
async function runAndKill(args: string[], delayMs: number, after?: RegExp): Promise<{ killed: boolean; run: TopologyRun }> {
  let output = '';
  let sawTrigger!: () => void;
  const trigger = new Promise<void>((resolve) => (sawTrigger = resolve));
  if (!after) sawTrigger();
  const running = startTopology(args, {
    onOutput: (chunk) => {
      output += chunk;
      if (after?.test(output)) sawTrigger();
    },
  });
  const finished = running.result.then(() => true);
  const finishedFirst = await Promise.race([finished, trigger.then(() => Promise.race([finished, sleep(delayMs).then(() => false)]))]);
  if (!finishedFirst) running.child.kill('SIGKILL');
  const run = await running.result;
  return { killed: run.signal === 'SIGKILL', run };
}

/** Runs again (sometimes killing the first retry too) until exit 0; bounded. Returns how it went. */
async function resumeUntilDone(args: string[], estimateMs: number): Promise<{ summary: string; last: TopologyRun }> {
  const attempts: string[] = [];
  if (random() < 0.3) {
    const delayMs = Math.round(50 + random() * estimateMs * 0.5);
    const { killed, run } = await runAndKill(args, delayMs);
    attempts.push(killed ? `killed again after ${delayMs} ms` : `exit ${run.code} in ${run.durationMs} ms`);
    if (run.code === 0) return { summary: attempts.join(', '), last: run };
  }
  for (;;) {
    const run = await runTopology(args, { timeoutMs: 120_000 });
    attempts.push(`exit ${run.code} in ${run.durationMs} ms`);
    if (run.code === 0) return { summary: attempts.join(', '), last: run };
    assert.ok(attempts.length < 5, `no convergence after ${attempts.length} runs; last: ${describeRun(run)}`);
  }
}

/** From the log line that starts the migration to the run's last line, by their ISO timestamps; 0 if none. */
function migrationDurationMs(run: TopologyRun): number {
  const lines = (run.stdout + run.stderr).split('\n');
  const stamp = (line: string | undefined) => Date.parse(/^(\S+Z) /.exec(line ?? '')?.[1] ?? '');
  const started = stamp(lines.find((line) => /migrating \d+ slots/.test(line)));
  const ended = stamp(lines.filter((line) => line.trim() !== '').at(-1));
  return Number.isFinite(started) && Number.isFinite(ended) ? ended - started : 0;
}

before(async () => {
  await bootstrapSeedCluster(pods, keys);
  await pods.startMany(2, 6);
});

after(async () => {
  await pods.destroy();
});

test('5. SIGKILL during grow (post) and shrink (pre) migrations, then rerun: converges, no key lost', async () => {
  console.log(`kill-resume: seed ${seed} (KILL_SEED=${seed} replays it), ${keys.count} keys`);
  const growArgs = topologyArgs({ phase: 'post', masters: 4, replicasPerMaster: 1, pods: pods.addresses(8) });
  const shrinkArgs = topologyArgs({ phase: 'pre', masters: 3, replicasPerMaster: 1, pods: pods.addresses(8) });
  // Odd rounds of each kind kill at a random moment of the whole run (observing, joining,
  // repairing, migrating); even ones at a random moment after the migration has started
  // (the program logs "migrating N slots ..."). Delays are drawn below the longest run seen.
  const fullRunMs = { grow: 3000, shrink: 3000 };
  const migrationMs = { grow: 2000, shrink: 2000 };
  const startedAt = Date.now();
  let killsLanded = 0;
  let killsDuringMigration = 0;
  for (let round = 0; round < maxKillRounds && Date.now() - startedAt < timeBudgetMs; round++) {
    const roundStartedAt = Date.now();
    const growing = round % 2 === 0;
    const kind = growing ? 'grow' : 'shrink';
    const args = growing ? growArgs : shrinkArgs;
    const afterMigrationStarts = Math.floor(round / 2) % 2 === 0;
    const delayMs = Math.round(afterMigrationStarts ? random() * migrationMs[kind] : 100 + random() * fullRunMs[kind]);
    const { killed, run } = await runAndKill(args, delayMs, afterMigrationStarts ? /migrating \d+ slots/ : undefined);
    if (killed) {
      killsLanded++;
      // The program logs "migrating N slots" as it starts moving data.
      const duringMigration = /migrating/i.test(run.stdout + run.stderr);
      if (duringMigration) killsDuringMigration++;
      const resumed = await resumeUntilDone(args, fullRunMs[kind]);
      // A full run takes at least as long as finishing one: draw later kill points from that.
      fullRunMs[kind] = Math.max(fullRunMs[kind], resumed.last.durationMs);
      migrationMs[kind] = Math.max(migrationMs[kind], migrationDurationMs(resumed.last));
      const when = afterMigrationStarts ? `${delayMs} ms into the migration` : `${delayMs} ms${duringMigration ? ' (while migrating)' : ''}`;
      console.log(`round ${round} ${kind}: killed after ${when}; then ${resumed.summary}`);
    } else {
      assert.equal(run.code, 0, describeRun(run));
      fullRunMs[kind] = run.durationMs;
      migrationMs[kind] = Math.max(migrationMs[kind], migrationDurationMs(run));
      console.log(`round ${round} ${kind}: finished in ${run.durationMs} ms before the kill at ${delayMs} ms`);
    }

    if (growing) {
      await assertClusterShape(pods, { masters: 4, replicasPerMaster: 1 });
    } else {
      // The StatefulSet shrinks (the volumes stay, as PVCs do): each removed pod's preStop hook
      // resets it, as the kubelet runs it; post runs on the 6 survivors, then the pods come back
      // empty for the next grow.
      for (const ordinal of [6, 7]) {
        assert.match(await runPreStop(pods, ordinal), /topology Job removed/, `round ${round}: pod ${ordinal}'s preStop did not reset it`);
        await pods.stop(ordinal);
      }
      await runTopologyOk(topologyArgs({ phase: 'post', masters: 3, replicasPerMaster: 1, pods: pods.addresses(6) }));
      await assertClusterShape(pods, { masters: 3, replicasPerMaster: 1 });
      await pods.startMany(2, 6);
      for (const ordinal of [6, 7]) {
        const client = pods.connect(ordinal);
        client.on('error', () => {});
        const [dbsize, nodes] = await Promise.all([client.dbsize(), client.call('CLUSTER', 'NODES')]).finally(() => client.disconnect());
        assert.equal(dbsize, 0, `round ${round}: pod ${ordinal} comes back with keys`);
        assert.equal(String(nodes).trim().split('\n').length, 1, `round ${round}: pod ${ordinal} comes back knowing other nodes:\n${nodes}`);
      }
    }
    const members = growing ? [0, 1, 2, 3, 4, 5, 6, 7] : [0, 1, 2, 3, 4, 5];
    assert.equal(await keysOnMasters(pods, members), keys.count, `round ${round}: keys on masters`);
    const checkStartedAt = Date.now();
    await assertAllKeys(pods, keys);
    console.log(`round ${round}: ${Date.now() - roundStartedAt} ms in all, key check ${Date.now() - checkStartedAt} ms`);
  }
  console.log(
    `kill-resume: ${killsLanded} kills landed mid-run, ${killsDuringMigration} of them while migrating, in ${Math.round((Date.now() - startedAt) / 1000)} s`,
  );
  assert.ok(killsDuringMigration >= 3, `only ${killsDuringMigration} kills landed while the program migrated slots`);
});
