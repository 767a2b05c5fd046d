// The slot migration engine (the hot path). Per slot the safe protocol: IMPORTING on the
// target, MIGRATING on the source, MIGRATE the keys in large batches until the slot is empty,
// then SETSLOT NODE on the target, the source and every other master. Many slots are in
// flight per source/target pair (their commands pipeline on the shared connections) and all
// pairs run at once.
import { Command, type Redis } from 'ioredis';
import type { Pod } from './discover';
import { TopologyError, describeError } from './errors';
import type { SlotMove } from './model';
import { MigrationProgress, type Log } from './progress';

export interface MigrationEnvironment {
  client(pod: Pod): Promise<Redis>;
  podOf(nodeId: string): Pod;
  /** Every master to tell about the new owner, besides source and target. */
  masters(): readonly Pod[];
  readonly password: string | undefined;
  readonly log: Log;
}

export interface MigrationTuning {
  /** Keys per MIGRATE (all from one slot). */
  readonly keysPerBatch: number;
  /** Slots in flight per source/target pair. */
  readonly slotsInFlight: number;
  /** MIGRATE's own I/O timeout, ms. */
  readonly migrateTimeoutMs: number;
}

export const defaultTuning: MigrationTuning = { keysPerBatch: 1000, slotsInFlight: 16, migrateTimeoutMs: 60_000 };

const transient = /TRYAGAIN|IOERR|LOADING|CLUSTERDOWN|BUSY |ETIMEDOUT|ECONNRESET|ECONNREFUSED|EPIPE|Connection is closed|Command timed out|MASTERDOWN|Reached the max retries/i;

/** Runs `operation`, retrying transient failures with backoff; errors name what failed. */
export async function withRetry<T>(what: string, operation: () => Promise<T>, log?: Log, attempts = 10): Promise<T> {
  let delay = 100;
  for (let attempt = 1; ; attempt++) {
    try {
      return await operation();
    } catch (error) {
      const message = describeError(error);
      if (error instanceof TopologyError || !transient.test(message) || attempt >= attempts) {
        if (error instanceof TopologyError) throw error;
        throw new TopologyError(`${what} failed: ${message}`, 'run again: the program resumes where it stopped');
      }
      if (attempt >= 3) log?.warn(`${what}: ${message}; retrying (attempt ${attempt + 1}/${attempts})`);
      await sleep(delay);
      delay = Math.min(delay * 2, 3000);
    }
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function call(client: Redis, ...args: (string | number)[]): Promise<unknown> {
  return client.call(...(args.map(String) as [string, ...string[]]));
}

export class SlotMigrator {
  constructor(
    private readonly environment: MigrationEnvironment,
    private readonly tuning: MigrationTuning = defaultTuning,
  ) {}

  /** Moves all slots of all moves; resolves when every slot is owned by its target everywhere. */
  async run(moves: readonly SlotMove[], estimatedKeys: number): Promise<MigrationProgress> {
    const totalSlots = moves.reduce((sum, move) => sum + move.slots.length, 0);
    const progress = new MigrationProgress(this.environment.log, totalSlots, estimatedKeys);
    this.environment.log.info(
      `migrating ${totalSlots} slots (~${estimatedKeys} keys) in ${moves.length} source->target pairs: ` +
        moves
          .map((move) => `${this.environment.podOf(move.from).ordinal}->${this.environment.podOf(move.to).ordinal}: ${move.slots.length}`)
          .join(', '),
    );
    this.stopped = false;
    const results = await Promise.allSettled(moves.map((move) => this.runPair(move, progress)));
    const failed = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
    if (failed) {
      progress.report();
      throw failed.reason;
    }
    progress.finish();
    return progress;
  }

  /** Set when a slot fails: the other workers finish their slot (not left open) and stop. */
  private stopped = false;

  private async runPair(move: SlotMove, progress: MigrationProgress): Promise<void> {
    const queue = [...move.slots];
    const worker = async () => {
      for (let slot = queue.shift(); slot !== undefined && !this.stopped; slot = queue.shift()) {
        try {
          await this.moveSlot(move.from, move.to, slot, progress);
        } catch (error) {
          this.stopped = true;
          throw error;
        }
        progress.slotsMoved(1);
      }
    };
    const workers = Array.from({ length: Math.min(this.tuning.slotsInFlight, queue.length) }, worker);
    // Let in-flight slots finish (so they are not left open) before reporting the first error.
    const results = await Promise.allSettled(workers);
    const failed = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
    if (failed) throw failed.reason;
  }

  /** The full protocol for one slot. Safe to repeat: an already moved slot is finalized only. */
  async moveSlot(fromId: string, toId: string, slot: number, progress?: MigrationProgress): Promise<void> {
    const source = this.environment.podOf(fromId);
    const target = this.environment.podOf(toId);
    const sourceClient = await this.environment.client(source);
    const targetClient = await this.environment.client(target);
    const where = `slot ${slot} from ${source.name} to ${target.name}`;

    const alreadyMoved = await withRetry(`${where}: SETSLOT IMPORTING`, async () => {
      try {
        await call(targetClient, 'CLUSTER', 'SETSLOT', slot, 'IMPORTING', fromId);
        return false;
      } catch (error) {
        if (/already the owner/i.test(describeError(error))) return true;
        throw error;
      }
    }, this.environment.log);
    if (!alreadyMoved) {
      await withRetry(`${where}: SETSLOT MIGRATING`, async () => {
        try {
          await call(sourceClient, 'CLUSTER', 'SETSLOT', slot, 'MIGRATING', toId);
        } catch (error) {
          if (/not the owner/i.test(describeError(error))) {
            await call(targetClient, 'CLUSTER', 'SETSLOT', slot, 'STABLE').catch(() => undefined);
            throw new TopologyError(
              `${where}: the source no longer owns the slot (the cluster changed while planning)`,
              'run again: the program re-reads the cluster and plans from there',
            );
          }
          throw error;
        }
      }, this.environment.log);
      await this.drainSlot(source, target, slot, progress);
    }
    await this.assignSlot(slot, source, target, toId, progress);
  }

  /** MIGRATEs every key of `slot` from source to target, in batches. */
  async drainSlot(source: Pod, target: Pod, slot: number, progress?: MigrationProgress): Promise<void> {
    const sourceClient = await this.environment.client(source);
    const where = `slot ${slot} from ${source.name} to ${target.name}`;
    let batch = this.tuning.keysPerBatch;
    for (;;) {
      const keys = await withRetry(
        `${where}: GETKEYSINSLOT`,
        async () => (await sourceClient.sendCommand(new Command('CLUSTER', ['GETKEYSINSLOT', String(slot), String(batch)], { replyEncoding: null }))) as Buffer[],
        this.environment.log,
      );
      if (keys.length === 0) return;
      const auth = this.environment.password === undefined ? [] : ['AUTH', this.environment.password];
      try {
        await withRetry(`${where}: MIGRATE ${keys.length} keys`, async () => {
          try {
            const args = [target.ip, String(target.port), '', '0', String(this.tuning.migrateTimeoutMs), 'REPLACE', ...auth, 'KEYS', ...keys];
            await sourceClient.sendCommand(new Command('MIGRATE', args, { replyEncoding: null }));
          } catch (error) {
            const message = describeError(error);
            if (/NOAUTH|WRONGPASS|invalid password/i.test(message)) {
              throw new TopologyError(`${where}: the target refused the source's MIGRATE authentication: ${message}`, 'every pod must use the same password');
            }
            throw error;
          }
        }, this.environment.log, 6);
      } catch (error) {
        // A batch too large for the timeout: retry smaller before giving up.
        if (batch > 10 && !(error instanceof TopologyError && /authentication/.test(error.message))) {
          batch = Math.max(10, Math.floor(batch / 4));
          this.environment.log.warn(`${where}: ${describeError(error)}; retrying with ${batch} keys per MIGRATE`);
          continue;
        }
        throw error;
      }
      progress?.keysMoved(keys.length);
    }
  }

  /** SETSLOT NODE on target, then source, then the other masters (best effort: gossip also spreads it). */
  async assignSlot(slot: number, source: Pod, target: Pod, toId: string, progress?: MigrationProgress): Promise<void> {
    const where = `slot ${slot} from ${source.name} to ${target.name}`;
    await withRetry(`${where}: SETSLOT NODE on the target`, async () => {
      await call(await this.environment.client(target), 'CLUSTER', 'SETSLOT', slot, 'NODE', toId);
    }, this.environment.log);
    await withRetry(`${where}: SETSLOT NODE on the source`, async () => {
      try {
        await call(await this.environment.client(source), 'CLUSTER', 'SETSLOT', slot, 'NODE', toId);
      } catch (error) {
        // A key written at the last moment: move it too, then try again.
        if (/still hold keys/i.test(describeError(error))) {
          await this.drainSlot(source, target, slot, progress);
          throw new Error('TRYAGAIN keys appeared during the migration');
        }
        // Redis 7: the target's claim reached the source by gossip first, it was the source's
        // last slot, and the source turned itself into a replica; it knows the new owner already.
        if (/only with masters/i.test(describeError(error))) return;
        throw error;
      }
    }, this.environment.log);
    await Promise.all(
      this.environment
        .masters()
        .filter((pod) => pod.ordinal !== source.ordinal && pod.ordinal !== target.ordinal)
        .map(async (pod) => {
          try {
            await call(await this.environment.client(pod), 'CLUSTER', 'SETSLOT', slot, 'NODE', toId);
          } catch {
            // Gossip carries the new owner to this node anyway.
          }
        }),
    );
  }
}
