// Loads keys through a cluster client and verifies every one of them later. Each value is
// derived from its key, so verification is exact and needs no record of what was written.
import assert from 'node:assert/strict';
import type { Cluster } from 'ioredis';
import type { LocalRedisPods } from './redis-pods.js';
import { readClusterNodes } from './cluster-view.js';

export interface KeySet {
  /** Keys are `${prefix}:${index}` for index 0..count-1. */
  prefix: string;
  count: number;
  /** Value length in bytes. @default 32 */
  valueSize?: number;
}

export function keyAt(keys: KeySet, index: number): string {
  return `${keys.prefix}:${index}`;
}

export function valueFor(key: string, valueSize = 32): string {
  const head = `${key}=`;
  if (head.length >= valueSize) return head;
  const filler = 'abcdefghijklmnopqrstuvwxyz0123456789';
  let value = head;
  while (value.length < valueSize) value += filler;
  return value.slice(0, valueSize);
}

/** SETs keys from..count-1, `batch` commands in flight at a time. */
export async function loadKeys(cluster: Cluster, keys: KeySet, from = 0, batch = 2000): Promise<void> {
  for (let start = from; start < keys.count; start += batch) {
    const end = Math.min(keys.count, start + batch);
    const writes: Promise<unknown>[] = [];
    for (let index = start; index < end; index++) {
      const key = keyAt(keys, index);
      writes.push(cluster.set(key, valueFor(key, keys.valueSize)));
    }
    await Promise.all(writes);
  }
}

export interface KeyVerification {
  checked: number;
  missing: number;
  wrong: number;
  /** Up to 10 offending keys, for the failure message. */
  examples: string[];
}

/** GETs every key through a fresh cluster client (following MOVED/ASK) and compares values. */
export async function verifyKeys(pods: LocalRedisPods, keys: KeySet, batch = 2000): Promise<KeyVerification> {
  const cluster = bulkClient(pods);
  try {
    return await verifyKeysWith(cluster, keys, batch);
  } finally {
    await cluster.quit().catch(() => {});
  }
}

export async function verifyKeysWith(cluster: Cluster, keys: KeySet, batch: number): Promise<KeyVerification> {
  const result: KeyVerification = { checked: 0, missing: 0, wrong: 0, examples: [] };
  for (let start = 0; start < keys.count; start += batch) {
    const end = Math.min(keys.count, start + batch);
    const reads: Promise<void>[] = [];
    for (let index = start; index < end; index++) {
      const key = keyAt(keys, index);
      reads.push(
        cluster.get(key).then((value) => {
          result.checked++;
          if (value === null) result.missing++;
          else if (value !== valueFor(key, keys.valueSize)) result.wrong++;
          else return;
          if (result.examples.length < 10) result.examples.push(`${key}=${JSON.stringify(value)?.slice(0, 60)}`);
        }),
      );
    }
    await Promise.all(reads);
  }
  return result;
}

export async function assertAllKeys(pods: LocalRedisPods, keys: KeySet): Promise<void> {
  const result = await verifyKeys(pods, keys);
  assert.deepEqual(
    { missing: result.missing, wrong: result.wrong },
    { missing: 0, wrong: 0 },
    `keys ${keys.prefix}:0..${keys.count - 1}: ${result.missing} missing, ${result.wrong} wrong, e.g. ${result.examples.join(', ')}`,
  );
}

/** Sum of DBSIZE over the masters among these pods: equals the key count when no key is lost or left behind twice. */
export async function keysOnMasters(pods: LocalRedisPods, ordinals: number[]): Promise<number> {
  let total = 0;
  for (const ordinal of ordinals) {
    const myself = (await readClusterNodes(pods, ordinal)).find((entry) => entry.myself);
    if (myself?.role !== 'master') continue;
    const client = pods.connect(ordinal);
    client.on('error', () => {});
    try {
      total += await client.dbsize();
    } finally {
      client.disconnect();
    }
  }
  return total;
}

/**
 * A cluster client for bulk loads and reads; the caller quits it. Not auto-pipelining: ioredis
 * then fails whole batches with MOVED while a node's slot map lags, and many commands in
 * flight on plain connections are as fast here.
 */
export function bulkClient(pods: LocalRedisPods): Cluster {
  const cluster = pods.clusterClient();
  cluster.on('error', () => {});
  return cluster;
}
