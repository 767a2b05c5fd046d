// The seed's bootstrap, grow and shrink from manifests synthesized for Valkey (`server: 'valkey'`), run by the
// kubelet stand-in on Valkey 9: the pods' scripts call valkey-server and valkey-cli, the topology Jobs move the
// slots with the servers' own atomic slot migration, every key is kept and valkey-cli --cluster check passes.
// It chooses its server: the Valkey TEST_SERVER names, else Valkey 9 (so the main suite, on Redis 7, runs it).
// A Valkey server that is not installed fails it.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import Redis from 'ioredis';
import type { KeySet } from '../support/keyspace';
import { StandInCluster } from '../support/kubelet-standin';
import { readManifests } from '../support/manifests';
import { defaultServer, serverBinaries } from '../support/server-binaries';
import { ensureBundle } from '../support/topology-cli';
import { podAddress, postJobName, preJobName, runningOrdinals, statefulSetName, timed } from './gitops-repo';
import { assertAllKeys, assertShape, jobLogs, loadClusterKeys, newStory, storySteps } from './scenarios';

const valkey = { server: 'valkey', image: 'valkey/valkey:9.1' };
const keys: KeySet = { prefix: 'valkey', count: 3000, valueSize: 64 };
const chosen = defaultServer();
const server = serverBinaries(chosen.startsWith('valkey') ? chosen : 'valkey9');
/** The program's log when the servers move the slots themselves, which Valkey does from 9.0 on. */
function assertAtomicSlotMigration(log: string): void {
  if (server.major >= 9) assert.match(log, /with the servers' atomic slot migration \(CLUSTER MIGRATESLOTS\)/);
}

/** What every running pod's INFO server says it is. */
async function serversAnswering(cluster: StandInCluster, password: string): Promise<string[]> {
  return Promise.all(
    runningOrdinals(cluster).map(async (ordinal) => {
      const client = new Redis({ host: podAddress(cluster, ordinal), port: 6379, password, lazyConnect: true, maxRetriesPerRequest: 1 });
      try {
        await client.connect();
        const info = String(await client.info('server'));
        return `${/server_name:(\w+)/.exec(info)?.[1] ?? 'redis'} ${/valkey_version:(\d+)\./.exec(info)?.[1] ?? '?'}`;
      } finally {
        client.disconnect();
      }
    }),
  );
}

/** The command line of a pod's server process, as ps shows it: the stand-in's shims keep the name the pod called. */
function serverCommand(cluster: StandInCluster, ordinal: number): string {
  const pod = cluster.pods.get(`${statefulSetName}-${ordinal}`)!;
  return readFileSync(path.join('/proc', String(pod.process.pid), 'cmdline'), 'utf8')
    .split('\0')
    .join(' ');
}

test(
  'argocd, manifests with server valkey: bootstrap, grow and shrink on Valkey, every key kept, valkey-cli --cluster check OK',
  { timeout: 600_000 },
  async (t) => {
    const { password, cluster, repository } = await newStory('argocd', { subnet: 68, server: server.name });
    const step = storySteps(t);

    await step('first sync of 3 masters x 1 replica: Valkey pods, the cluster formed by the post Job', async () => {
      await ensureBundle();
      await repository.synth(valkey);
      const statefulSet = readManifests(repository.dist, true).find((object) => object.kind === 'StatefulSet')!;
      const container = statefulSet.spec.template.spec.containers[0];
      assert.equal(container.image, 'valkey/valkey:9.1');
      assert.deepEqual(
        container.env.filter((entry: { name: string }) => entry.name === 'REDIS_SERVER' || entry.name === 'REDIS_CLI'),
        [
          { name: 'REDIS_SERVER', value: 'valkey-server' },
          { name: 'REDIS_CLI', value: 'valkey-cli' },
        ],
      );
      const result = await timed('valkey first sync', () => repository.sync(cluster));
      assert.ok(result.ok, `sync failed at ${result.failedStep}: ${result.error}\n${jobLogs(cluster, postJobName)}`);
      assert.deepEqual(runningOrdinals(cluster), [0, 1, 2, 3, 4, 5]);
      // The pods ran the Valkey name (the stand-in has it only for a Valkey server), and Valkey 9 answers.
      assert.match(serverCommand(cluster, 0), /^valkey-server /);
      assert.deepEqual(new Set(await serversAnswering(cluster, password)), new Set([`valkey ${server.major}`]));
      await assertShape(cluster, password, 3, 1);
      await loadClusterKeys(cluster, password, keys);
    });

    await step('masters 3 -> 4: the servers move a quarter of the slots themselves, every key present', async () => {
      await repository.synth({ ...valkey, masters: 4 });
      const result = await timed('valkey sync to 4 masters', () => repository.sync(cluster));
      assert.ok(result.ok, `sync failed at ${result.failedStep}: ${result.error}\n${jobLogs(cluster, postJobName)}`);
      assertAtomicSlotMigration(jobLogs(cluster, postJobName));
      assert.deepEqual(runningOrdinals(cluster), [0, 1, 2, 3, 4, 5, 6, 7]);
      await assertShape(cluster, password, 4, 1);
      await assertAllKeys(cluster, password, keys);
    });

    await step('masters 4 -> 3: pods 6 and 7 hand their slots back before they stop, every key present', async () => {
      await repository.synth({ ...valkey, masters: 3 });
      const eventsBefore = cluster.events.length;
      const result = await timed('valkey sync to 3 masters', () => repository.sync(cluster));
      assert.ok(result.ok, `sync failed at ${result.failedStep}: ${result.error}\n${jobLogs(cluster, preJobName)}`);
      assertAtomicSlotMigration(jobLogs(cluster, preJobName));
      const events = cluster.events.slice(eventsBefore);
      const preDone = events.indexOf(`job succeeded ${preJobName}`);
      for (const pod of ['redis-cluster-6', 'redis-cluster-7']) {
        assert.ok(preDone >= 0 && events.indexOf(`pod stopped ${pod}`) > preDone, `${pod} stopped before the pre Job finished: ${events.join(', ')}`);
      }
      assert.deepEqual(runningOrdinals(cluster), [0, 1, 2, 3, 4, 5]);
      await assertShape(cluster, password, 3, 1);
      await assertAllKeys(cluster, password, keys);
    });
  },
);
