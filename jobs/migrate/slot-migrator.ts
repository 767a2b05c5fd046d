// The slot migration engine (the hot path). Per slot the safe protocol: IMPORTING on the
// target, MIGRATING on the source, MIGRATE the keys in batches bounded by bytes until the slot
// is empty (key-mover.ts), then SETSLOT NODE on the target, the source and every other master.
// A pair moves a window of slots at a time, one protocol step for the whole window per round
// trip (the commands pipeline on the shared connections); all pairs run at once.
// Over 300 lines on purpose: the protocol's steps (open, drain, hand over, claim) and the reasons
// for their order read best in one place; key batches, lanes, pacing and tuning live beside it.
import type { Redis } from 'ioredis';
import { Refusal, TopologyError } from '../errors';
import type { SurveyedSlot } from '../observe/slot-survey';
import type { SlotMove } from '../plan/model';
import { formatRanges } from '../plan/slots';
import type { Pod } from '../pod';
import { MigrationProgress, type Log } from '../progress';
import { call, withRetry } from '../redis/command';
import { RetryableError, isRedisError } from '../redis/errors';
import type { ServerCapabilities } from '../redis/server';
import { KeyMover, ReceiverOutOfMemory } from './key-mover';
import { MigrateLanes } from './lanes';
import { RateLimiter } from './rate-limiter';
import { defaultTuning, type MigrationTuning } from './tuning';

export interface MigrationEnvironment {
  client(pod: Pod): Promise<Redis>;
  /** One of the pod's spare connections (see setSlotClient). */
  spareClient(pod: Pod, index: number): Promise<Redis>;
  podOf(nodeId: string): Pod;
  /** Every master to tell about the new owner, besides source and target. */
  masters(): readonly Pod[];
  /** What the pod's server can do (probed when the cluster was observed). */
  capabilities(pod: Pod): ServerCapabilities;
  readonly password: string | undefined;
  readonly log: Log;
}

/** Spare connections per Valkey node for its SETSLOTs (they wait for replicas together). */
const setSlotConnections = 8;

export class SlotMigrator {
  private readonly keys: KeyMover;

  constructor(
    private readonly environment: MigrationEnvironment,
    private readonly tuning: MigrationTuning = defaultTuning,
  ) {
    this.keys = new KeyMover({
      client: (pod) => environment.client(pod),
      password: environment.password,
      log: environment.log,
      lanes: new MigrateLanes(Math.max(1, Math.floor(tuning.slotsInFlight / 16))),
      rate: new RateLimiter(tuning.maxKeysPerSecond),
      keysPerBatch: tuning.keysPerBatch,
      migrateTimeoutMs: tuning.migrateTimeoutMs,
    });
  }

  /** What the moving slots hold, measured before the run: MIGRATE batches are sized from it. */
  remember(survey: ReadonlyMap<number, SurveyedSlot>): void {
    this.keys.remember(survey);
  }

  /** Moves all slots of all moves; resolves when every slot is owned by its target everywhere. */
  async run(moves: readonly SlotMove[], estimatedKeys: number): Promise<MigrationProgress> {
    const totalSlots = moves.reduce((sum, move) => sum + move.slots.length, 0);
    const progress = new MigrationProgress(this.environment.log, totalSlots, estimatedKeys);
    this.environment.log.info(
      `migrating ${totalSlots} slots (~${estimatedKeys} keys) in ${moves.length} source->target pairs, ${this.tuning.slotsInFlight} slots at a time per pair` +
        (this.tuning.maxKeysPerSecond > 0 ? `, at most ${this.tuning.maxKeysPerSecond} keys/s` : '') +
        ': ' +
        moves.map((move) => `${this.environment.podOf(move.from).ordinal}->${this.environment.podOf(move.to).ordinal}: ${move.slots.length}`).join(', '),
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

  /**
   * Where to send a slot's SETSLOT. Valkey 8+ answers SETSLOT only once the node's replicas have
   * it, and a connection waiting for that runs nothing else: on one connection a window's SETSLOTs
   * waited one after another (180-440 slots/s). Spread over a few connections they wait together.
   * Redis answers at once: the one pipelined connection is fastest there.
   */
  private async setSlotClient(pod: Pod, slot: number): Promise<Redis> {
    if (!this.environment.capabilities(pod).setSlotWaitsForReplicas) return this.environment.client(pod);
    return this.environment.spareClient(pod, slot % setSlotConnections);
  }

  /** Set when a slot fails: the other pairs finish their window (not left open) and stop. */
  private stopped = false;

  /**
   * A pair's slots in windows of half the slots in flight, two windows at a time: while one
   * window's keys move, the other's new owner is being set.
   */
  private async runPair(move: SlotMove, progress: MigrationProgress): Promise<void> {
    const windowSize = Math.max(1, Math.ceil(this.tuning.slotsInFlight / 2));
    const windows: number[][] = [];
    for (let offset = 0; offset < move.slots.length; offset += windowSize) windows.push(move.slots.slice(offset, offset + windowSize));
    const worker = async () => {
      for (let window = windows.shift(); window && !this.stopped; window = windows.shift()) {
        try {
          await this.moveSlots(move.from, move.to, window, progress);
        } catch (error) {
          this.stopped = true;
          throw error;
        }
      }
    };
    // Let the other window finish (so it is not left open) before reporting the first error.
    const results = await Promise.allSettled(Array.from({ length: Math.min(this.tuning.slotsInFlight > 1 ? 2 : 1, windows.length) }, worker));
    const failed = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
    if (failed) throw failed.reason;
  }

  /** The full protocol for one slot. Safe to repeat: an already moved slot is finalized only. */
  async moveSlot(fromId: string, toId: string, slot: number, progress?: MigrationProgress): Promise<void> {
    await this.moveSlots(fromId, toId, [slot], progress);
  }

  /**
   * The protocol for a window of slots of one pair, each step issued for every slot of the
   * window at once (one round trip per step, not per slot) and finished for all of them before
   * the next begins, so per slot the order stays: IMPORTING, MIGRATING, keys, NODE on the
   * target, NODE on the source. A slot that fails drops out; the others are finished (not left
   * open), then the first failure is thrown. Safe to repeat.
   */
  async moveSlots(fromId: string, toId: string, slots: readonly number[], progress?: MigrationProgress): Promise<void> {
    const source = this.environment.podOf(fromId);
    const target = this.environment.podOf(toId);
    const where = (slot: number) => `slot ${slot} from ${source.name} to ${target.name}`;
    const failures: unknown[] = [];
    /** Runs `operation` for every slot at once; returns the slots it succeeded for, with its result. */
    const forEach = async <T>(of: readonly number[], operation: (slot: number) => Promise<T>): Promise<Array<[number, T]>> => {
      const results = await Promise.allSettled(of.map(operation));
      const succeeded: Array<[number, T]> = [];
      results.forEach((result, index) => {
        if (result.status === 'fulfilled') succeeded.push([of[index]!, result.value]);
        else failures.push(result.reason);
      });
      return succeeded;
    };

    const imported = await forEach(slots, (slot) =>
      withRetry(
        `${where(slot)}: SETSLOT IMPORTING`,
        async () => {
          try {
            await call(await this.setSlotClient(target, slot), 'CLUSTER', 'SETSLOT', slot, 'IMPORTING', fromId);
            return false;
          } catch (error) {
            if (isRedisError(error, 'alreadyOwner')) return true;
            throw error;
          }
        },
        { log: this.environment.log },
      ),
    );
    const alreadyMoved = imported.filter(([, moved]) => moved).map(([slot]) => slot);
    const opened = imported.filter(([, moved]) => !moved).map(([slot]) => slot);

    const migrating = await forEach(opened, (slot) =>
      withRetry(
        `${where(slot)}: SETSLOT MIGRATING`,
        async () => {
          try {
            await call(await this.setSlotClient(source, slot), 'CLUSTER', 'SETSLOT', slot, 'MIGRATING', toId);
          } catch (error) {
            if (isRedisError(error, 'notOwner')) {
              await call(await this.setSlotClient(target, slot), 'CLUSTER', 'SETSLOT', slot, 'STABLE').catch(() => undefined);
              throw new TopologyError(
                `${where(slot)}: the source no longer owns the slot (the cluster changed while planning)`,
                'run again: the program re-reads the cluster and plans from there',
              );
            }
            throw error;
          }
        },
        { log: this.environment.log },
      ),
    );
    // Once a slot is MIGRATING, a key the source lacks is redirected (-ASK) to the target, so
    // no key can appear on the source: one listing after MIGRATING is complete. Should one
    // remain anyway, SETSLOT NODE on the source refuses and it is moved then.
    const drained = await forEach(
      migrating.map(([slot]) => slot),
      (slot) => this.keys.drainSlot(source, target, slot, progress, false),
    );

    // An empty listing proves the slot empty only if it came from the source as it was: a source
    // that failed over and came back (a replica, perhaps still empty) would let the target take a
    // slot whose keys are on the promoted replica. So the source must still be a master.
    if (drained.length > 0) await this.requireMaster(source);
    // A slot still importing last: taking it is what bumps the epoch and broadcasts (claimOnTarget).
    const finishing = [...alreadyMoved, ...drained.map(([slot]) => slot)];
    const { assigned, outOfMemory } = await this.handOver(finishing, source, target, toId, forEach, progress);
    progress?.slotsMoved(assigned.length);
    // The window is handed over; a receiver out of memory stops the migration now.
    if (outOfMemory) failures.unshift(outOfMemory);
    if (failures.length > 0) throw failures.find((failure) => failure instanceof Refusal) ?? failures[0];
  }

  private async requireMaster(source: Pod): Promise<void> {
    const role = (await withRetry(`${source.name}: ROLE`, async () => call(await this.environment.client(source), 'ROLE'), {
      log: this.environment.log,
    })) as unknown[];
    if (role[0] !== 'master') {
      throw new TopologyError(
        `${source.name} is no longer a master (it failed over) while its slots were moving; the open slots are repaired from where their keys are`,
        'the program reads the cluster again and goes on',
      );
    }
  }

  /** Every key of `slot` from source to target, until the slot is empty (for repairs). */
  async drainSlot(source: Pod, target: Pod, slot: number): Promise<void> {
    await this.keys.drainSlot(source, target, slot, undefined, true);
  }

  /**
   * The target takes the window's slots in one transaction. `SETSLOT NODE` on a node importing
   * the slot bumps its config epoch and broadcasts a PONG to every node, and every receiver then
   * walks all 16384 slots: done per slot, the largest CPU cost of a fast migration. So
   * every slot but the last is closed (STABLE) and taken (NODE) without it, and the last one
   * is taken the usual way: one epoch bump and one broadcast carry the whole window. The
   * transaction matters: while a slot is importing, gossip from the source (whose epoch may be
   * higher) cannot take it back, and taken without importing it could, emptying it; inside
   * MULTI nothing runs between STABLE and the bump. BUMPEPOCH at the end makes sure of the epoch
   * when the last slot was no longer importing (a resumed run). Safe to repeat.
   */
  private async claimOnTarget(target: Pod, toId: string, slots: readonly number[]): Promise<ReceiverOutOfMemory | undefined> {
    const client = await this.environment.client(target);
    // Valkey 8+: SETSLOT waits for the replicas, and a command that blocks inside MULTI aborts the
    // server. There each slot is taken on its own (each NODE on an importing slot bumps the epoch
    // itself), pipelined.
    if (this.environment.capabilities(target).setSlotWaitsForReplicas) {
      await Promise.all(slots.map(async (slot) => call(await this.setSlotClient(target, slot), 'CLUSTER', 'SETSLOT', slot, 'NODE', toId)));
      return undefined;
    }
    const transaction = client.multi();
    slots.forEach((slot, index) => {
      if (index < slots.length - 1) transaction.call('CLUSTER', 'SETSLOT', String(slot), 'STABLE');
      transaction.call('CLUSTER', 'SETSLOT', String(slot), 'NODE', toId);
    });
    transaction.call('CLUSTER', 'BUMPEPOCH');
    let results: Array<[Error | null, unknown]>;
    try {
      results = (await transaction.exec()) ?? [];
    } catch (error) {
      // At maxmemory a node refuses every command queued in MULTI, even these; the keys are
      // there already, so the slots are taken one by one the plain way (each NODE on an
      // importing slot bumps the epoch itself), and the migration stops for lack of memory.
      if (!isRedisError(error, 'outOfMemory')) throw error;
      for (const slot of slots) await call(client, 'CLUSTER', 'SETSLOT', slot, 'NODE', toId);
      return new ReceiverOutOfMemory(target, `slots ${formatRanges(slots)}`, error);
    }
    const failed = results.find(([error]) => error);
    if (failed) throw failed[0];
    if (results.length === 0) throw new RetryableError('the transaction was discarded');
    return undefined;
  }

  /**
   * SETSLOT NODE for a window: on the target for all slots at once, then on the source, then on
   * the other masters (best effort: gossip also spreads it). Returns the slots now owned by the
   * target on both sides.
   */
  private async handOver(
    slots: readonly number[],
    source: Pod,
    target: Pod,
    toId: string,
    forEach: <T>(of: readonly number[], operation: (slot: number) => Promise<T>) => Promise<Array<[number, T]>>,
    progress?: MigrationProgress,
  ): Promise<{ assigned: number[]; outOfMemory?: ReceiverOutOfMemory }> {
    const where = (slot: number) => `slot ${slot} from ${source.name} to ${target.name}`;
    if (slots.length === 0) return { assigned: [] };
    const outOfMemory = await withRetry(
      `slots ${formatRanges(slots)} from ${source.name} to ${target.name}: SETSLOT NODE on the target`,
      () => this.claimOnTarget(target, toId, slots),
      { log: this.environment.log },
    );
    const onSource = await forEach(slots, (slot) =>
      withRetry(
        `${where(slot)}: SETSLOT NODE on the source`,
        async () => {
          try {
            await call(await this.setSlotClient(source, slot), 'CLUSTER', 'SETSLOT', slot, 'NODE', toId);
          } catch (error) {
            // A key left on the source: move it too, then try again.
            if (isRedisError(error, 'keysRemain')) {
              await this.keys.drainSlot(source, target, slot, progress, true);
              throw new RetryableError('keys appeared in the slot during the migration');
            }
            // Redis 7: the target's claim reached the source by gossip first, it was the source's
            // last slot, and the source turned itself into a replica; it knows the new owner already.
            if (isRedisError(error, 'notMaster')) return;
            throw error;
          }
        },
        { log: this.environment.log },
      ),
    );
    const assigned = onSource.map(([slot]) => slot);
    await Promise.all(
      this.environment
        .masters()
        .filter((pod) => pod.ordinal !== source.ordinal && pod.ordinal !== target.ordinal)
        .map(async (pod) => {
          try {
            await Promise.all(
              assigned.map(async (slot) => call(await this.setSlotClient(pod, slot), 'CLUSTER', 'SETSLOT', slot, 'NODE', toId).catch(() => undefined)),
            );
          } catch {
            // Gossip carries the new owner to this node anyway.
          }
        }),
    );
    return { assigned, outOfMemory };
  }
}
