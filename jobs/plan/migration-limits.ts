// How much one MIGRATE may carry. MIGRATE blocks its source until the target has stored every
// key it carries; blocked past cluster-node-timeout, the source is failed over (its replica
// promoted) or, without replicas, the cluster goes down. So the limits scale with the node
// timeout and a deliberately low throughput: on 2 shared cores a hash of 2M small fields
// (about 120 MB by MEMORY USAGE) took 9 s to MIGRATE, about 13 MB/s; strings move far faster.

/** The throughput the limits assume, in MEMORY USAGE bytes per second. */
export const assumedMigrateBytesPerSecond = 8 * 1024 * 1024;

export interface MigrationLimits {
  /** How long one MIGRATE should block its source at most: a tenth of the node timeout. */
  readonly maxBlockMs: number;
  /** Bytes per MIGRATE: it blocks the source for about maxBlockMs at most. */
  readonly batchBytes: number;
  /** Keys this size or larger move in a MIGRATE of their own. */
  readonly largeKeyBytes: number;
  /** A key larger than this would block the source for over half the node timeout: refused. */
  readonly maxKeyBytes: number;
}

export function migrationLimits(nodeTimeoutMs: number): MigrationLimits {
  const bytesPerMs = assumedMigrateBytesPerSecond / 1000;
  const maxBlockMs = nodeTimeoutMs / 10;
  const batchBytes = Math.max(64 * 1024, Math.floor(bytesPerMs * maxBlockMs));
  return { maxBlockMs, batchBytes, largeKeyBytes: Math.floor(batchBytes / 2), maxKeyBytes: Math.floor((bytesPerMs * nodeTimeoutMs) / 2) };
}
