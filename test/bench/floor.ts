// The floor: the same number of keys moved between two plain (non-cluster) redis-servers by
// batched multi-key MIGRATE, with no slot bookkeeping at all. Two batchings: large batches
// (the best case) and one MIGRATE per hash slot (what a cluster migration can do at best, since
// MIGRATE's keys must share a slot in cluster mode).
import { LocalRedisPods } from '../support/redis-pods.js';
import type { ServerName } from '../support/server-binaries.js';
import type { Dataset } from './dataset.js';
import { SLOT_COUNT } from './key-slot.js';

export interface FloorResult {
  keys: number;
  largeBatchKeys: number;
  largeBatchMs: number;
  largeBatchKeysPerSecond: number;
  perSlotAverageKeys: number;
  perSlotMs: number;
  perSlotKeysPerSecond: number;
}

/** MIGRATEs sent per round trip; the source runs them one after another anyway. */
const IN_FLIGHT = 16;

export async function measureFloor(dataset: Dataset, keyCount: number, subnet: number, largeBatch: number, server: ServerName): Promise<FloorResult> {
  const pods = new LocalRedisPods({ subnet, clusterEnabled: false, server });
  activeFloorPods = pods;
  try {
    await pods.startMany(2);
    // Whole slots in order until keyCount keys, so the per-slot pass has real slot groups.
    const groups: string[][] = [];
    let taken = 0;
    for (let slot = 0; slot < SLOT_COUNT && taken < keyCount; slot++) {
      const group = Array.from(dataset.keyNumbersInSlot(slot), (number) => dataset.key(number));
      if (group.length === 0) continue;
      groups.push(group);
      taken += group.length;
    }
    const allKeys = groups.flat();
    const source = pods.connect(0);
    const target = pods.connect(1);
    try {
      for (let index = 0; index < allKeys.length; index += 1000) {
        const pipeline = source.pipeline();
        for (const key of allKeys.slice(index, index + 1000)) pipeline.set(key, dataset.value(Number(key.slice(key.indexOf(':') + 1))));
        await pipeline.exec();
      }
      const batches: string[][] = [];
      for (let index = 0; index < allKeys.length; index += largeBatch) batches.push(allKeys.slice(index, index + largeBatch));
      const largeBatchMs = await migrateAll(source, pods.hostOf(1), pods.port, batches);
      const perSlotMs = await migrateAll(target, pods.hostOf(0), pods.port, groups);
      const moved = Number(await source.dbsize());
      if (moved !== allKeys.length) throw new Error(`floor: ${moved} of ${allKeys.length} keys came back`);
      return {
        keys: allKeys.length,
        largeBatchKeys: largeBatch,
        largeBatchMs,
        largeBatchKeysPerSecond: allKeys.length / (largeBatchMs / 1000),
        perSlotAverageKeys: allKeys.length / groups.length,
        perSlotMs,
        perSlotKeysPerSecond: allKeys.length / (perSlotMs / 1000),
      };
    } finally {
      source.disconnect();
      target.disconnect();
    }
  } finally {
    await pods.destroy();
    activeFloorPods = undefined;
  }
}

export let activeFloorPods: LocalRedisPods | undefined;

async function migrateAll(from: ReturnType<LocalRedisPods['connect']>, host: string, port: number, batches: string[][]): Promise<number> {
  const started = performance.now();
  for (let index = 0; index < batches.length; index += IN_FLIGHT) {
    const pipeline = from.pipeline();
    for (const keys of batches.slice(index, index + IN_FLIGHT)) pipeline.call('MIGRATE', host, String(port), '', '0', '5000', 'KEYS', ...keys);
    for (const [error, reply] of (await pipeline.exec()) ?? []) {
      if (error) throw error;
      if (reply !== 'OK') throw new Error(`MIGRATE answered ${String(reply)}`);
    }
  }
  return performance.now() - started;
}
