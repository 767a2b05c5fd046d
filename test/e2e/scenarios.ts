// The seed document's walkthrough and the failure scenarios of the end-to-end issue, run on the
// kubelet stand-in from dist/ as Argo CD or Flux would apply it. Each step prints its wall time.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test, type TestContext } from 'node:test';
import Redis from 'ioredis';
import { AckedWriter } from '../support/acked-writes';
import { loadKeys, verifyKeysWith, type KeySet } from '../support/keyspace';
import { StandInCluster, sleep, type StandInOptions } from '../support/kubelet-standin';
import { ensureBundle } from '../support/topology-cli';
import {
  GitOpsRepository,
  clusterCheck,
  clusterClient,
  clusterRoles,
  createPasswordSecret,
  podAddress,
  postJobName,
  preJobName,
  runningOrdinals,
  statefulSetName,
  timed,
  type GitOpsTool,
} from './gitops-repo';

const keys: KeySet = { prefix: 'seed', count: 5000, valueSize: 64 };

export async function assertAllKeys(cluster: StandInCluster, password: string, keySet: KeySet): Promise<void> {
  const client = clusterClient(cluster, password);
  try {
    const result = await verifyKeysWith(client, keySet, 1000);
    assert.equal(result.missing + result.wrong, 0, `keys lost or wrong: ${result.examples.join(', ')}`);
    assert.equal(result.checked, keySet.count);
  } finally {
    client.disconnect();
  }
}

export async function assertShape(cluster: StandInCluster, password: string, masters: number, replicasPerMaster: number): Promise<void> {
  const check = await clusterCheck(cluster, password);
  assert.ok(check.ok, `${cluster.binaries.cli} --cluster check failed:\n${check.output}`);
  const roles = await clusterRoles(cluster, password);
  assert.equal(roles.masters.size, masters, `masters: ${[...roles.masters.keys()]}`);
  for (const [ordinal, slots] of roles.masters) {
    assert.ok(Math.abs(slots - 16384 / masters) < 1, `redis-cluster-${ordinal} holds ${slots} slots`);
    const replicas = [...roles.replicas.values()].filter((master) => master === ordinal).length;
    assert.equal(replicas, replicasPerMaster, `redis-cluster-${ordinal} has ${replicas} replicas`);
  }
  assert.deepEqual(new Set(roles.states), new Set(['ok']));
}

export function jobLogs(cluster: StandInCluster, name: string): string {
  return cluster.jobs.get(name)?.logs ?? '(job did not run)';
}

/** Ready means: every pod says cluster_state:ok and redis-cli's check passes. */
async function waitClusterHealthy(cluster: StandInCluster, password: string, timeoutMs: number): Promise<number> {
  const started = Date.now();
  for (;;) {
    try {
      const roles = await clusterRoles(cluster, password);
      if (roles.states.every((state) => state === 'ok') && (await clusterCheck(cluster, password)).ok) return Date.now() - started;
    } catch {
      // a pod still starting
    }
    if (Date.now() - started > timeoutMs) throw new Error(`cluster not healthy after ${timeoutMs} ms`);
    await sleep(250);
  }
}

/** A stand-in cluster (with the password Secret) and a GitOps repository for one test, both removed after it. */
export async function newStory(
  tool: GitOpsTool,
  options: StandInOptions,
): Promise<{ password: string; cluster: StandInCluster; repository: GitOpsRepository }> {
  const password = randomBytes(12).toString('hex');
  const cluster = new StandInCluster(options);
  const repository = new GitOpsRepository(tool);
  after(async () => {
    await cluster.destroy();
    repository.remove();
  });
  await createPasswordSecret(cluster, password);
  return { password, cluster, repository };
}

/** Loads `keySet` through a cluster client of the application's kind. */
export async function loadClusterKeys(cluster: StandInCluster, password: string, keySet: KeySet): Promise<void> {
  const client = clusterClient(cluster, password);
  try {
    await loadKeys(client, keySet);
  } finally {
    client.disconnect();
  }
}

/** Runs the steps of one story in order; once a step fails, the rest are skipped, not run on a broken world. */
export function storySteps(t: TestContext): (name: string, step: () => Promise<void>) => Promise<void> {
  let failed = false;
  return async (name, step) => {
    await t.test(name, { skip: failed ? 'an earlier step failed' : false, timeout: 300_000 }, async () => {
      try {
        await step();
      } catch (error) {
        failed = true;
        throw error;
      }
    });
  };
}

export function defineScenarios(tool: GitOpsTool, subnet: number): void {
  before(() => ensureBundle());

  test(`${tool}: the seed walkthrough from first sync to delete, with restarts and a no-op sync`, { timeout: 1_200_000 }, async (t) => {
    const { password, cluster, repository } = await newStory(tool, { subnet });
    const step = storySteps(t);

    await step('first sync of 3 masters x 1 replica forms the cluster by itself', async () => {
      if (tool === 'argocd') repository.useCommittedDist();
      else await repository.synth();
      const result = await timed(`${tool} first sync`, () => repository.sync(cluster));
      assert.ok(result.ok, `sync failed at ${result.failedStep}: ${result.error}`);
      assert.deepEqual(runningOrdinals(cluster), [0, 1, 2, 3, 4, 5]);
      await assertShape(cluster, password, 3, 1);
      const client = clusterClient(cluster, password);
      try {
        assert.equal(await client.set('k1', 'v1'), 'OK');
        assert.equal(await client.get('k1'), 'v1');
        await loadKeys(client, keys);
      } finally {
        client.disconnect();
      }
    });

    await step('a sync with nothing changed changes nothing and finishes quickly', async () => {
      const before = await clusterRoles(cluster, password);
      const eventsBefore = cluster.events.length;
      const result = await timed(`${tool} no-op sync`, () => repository.sync(cluster));
      assert.ok(result.ok, `sync failed at ${result.failedStep}: ${result.error}`);
      const after = await clusterRoles(cluster, password);
      assert.deepEqual(after.masters, before.masters);
      assert.deepEqual(after.replicas, before.replicas);
      const events = cluster.events.slice(eventsBefore);
      assert.ok(!events.some((event) => event.startsWith('pod ')), `pods changed: ${events.join(', ')}`);
      if (tool === 'argocd') {
        // Hooks run on every sync; the program sees the desired shape and stops.
        assert.ok(events.includes(`job succeeded ${preJobName}`) && events.includes(`job succeeded ${postJobName}`), events.join(', '));
        assert.match(jobLogs(cluster, postJobName), /already has the desired shape/);
        console.log(`no-op Jobs: pre ${cluster.jobs.get(preJobName)?.durationMs} ms, post ${cluster.jobs.get(postJobName)?.durationMs} ms`);
      } else {
        // Flux re-applies unchanged Jobs as no-ops: they do not run again until the desired shape changes.
        assert.ok(!events.some((event) => event.startsWith('job started')), events.join(', '));
      }
    });

    await step('every pod killed at once and back with a new address: healthy again by itself within 30 s', async () => {
      const oldAddresses = runningOrdinals(cluster).map((ordinal) => podAddress(cluster, ordinal));
      const eventsBefore = cluster.events.length;
      // As when every node fails at once: no preStop, no clean shutdown.
      await cluster.restartAllPods(statefulSetName, { crash: true });
      const newAddresses = runningOrdinals(cluster).map((ordinal) => podAddress(cluster, ordinal));
      assert.ok(
        newAddresses.every((address) => !oldAddresses.includes(address)),
        'pods kept their addresses',
      );
      const healedMs = await waitClusterHealthy(cluster, password, 30_000);
      console.log(`${tool}: cluster healthy ${(healedMs / 1000).toFixed(1)} s after every pod restarted with a new address`);
      assert.ok(!cluster.events.slice(eventsBefore).some((event) => event.startsWith('job ')), 'a Job ran');
      await assertShape(cluster, password, 3, 1);
      await assertAllKeys(cluster, password, keys);
    });

    await step('a rolling restart while a client writes loses no acknowledged write', async () => {
      const client = clusterClient(cluster, password);
      const writer = new AckedWriter(client, { writers: 4, pauseMs: 2, maxDurationMs: 180_000, prefix: `rolling-${tool}` });
      try {
        writer.start();
        await sleep(500);
        await timed(`${tool} rolling restart`, () => cluster.rollingRestart(statefulSetName));
        await waitClusterHealthy(cluster, password, 60_000);
        const report = await writer.stop();
        console.log(`${tool} rolling restart: ${report.acknowledged} writes acknowledged, ${report.errors} failed (${report.errorKinds.join(' | ')})`);
        const reader = clusterClient(cluster, password);
        try {
          const check = await writer.check(reader);
          assert.equal(check.lost, 0, `acknowledged writes lost: ${check.examples.join(', ')}`);
          assert.ok(report.acknowledged > 0);
        } finally {
          reader.disconnect();
        }
      } finally {
        await writer.stop();
        client.disconnect();
      }
      await assertAllKeys(cluster, password, keys);
    });

    await step('masters 3 -> 4: 8 pods, balanced, every key present', async () => {
      console.log(await repository.synth({ masters: 4 }));
      const result = await timed(`${tool} sync to 4 masters`, () => repository.sync(cluster));
      assert.ok(result.ok, `sync failed at ${result.failedStep}: ${result.error}\n${jobLogs(cluster, postJobName)}`);
      assert.deepEqual(runningOrdinals(cluster), [0, 1, 2, 3, 4, 5, 6, 7]);
      await assertShape(cluster, password, 4, 1);
      const roles = await clusterRoles(cluster, password);
      assert.ok(roles.masters.has(6) && roles.replicas.get(7) === 6, 'pod 6 is the new master, pod 7 its replica');
      await assertAllKeys(cluster, password, keys);
    });

    await step('masters 4 -> 3: pods 6 and 7 go only after their slots moved, every key present', async () => {
      console.log(await repository.synth({ masters: 3 }));
      const eventsBefore = cluster.events.length;
      const result = await timed(`${tool} sync to 3 masters`, () => repository.sync(cluster));
      assert.ok(result.ok, `sync failed at ${result.failedStep}: ${result.error}\n${jobLogs(cluster, preJobName)}`);
      const events = cluster.events.slice(eventsBefore);
      const preDone = events.indexOf(`job succeeded ${preJobName}`);
      assert.ok(preDone >= 0, `the pre Job did not succeed: ${events.join(', ')}`);
      for (const pod of ['redis-cluster-6', 'redis-cluster-7']) {
        assert.ok(events.indexOf(`pod stopped ${pod}`) > preDone, `${pod} stopped before the pre Job finished: ${events.join(', ')}`);
      }
      assert.deepEqual(runningOrdinals(cluster), [0, 1, 2, 3, 4, 5]);
      await assertShape(cluster, password, 3, 1);
      await assertAllKeys(cluster, password, keys);
    });

    await step('masters 3 -> 4 again: pods 6 and 7 come back on their kept volumes and rejoin', async () => {
      await repository.synth({ masters: 4 });
      const result = await timed(`${tool} sync to 4 masters again`, () => repository.sync(cluster));
      assert.ok(result.ok, `sync failed at ${result.failedStep}: ${result.error}\n${jobLogs(cluster, postJobName)}`);
      await assertShape(cluster, password, 4, 1);
      await assertAllKeys(cluster, password, keys);
    });

    await step('delete: pods go, the volume claims stay (retention policy Retain)', async () => {
      const statefulSet = cluster.get('StatefulSet', statefulSetName)!;
      assert.deepEqual(statefulSet.spec.persistentVolumeClaimRetentionPolicy, { whenDeleted: 'Retain', whenScaled: 'Retain' });
      await repository.deleteAll(cluster);
      assert.deepEqual(runningOrdinals(cluster), []);
      // One claim per pod that ever ran, pods 6 and 7 included: the data outlives the StatefulSet.
      assert.deepEqual(cluster.volumeClaims(), [0, 1, 2, 3, 4, 5, 6, 7].map((ordinal) => `pvc-essd-redis-data-redis-cluster-${ordinal}`).sort());
    });
  });

  test(`${tool}: a pre Job that fails (survivors lack memory) stops the shrink, no key lost`, { timeout: 600_000 }, async () => {
    const { password, cluster, repository } = await newStory(tool, { subnet: subnet + 1 });
    const small = { masters: 4, maxmemory: '8Mi' };
    await repository.synth(small);
    const first = await timed(`${tool} first sync of 4 masters with maxmemory 8Mi`, () => repository.sync(cluster));
    assert.ok(first.ok, `sync failed at ${first.failedStep}: ${first.error}`);

    // Fill every master to about 85% of maxmemory: a quarter more each would not fit.
    const client = clusterClient(cluster, password);
    const filled: KeySet = { prefix: 'full', count: 0, valueSize: 1000 };
    try {
      for (let round = 0; round < 200; round++) {
        const next = filled.count + 200;
        await loadKeys(client, { ...filled, count: next }, filled.count, 200);
        filled.count = next;
        const usage = await Promise.all(
          [...(await clusterRoles(cluster, password)).masters.keys()].map(async (ordinal) => {
            const node = new Redis({ host: podAddress(cluster, ordinal), port: 6379, password, maxRetriesPerRequest: 1 });
            try {
              const info = String(await node.info('memory'));
              return Number(/used_memory:(\d+)/.exec(info)![1]) / Number(/maxmemory:(\d+)/.exec(info)![1]);
            } finally {
              node.disconnect();
            }
          }),
        );
        if (Math.min(...usage) >= 0.85) break;
      }
    } finally {
      client.disconnect();
    }

    await repository.synth({ ...small, masters: 3 });
    const result = await timed(`${tool} sync to 3 masters (expected to fail)`, () => repository.sync(cluster));
    assert.equal(result.ok, false, 'the sync should fail');
    assert.equal(result.failedStep, tool === 'argocd' ? 'PreSync' : 'redis-cluster-pre');
    assert.match(jobLogs(cluster, preJobName), /memory/i);
    console.log(
      `${tool}: pre Job said: ${
        jobLogs(cluster, preJobName)
          .trim()
          .split('\n')
          .filter((line) => /not enough memory/i.test(line))
          .slice(-1)[0]
      }`,
    );
    assert.equal(cluster.get('StatefulSet', statefulSetName)!.spec.replicas, 8, 'the StatefulSet was shrunk');
    assert.deepEqual(runningOrdinals(cluster), [0, 1, 2, 3, 4, 5, 6, 7]);
    await assertShape(cluster, password, 4, 1);
    await assertAllKeys(cluster, password, filled);
    assert.ok(!jobLogs(cluster, preJobName).includes(password), 'the password appeared in the Job log');
  });
}
