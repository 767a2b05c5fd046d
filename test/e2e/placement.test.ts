// Shards over failure domains, end to end: dist/ on the kubelet stand-in, its pods on named nodes in
// three zones, a Kubernetes API stand-in the Jobs reach with their ServiceAccount's token. The
// scheduler put each block of consecutive ordinals in one zone (pods 0,1 in zone a, ...), the worst
// case for shards built from blocks; every shard must still span two zones.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { loadKeys, verifyKeysWith, type KeySet } from '../support/keyspace';
import { PlacedStandInCluster } from '../support/service-account-admission';
import { ensureBundle } from '../support/topology-cli';
import {
  GitOpsRepository,
  clusterCheck,
  clusterClient,
  clusterRoles,
  createPasswordSecret,
  postJobName,
  statefulSetName,
  timed,
  type GitOpsTool,
} from './gitops-repo';

const zoneLabel = 'topology.kubernetes.io/zone';
/** Node of each pod, by ordinal: blocks of two in one zone, on two nodes. */
const nodeOfOrdinal = ['a-1', 'a-2', 'b-1', 'b-2', 'c-1', 'c-2', 'a-1', 'b-1'];
const nodes = Object.fromEntries(nodeOfOrdinal.map((node) => [node, { [zoneLabel]: `zone-${node[0]}`, 'kubernetes.io/hostname': node }]));
const zoneOf = (ordinal: number) => `zone-${nodeOfOrdinal[ordinal]![0]}`;
const keys: KeySet = { prefix: 'spread', count: 2000, valueSize: 32 };

function placedCluster(subnet: number): PlacedStandInCluster {
  return new PlacedStandInCluster({
    subnet,
    nodes,
    nodeOf: (podName) => {
      const ordinal = Number(/-(\d+)$/.exec(podName)?.[1]);
      return podName.startsWith(`${statefulSetName}-`) ? nodeOfOrdinal[ordinal] : undefined;
    },
  });
}

/** Each shard (master and replicas) spans two zones at least; returns the shards for the log. */
async function assertSpread(cluster: PlacedStandInCluster, password: string, masters: number): Promise<string> {
  const check = await clusterCheck(cluster, password);
  assert.ok(check.ok, `redis-cli --cluster check failed:\n${check.output}`);
  const roles = await clusterRoles(cluster, password);
  assert.equal(roles.masters.size, masters);
  const shards = [...roles.masters.keys()].map((master) => [master, ...[...roles.replicas].filter(([, of]) => of === master).map(([replica]) => replica)]);
  for (const shard of shards) {
    assert.ok(new Set(shard.map(zoneOf)).size >= 2, `shard ${shard.join(',')} is in one zone (${shard.map(zoneOf).join(', ')})`);
  }
  return shards.map((shard) => `${shard.join('+')} (${shard.map(zoneOf).join('/')})`).join(', ');
}

function checkApiUse(cluster: PlacedStandInCluster): void {
  assert.deepEqual(cluster.admissionErrors, [], 'the Jobs ran before their ServiceAccount existed');
  const refused = cluster.api.requests.filter((request) => request.status !== 200);
  assert.deepEqual(refused, [], 'the API refused the Jobs');
  assert.ok(
    cluster.api.requests.some((request) => request.path.startsWith('/api/v1/nodes/')),
    'the Jobs read the nodes',
  );
  assert.ok(cluster.api.requests.every((request) => request.user === 'system:serviceaccount:default:redis-cluster-topology'));
}

function spreadScenario(tool: GitOpsTool, subnet: number, props: Record<string, unknown>): void {
  test(`${tool}: the pods' zones shape the shards: every shard spans two zones, from the first sync and after growing`, { timeout: 900_000 }, async (t) => {
    const password = randomBytes(12).toString('hex');
    const cluster = placedCluster(subnet);
    const repository = new GitOpsRepository(tool);
    after(async () => {
      await cluster.destroy();
      repository.remove();
    });
    await cluster.start();
    await createPasswordSecret(cluster, password);

    if (tool === 'argocd') {
      await t.test('first sync without the Jobs reading placement: shards are blocks of ordinals, each in one zone', async () => {
        await repository.synth({ ...props, spread: { readPlacement: false } });
        const result = await timed(`${tool} first sync, placement unknown`, () => repository.sync(cluster));
        assert.ok(result.ok, `sync failed at ${result.failedStep}: ${result.error}`);
        const roles = await clusterRoles(cluster, password);
        assert.deepEqual([...roles.replicas].sort(), [
          [1, 0],
          [3, 2],
          [5, 4],
        ]);
        assert.match(cluster.jobs.get(postJobName)!.logs, /placement: where the pods run is unknown \(no service account token is mounted/);
        const client = clusterClient(cluster, password);
        try {
          await loadKeys(client, keys);
        } finally {
          client.disconnect();
        }
      });
    }

    await t.test(
      tool === 'argocd'
        ? 'placement read: the shards move across zones, no slot moves, every key kept'
        : 'first sync: shards across zones, masters in three zones',
      async () => {
        await repository.synth(props);
        const result = await timed(`${tool} sync, pods in three zones`, () => repository.sync(cluster));
        assert.ok(result.ok, `sync failed at ${result.failedStep}: ${result.error}\n${cluster.jobs.get(postJobName)?.logs}`);
        console.log(`${tool}: shards ${await assertSpread(cluster, password, 3)}`);
        const roles = await clusterRoles(cluster, password);
        assert.deepEqual(new Set([...roles.masters.keys()].map(zoneOf)), new Set(['zone-a', 'zone-b', 'zone-c']), 'one master per zone');
        const logs = cluster.jobs.get(postJobName)!.logs;
        if (process.env.SHOW_JOB_LOGS) console.log(logs);
        assert.match(logs, /placement: zone zone-a: pods 0,1 on 2 node\(s\) a-1 a-2; zone zone-b: pods 2,3 on 2 node\(s\) b-1 b-2; zone zone-c: pods 4,5/);
        checkApiUse(cluster);
        const client = clusterClient(cluster, password);
        try {
          if (tool === 'argocd') {
            assert.doesNotMatch(logs, /migrate \d+ slots/, 'no slot moves to spread the shards');
            const check = await verifyKeysWith(client, keys, 1000);
            assert.equal(check.missing + check.wrong, 0, check.examples.join(', '));
          } else await loadKeys(client, keys);
        } finally {
          client.disconnect();
        }
      },
    );

    if (tool !== 'argocd') return;
    await t.test('a sync with nothing changed: the spread layout stays as it is', async () => {
      const result = await timed(`${tool} no-op sync`, () => repository.sync(cluster));
      assert.ok(result.ok, `sync failed at ${result.failedStep}: ${result.error}`);
      assert.match(cluster.jobs.get(postJobName)!.logs, /cluster already has the desired shape/);
    });

    await t.test('masters 3 -> 4 (pods 6 and 7 in zones a and b): still every shard across zones, every key kept', async () => {
      await repository.synth({ ...props, masters: 4 });
      const result = await timed(`${tool} sync to 4 masters`, () => repository.sync(cluster));
      assert.ok(result.ok, `sync failed at ${result.failedStep}: ${result.error}\n${cluster.jobs.get(postJobName)?.logs}`);
      console.log(`${tool}: shards ${await assertSpread(cluster, password, 4)}`);
      checkApiUse(cluster);
      const client = clusterClient(cluster, password);
      try {
        const check = await verifyKeysWith(client, keys, 1000);
        assert.equal(check.missing + check.wrong, 0, check.examples.join(', '));
      } finally {
        client.disconnect();
      }
    });
  });
}

before(() => ensureBundle());

// Under Argo CD the chart binds the node reader only with a namespace it knows; Flux applies to `default`.
spreadScenario('argocd', 66, { namespace: 'default' });
spreadScenario('flux', 67, {});
