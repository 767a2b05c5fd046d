// The integration tests' usual starting point: the seed's 6 pods bootstrapped by the program
// (3 masters x 1 replica) and loaded with keys.
import type { LocalRedisPods } from './redis-pods.js';
import { bulkClient, loadKeys, type KeySet } from './keyspace.js';
import { ensureBundle, runTopologyOk, topologyArgs } from './topology-cli.js';

export async function bootstrapSeedCluster(pods: LocalRedisPods, keys: KeySet): Promise<void> {
  ensureBundle();
  await pods.startMany(6);
  await runTopologyOk(topologyArgs({ phase: 'post', masters: 3, replicasPerMaster: 1, pods: pods.addresses(6) }));
  const cluster = bulkClient(pods);
  try {
    await loadKeys(cluster, keys);
  } finally {
    await cluster.quit();
  }
}
