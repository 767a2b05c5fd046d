// Moves one slot's keys from its source to its target with MIGRATE, in batches bounded by
// bytes and by the time each blocks the source (migration-limits.ts): large keys one MIGRATE
// each, the rest in batches sized from the slot's bytes per key, shrunk when one takes too long.
import { Command, type Redis } from 'ioredis';
import { Refusal, TopologyError, describeError } from '../errors';
import { formatMegabytes } from '../format';
import { surveySlots, nodeTimeoutMs, displayKeyName, type SurveyedSlot } from '../observe/slot-survey';
import { migrationLimits, type MigrationLimits } from '../plan/migration-limits';
import type { Pod } from '../pod';
import type { Log, MigrationProgress } from '../progress';
import { withRetry } from '../redis/command';
import { isRedisError } from '../redis/errors';
import type { MigrateLanes } from './lanes';
import type { RateLimiter } from './rate-limiter';

export interface KeyMoverEnvironment {
  client(pod: Pod): Promise<Redis>;
  readonly password: string | undefined;
  readonly log: Log;
  readonly lanes: MigrateLanes;
  readonly rate: RateLimiter;
  /** Keys per MIGRATE at most, whatever their size. */
  readonly keysPerBatch: number;
  /** MIGRATE's own I/O timeout, ms. */
  readonly migrateTimeoutMs: number;
}

/** A receiver refused keys for lack of memory (maxmemory under noeviction). */
export class ReceiverOutOfMemory extends Refusal {
  constructor(target: Pod, where: string, cause: unknown) {
    super(
      `${target.name} ran out of memory while receiving ${where} (${describeError(cause)}); the migration stopped`,
      "raise maxmemory / the pods' memory or delete data, then run again: open slots are closed first",
    );
    this.name = 'ReceiverOutOfMemory';
  }
}

/** The target refused the source's credentials: every retry would too. */
class MigrateAuthenticationError extends Refusal {
  constructor(message: string) {
    super(message, 'every pod must use the same password');
  }
}

export class KeyMover {
  /** What each moving slot holds (surveyed before the run, or when a slot is first drained). */
  private readonly contents = new Map<number, SurveyedSlot>();
  private readonly limits = new Map<number, Promise<MigrationLimits>>();

  constructor(private readonly environment: KeyMoverEnvironment) {}

  /** Takes the survey made before the run, so its slots are not measured twice. */
  remember(survey: ReadonlyMap<number, SurveyedSlot>): void {
    for (const [slot, contents] of survey) this.contents.set(slot, contents);
  }

  /** The source's limits, from its cluster-node-timeout (read once per pod). */
  private limitsOf(pod: Pod): Promise<MigrationLimits> {
    let limits = this.limits.get(pod.ordinal);
    if (!limits) {
      limits = this.environment.client(pod).then(async (client) => migrationLimits(await nodeTimeoutMs(client)));
      this.limits.set(pod.ordinal, limits);
    }
    return limits;
  }

  private async contentsOf(source: Pod, slot: number, limits: MigrationLimits): Promise<SurveyedSlot> {
    const known = this.contents.get(slot);
    if (known) return known;
    const client = await this.environment.client(source);
    const keys = Number(await client.call('CLUSTER', 'COUNTKEYSINSLOT', String(slot)));
    const measured = (await surveySlots(client, source, new Map([[slot, keys]]), limits.largeKeyBytes)).get(slot);
    const contents = measured ?? { keys: 0, measuredKeys: 0, bytes: 0, largeKeys: [], largeKeyNames: [] };
    this.contents.set(slot, contents);
    return contents;
  }

  /**
   * MIGRATEs every key of `slot` from source to target. With `untilEmpty` false it stops after a
   * listing shorter than the batch (the listing was complete), which is only safe while the
   * slot is MIGRATING on the source.
   */
  async drainSlot(source: Pod, target: Pod, slot: number, progress: MigrationProgress | undefined, untilEmpty: boolean): Promise<void> {
    const where = `slot ${slot} from ${source.name} to ${target.name}`;
    const limits = await this.limitsOf(source);
    const contents = await this.contentsOf(source, slot, limits);
    let largeBytes = 0;
    for (const [index, name] of contents.largeKeyNames.entries()) {
      const bytes = contents.largeKeys[index]?.bytes ?? 0;
      if (bytes > limits.maxKeyBytes) {
        throw new Refusal(
          `${where}: key ${displayKeyName(name)} (~${formatMegabytes(bytes)}) is too big to MIGRATE without blocking ${source.name} past half its node timeout`,
          'split or delete the key, or raise cluster-node-timeout on every node for the move, then run again',
        );
      }
      largeBytes += bytes;
      await this.migrate(source, target, slot, [name], progress, `${where}: MIGRATE of key ${displayKeyName(name)} (~${formatMegabytes(bytes)})`);
    }
    const smallKeys = Math.max(1, contents.keys - contents.largeKeyNames.length);
    const bytesPerKey = Math.max(1, (contents.bytes - largeBytes) / smallKeys);
    let batch = Math.max(1, Math.min(this.environment.keysPerBatch, Math.floor(limits.batchBytes / bytesPerKey)));
    const sourceClient = await this.environment.client(source);
    for (;;) {
      const keys = await withRetry(
        `${where}: GETKEYSINSLOT`,
        async () =>
          (await sourceClient.sendCommand(new Command('CLUSTER', ['GETKEYSINSLOT', String(slot), String(batch)], { replyEncoding: null }))) as Buffer[],
        { log: this.environment.log },
      );
      if (keys.length === 0) return;
      const started = performance.now();
      try {
        await this.migrate(source, target, slot, keys, progress, `${where}: MIGRATE ${keys.length} keys`);
      } catch (error) {
        // A batch too large for MIGRATE's timeout: retry smaller before giving up, unless the
        // target is gone (then smaller batches fail the same way, only slower).
        if (batch > 10 && !(error instanceof Refusal) && (await this.answers(target))) {
          batch = Math.max(10, Math.floor(batch / 4));
          this.environment.log.warn(`${describeError(error)}; retrying with ${batch} keys per MIGRATE`);
          continue;
        }
        throw error;
      }
      // Keys bigger than the survey suggested (it samples very large slots): keep each MIGRATE short.
      if (performance.now() - started > limits.maxBlockMs && batch > 1) batch = Math.max(1, Math.floor(batch / 4));
      if (!untilEmpty && keys.length < batch) return;
    }
  }

  private async answers(pod: Pod): Promise<boolean> {
    try {
      await (await this.environment.client(pod)).ping();
      return true;
    } catch {
      return false;
    }
  }

  /** One MIGRATE of `keys` (all of `slot`), paced and in lanes; counts what moved, also when it fails part-way. */
  private async migrate(source: Pod, target: Pod, slot: number, keys: readonly Buffer[], progress: MigrationProgress | undefined, what: string): Promise<void> {
    const sourceClient = await this.environment.client(source);
    await this.environment.rate.take(keys.length);
    const auth = this.environment.password === undefined ? [] : ['AUTH', this.environment.password];
    const args = [target.ip, String(target.port), '', '0', String(this.environment.migrateTimeoutMs), 'REPLACE', ...auth, 'KEYS', ...keys];
    try {
      await withRetry(
        what,
        async () => {
          try {
            await this.environment.lanes.run(source, target, () => withAsking(sourceClient, 'MIGRATE', args));
          } catch (error) {
            if (isRedisError(error, 'authentication')) {
              throw new MigrateAuthenticationError(`${what}: the target refused the source's MIGRATE authentication: ${describeError(error)}`);
            }
            if (isRedisError(error, 'outOfMemory')) throw new ReceiverOutOfMemory(target, `slot ${slot}`, error);
            throw error;
          }
        },
        { log: this.environment.log, attempts: 6 },
      );
    } catch (error) {
      // Part of the batch may have moved before the failure: count it, so progress stays true.
      const left = await withAsking(sourceClient, 'EXISTS', keys).catch(() => keys.length);
      progress?.keysMoved(keys.length - Number(left));
      throw error instanceof TopologyError ? error : new TopologyError(`${what} failed: ${describeError(error)}`);
    }
    progress?.keysMoved(keys.length);
  }
}

/**
 * `command` preceded by ASKING on the same connection: a node still importing the slot (a repair
 * moving keys out of it) serves its keys only to an ASKING client; the owner serves them anyway.
 */
async function withAsking(client: Redis, command: string, args: ReadonlyArray<string | Buffer>): Promise<unknown> {
  const results =
    (await client
      .pipeline()
      .call('ASKING')
      .callBuffer(command, ...args)
      .exec()) ?? [];
  const [error, reply] = results[1] ?? [new Error(`${command}: no reply`), undefined];
  if (error) throw error;
  return reply;
}
