// The migration's settings: batch size, slots in flight (the speed / latency trade), the key rate cap.
import { DEFAULTS } from '../contract';

export interface MigrationTuning {
  /** Keys per MIGRATE at most (all from one slot); fewer when they are big. */
  readonly keysPerBatch: number;
  /**
   * Slots per source/target pair moved together, each protocol step pipelined over all of
   * them. More is faster; fewer keeps each burst of MIGRATEs (which block the source) short.
   */
  readonly slotsInFlight: number;
  /** MIGRATE's own I/O timeout, ms. */
  readonly migrateTimeoutMs: number;
  /**
   * Keys moved per second at most, over all pairs together; 0 for no limit. A cap leaves the
   * masters CPU for their clients, which slots in flight alone does not once the machine is busy.
   */
  readonly maxKeysPerSecond: number;
}

export const defaultTuning: MigrationTuning = {
  keysPerBatch: 1000,
  slotsInFlight: DEFAULTS.slotsInFlight,
  migrateTimeoutMs: 60_000,
  maxKeysPerSecond: DEFAULTS.maxKeysPerSecond,
};
