// The stand-in enforces what would break in a real cluster, so the scenarios can rely on it:
// a pod whose ConfigMap or Secret is missing does not start, and starts once they exist.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { test } from 'node:test';
import { StandInCluster } from '../support/kubelet-standin';
import { readManifests } from '../support/manifests';
import { createPasswordSecret, projectRoot, runningOrdinals, statefulSetName } from './gitops-repo';

test('a pod whose ConfigMap and Secret are not applied yet cannot start; it starts once they are', { timeout: 60_000 }, async () => {
  const cluster = new StandInCluster({ subnet: 64 });
  try {
    const objects = readManifests(path.join(projectRoot, 'dist'), true);
    const statefulSet = objects.find((object) => object.kind === 'StatefulSet')!;
    const configMap = objects.find((object) => object.kind === 'ConfigMap' && object.metadata.name === 'redis-cluster')!;
    await cluster.apply(statefulSet);
    assert.deepEqual(runningOrdinals(cluster), []);
    assert.match([...cluster.pendingPods.values()][0], /secret "redis-cluster-auth" not found/);

    await createPasswordSecret(cluster, randomBytes(8).toString('hex'));
    assert.deepEqual(runningOrdinals(cluster), [], 'started without its ConfigMap');
    assert.match([...cluster.pendingPods.values()][0], /configmap "redis-cluster" not found/);

    await cluster.apply(configMap);
    assert.deepEqual(runningOrdinals(cluster), [0, 1, 2, 3, 4, 5]);
    await cluster.waitHealthy(statefulSet, 30_000);
    assert.equal(cluster.pods.get(`${statefulSetName}-0`)?.process.exitCode, null);
  } finally {
    await cluster.destroy();
  }
});
