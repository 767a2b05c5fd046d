// The atomic slot migration engine: where source and target move slots themselves (Valkey 9:
// CLUSTER MIGRATESLOTS, watched with CLUSTER GETSLOTMIGRATIONS, stopped with
// CLUSTER CANCELSLOTMIGRATIONS), one job per source/target pair. A job that fails, is
// cancelled, or does not finish within a time bounded by its bytes, is handed to the MIGRATE
// engine, which moves those slots the classic way; the log says so.
import type { Redis } from 'ioredis';
import { sleep } from '../clock';
import { TopologyError, describeError } from '../errors';
import { formatDuration } from '../format';
import { assumedMigrateBytesPerSecond } from '../plan/migration-limits';
import type { SlotMove } from '../plan/model';
import { formatRanges, toRanges } from '../plan/slots';
import type { Pod } from '../pod';
import { MigrationProgress, type Log } from '../progress';
import { call } from '../redis/command';

/** One entry of CLUSTER GETSLOTMIGRATIONS. */
export interface ServerMigration {
  readonly name: string;
  readonly operation: string;
  readonly slots: readonly number[];
  /** The receiving node's id (from target_node, or node on an export). */
  readonly target: string;
  readonly state: string;
  readonly message: string;
  readonly createTime: number;
}

const terminalStates = new Set(['success', 'failed', 'cancelled']);

export function isActive(migration: ServerMigration): boolean {
  return !terminalStates.has(migration.state);
}

/** Parses CLUSTER GETSLOTMIGRATIONS (RESP2: each entry a flat field/value array). */
export function parseSlotMigrations(reply: unknown): ServerMigration[] {
  if (!Array.isArray(reply)) return [];
  return reply.map((entry) => {
    const fields = new Map<string, string>();
    const values = Array.isArray(entry) ? entry : [];
    for (let index = 0; index + 1 < values.length; index += 2) fields.set(String(values[index]), String(values[index + 1]));
    const operation = fields.get('operation') ?? '';
    const slots = (fields.get('slot_ranges') ?? '').split(/[\s,]+/).flatMap((range) => {
      const match = /^(\d+)(?:-(\d+))?$/.exec(range);
      if (!match) return [];
      const start = Number(match[1]);
      const end = match[2] === undefined ? start : Number(match[2]);
      return Array.from({ length: end - start + 1 }, (_, offset) => start + offset);
    });
    return {
      name: fields.get('name') ?? '',
      operation,
      slots,
      target: fields.get('target_node') ?? (operation === 'EXPORT' ? (fields.get('node') ?? '') : ''),
      state: fields.get('state') ?? 'unknown',
      message: fields.get('message') ?? '',
      createTime: Number(fields.get('create_time') ?? 0),
    };
  });
}

export async function readSlotMigrations(client: Redis): Promise<ServerMigration[]> {
  return parseSlotMigrations(await call(client, 'CLUSTER', 'GETSLOTMIGRATIONS'));
}

export interface AtomicMigrationEnvironment {
  client(pod: Pod): Promise<Redis>;
  podOf(nodeId: string): Pod;
  readonly log: Log;
  /** Bytes of each moving slot, where measured: bounds how long a job may take. */
  bytesOf(slot: number): number;
  /** Keys of each moving slot, for progress. */
  keysOf(slot: number): number;
  /** Moves slots the classic way, for the jobs the servers do not finish. */
  fallback(moves: readonly SlotMove[], estimatedKeys: number): Promise<void>;
}

interface Job {
  readonly move: SlotMove;
  readonly source: Pod;
  readonly startedAt: number;
  readonly deadline: number;
  state: string;
  outcome?: 'success' | 'fallback';
}

/** A job may take 30 s plus its bytes at the assumed MIGRATE rate before it is given up. */
const jobBaseMs = 30_000;

export class AtomicSlotMigrator {
  constructor(private readonly environment: AtomicMigrationEnvironment) {}

  async run(moves: readonly SlotMove[], estimatedKeys: number): Promise<void> {
    const { log } = this.environment;
    const totalSlots = moves.reduce((sum, move) => sum + move.slots.length, 0);
    const progress = new MigrationProgress(log, totalSlots, estimatedKeys);
    const name = (id: string) => this.environment.podOf(id).ordinal;
    log.info(
      `migrating ${totalSlots} slots (~${estimatedKeys} keys) with the servers' atomic slot migration (CLUSTER MIGRATESLOTS), one job per pair: ` +
        moves.map((move) => `${name(move.from)}->${name(move.to)}: ${move.slots.length}`).join(', '),
    );
    const jobs: Job[] = [];
    const bySource = new Map<string, SlotMove[]>();
    for (const move of moves) bySource.set(move.from, [...(bySource.get(move.from) ?? []), move]);
    await Promise.all(
      [...bySource].map(async ([sourceId, sourceMoves]) => {
        const source = this.environment.podOf(sourceId);
        const args = sourceMoves.flatMap((move) => ['SLOTSRANGE', ...toRanges(move.slots).flatMap(([start, end]) => [start, end]), 'NODE', move.to]);
        try {
          await call(await this.environment.client(source), 'CLUSTER', 'MIGRATESLOTS', ...args);
          for (const move of sourceMoves) {
            const bytes = move.slots.reduce((sum, slot) => sum + this.environment.bytesOf(slot), 0);
            const allowedMs = jobBaseMs + (bytes * 1000) / assumedMigrateBytesPerSecond;
            jobs.push({ move, source, startedAt: Date.now(), deadline: Date.now() + allowedMs, state: 'started' });
          }
        } catch (error) {
          log.warn(`${source.name}: CLUSTER MIGRATESLOTS was refused (${describeError(error)}); moving its slots with MIGRATE instead`);
          for (const move of sourceMoves) jobs.push({ move, source, startedAt: Date.now(), deadline: 0, state: 'refused', outcome: 'fallback' });
        }
      }),
    );

    let lastLog = Date.now();
    // Most jobs end within a second. The sources are asked, all at once, every 5% of the time
    // the jobs have run (10 to 100 ms): a job's end is seen at most that late.
    const started = Date.now();
    while (jobs.some((job) => job.outcome === undefined)) {
      await sleep(Math.min(100, Math.max(10, (Date.now() - started) / 20)));
      const sources = [...new Set(jobs.filter((job) => job.outcome === undefined).map((job) => job.source))];
      await Promise.all(
        sources.map(async (source) => {
          let migrations: ServerMigration[];
          try {
            migrations = await readSlotMigrations(await this.environment.client(source));
          } catch (error) {
            log.warn(`${source.name}: CLUSTER GETSLOTMIGRATIONS failed (${describeError(error)}); asking again`);
            return;
          }
          const stalled: Job[] = [];
          for (const job of jobs.filter((candidate) => candidate.source === source && candidate.outcome === undefined)) {
            const migration = latestFor(migrations, job);
            if (!migration) continue;
            job.state = migration.state;
            if (migration.state === 'success') {
              job.outcome = 'success';
              progress.slotsMoved(job.move.slots.length);
              progress.keysMoved(job.move.slots.reduce((sum, slot) => sum + this.environment.keysOf(slot), 0));
            } else if (!isActive(migration)) {
              job.outcome = 'fallback';
              log.warn(
                `atomic slot migration of slots ${formatRanges(job.move.slots)} from ${source.name} ended ${migration.state}` +
                  `${migration.message ? ` (${migration.message})` : ''}; moving them with MIGRATE instead`,
              );
            } else if (Date.now() > job.deadline) {
              stalled.push(job);
            }
          }
          if (stalled.length > 0) {
            // CANCELSLOTMIGRATIONS stops every job this source exports; the others are started again below, the classic way.
            log.warn(
              `atomic slot migration from ${source.name} has not finished within ${formatDuration(stalled[0]!.deadline - stalled[0]!.startedAt)} ` +
                `(state ${stalled.map((job) => job.state).join(', ')}); cancelling it and moving its slots with MIGRATE instead`,
            );
            await call(await this.environment.client(source), 'CLUSTER', 'CANCELSLOTMIGRATIONS').catch((error: unknown) =>
              log.warn(`${source.name}: CLUSTER CANCELSLOTMIGRATIONS failed: ${describeError(error)}`),
            );
            await waitForServerMigrations([source], this.environment.client.bind(this.environment), log, 60_000);
            const after = await readSlotMigrations(await this.environment.client(source));
            for (const job of jobs.filter((candidate) => candidate.source === source && candidate.outcome === undefined)) {
              const migration = latestFor(after, job);
              if (migration?.state === 'success') {
                job.outcome = 'success';
                progress.slotsMoved(job.move.slots.length);
              } else job.outcome = 'fallback';
            }
          }
        }),
      );
      if (Date.now() - lastLog > 2000) {
        const active = jobs.filter((job) => job.outcome === undefined);
        log.info(
          `atomic slot migration: ${jobs.length - active.length}/${jobs.length} jobs done, ${progress.slots}/${totalSlots} slots; ` +
            active.map((job) => `${name(job.move.from)}->${name(job.move.to)} ${job.state}`).join(', '),
        );
        lastLog = Date.now();
      }
    }
    const leftover = jobs.filter((job) => job.outcome === 'fallback').map((job) => job.move);
    if (leftover.length === 0) {
      progress.finish();
      return;
    }
    const keys = leftover.reduce((sum, move) => sum + move.slots.reduce((count, slot) => count + this.environment.keysOf(slot), 0), 0);
    log.info(`falling back to the MIGRATE engine for ${leftover.reduce((sum, move) => sum + move.slots.length, 0)} slots the servers did not move`);
    await this.environment.fallback(leftover, keys);
  }
}

/** The server's most recent entry for a job's slots and target (it may list older ones for the same slots). */
function latestFor(migrations: readonly ServerMigration[], job: Job): ServerMigration | undefined {
  const wanted = [...job.move.slots].sort((a, b) => a - b).join(',');
  const matching = migrations.filter(
    (migration) =>
      migration.operation === 'EXPORT' &&
      migration.target === job.move.to &&
      migration.createTime >= Math.floor(job.startedAt / 1000) - 1 &&
      [...migration.slots].sort((a, b) => a - b).join(',') === wanted,
  );
  return matching.sort((a, b) => b.createTime - a.createTime)[0];
}

/**
 * Waits (bounded) until none of `pods` has an atomic slot migration in progress, exporting,
 * importing or still cleaning up a failed import (a target's replicas keep their own entries);
 * past the bound, cancels them. A run started while jobs of an earlier run are still moving
 * slots must not plan a conflicting move, and MIGRATE must not start on slots a failed job is
 * still cleaning up. Returns whether there was any to wait for.
 */
export async function waitForServerMigrations(pods: readonly Pod[], client: (pod: Pod) => Promise<Redis>, log: Log, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  let lastLog = 0;
  for (let check = 0; ; check++) {
    const active: Array<[Pod, ServerMigration]> = [];
    for (const pod of pods) {
      const migrations = await readSlotMigrations(await client(pod)).catch(() => []);
      for (const migration of migrations) if (isActive(migration)) active.push([pod, migration]);
    }
    if (active.length === 0) return check > 0;
    if (Date.now() > deadline + 30_000) {
      throw new TopologyError(
        `atomic slot migrations would not stop: ${active.map(([pod, migration]) => `${pod.name} slots ${formatRanges(migration.slots)} ${migration.state}`).join('; ')}`,
        'check CLUSTER GETSLOTMIGRATIONS on those nodes and their logs, then run again',
      );
    }
    if (Date.now() > deadline) {
      log.warn(`atomic slot migrations still in progress after ${formatDuration(timeoutMs)}; cancelling them`);
      const exporting = active.filter(([, migration]) => migration.operation === 'EXPORT').map(([pod]) => pod);
      for (const pod of new Set(exporting)) await call(await client(pod), 'CLUSTER', 'CANCELSLOTMIGRATIONS').catch(() => undefined);
      await sleep(500);
      continue;
    }
    if (Date.now() - lastLog > 10_000) {
      log.info(
        `waiting for atomic slot migrations in progress: ${active.map(([pod, migration]) => `${pod.name} slots ${formatRanges(migration.slots)} ${migration.state}`).join('; ')}`,
      );
      lastLog = Date.now();
    }
    await sleep(200);
  }
}
