// The ways of growing and shrinking the cluster being compared: the server's own cli --cluster
// (redis-cli or valkey-cli, as the seed walkthrough does it by hand; on Valkey 9 also with its
// atomic slot migration), and the project's topology program (with its default engine, or forced
// to MIGRATE). native-asm.ts adds the servers' atomic slot migration issued directly. Each
// operation returns its wall time split into phases, so fixed costs (joining, waiting for
// agreement) show apart from moving keys.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { LocalRedisPods } from '../support/redis-pods.js';
import type { ServerBinaries } from '../support/server-binaries.js';
import { assertSucceeded, runChild, type ChildResult, type StampedLine } from './child-process.js';
import { readClusterNodes, waitForAgreement, waitForReplication, withConnection } from './cluster-view.js';

export interface Phase {
  name: string;
  ms: number;
}

export interface OperationTiming {
  totalMs: number;
  /** Time spent moving slots and keys; undefined if it could not be told apart. */
  migrateMs?: number;
  phases: Phase[];
  /** How migrateMs was obtained. */
  migrateSource: string;
  logFile: string;
  /** CPU time of the tool's processes (all runs), if it could be measured. */
  toolCpuMs?: number;
  /** The program only: what it did before the first slot moved, from its log. */
  beforeMigration?: Phase[];
  /** The program only: rounds it stopped and started again ("round N stopped: ..."), from its log. */
  stoppedRounds?: string[];
}

export interface OperationContext {
  pods: LocalRedisPods;
  /** Masters before the operation. */
  fromMasters: number;
  toMasters: number;
  /** Ordinals 0..podCount-1 exist while the operation runs. */
  podCount: number;
  timeoutMs: number;
  logFile: string;
}

/**
 * What a contender is, for the ratios: the server's cli as it has always moved slots ('cli'), the
 * same cli with atomic slot migration ('cli-asm'), the servers' atomic slot migration issued by
 * the bench itself ('native-asm'), the program with its default engine ('program') or forced to
 * MIGRATE ('program-migrate').
 */
export type ContenderRole = 'cli' | 'cli-asm' | 'native-asm' | 'program' | 'program-migrate';

export interface Contender {
  name: string;
  role: ContenderRole;
  grow(context: OperationContext): Promise<OperationTiming>;
  shrink(context: OperationContext): Promise<OperationTiming>;
}

/** Collects phases on one clock; each phase runs to completion before the next starts. */
export class Stopwatch {
  readonly phases: Phase[] = [];
  private readonly started = performance.now();

  async time<T>(name: string, work: () => Promise<T>): Promise<T> {
    const phaseStarted = performance.now();
    try {
      return await work();
    } finally {
      this.phases.push({ name, ms: performance.now() - phaseStarted });
    }
  }

  get elapsedMs(): number {
    return performance.now() - this.started;
  }
}

const ansiEscapes = /\x1b\[[0-9;]*m/g;

export function toolCpuMs(results: ChildResult[]): number | undefined {
  return results.every((result) => result.cpuMs !== undefined) ? results.reduce((sum, result) => sum + result.cpuMs!, 0) : undefined;
}

export function writeLog(file: string, results: ChildResult[]): void {
  const text = results
    .map((result) =>
      [
        `$ ${result.command}`,
        ...result.lines.map(
          (line) => `${(line.atMs / 1000).toFixed(3).padStart(9)} ${line.stream === 'stderr' ? '!' : ' '} ${line.text.replace(ansiEscapes, '')}`,
        ),
        `exit ${result.exitCode ?? result.signal} after ${(result.durationMs / 1000).toFixed(3)} s`,
        '',
      ].join('\n'),
    )
    .join('\n');
  writeFileSync(file, text);
}

export async function nodeId(address: string): Promise<string> {
  return withConnection(address, async (client) => String(await client.call('CLUSTER', 'MYID')));
}

/**
 * The server's own cli: `redis-cli --cluster` or `valkey-cli --cluster` (each with its own flag
 * names), with `atomic` also `--cluster-use-atomic-slot-migration` (valkey-cli 9.1: rebalance then
 * issues CLUSTER MIGRATESLOTS per slot range instead of moving keys with MIGRATE).
 */
export class CliContender implements Contender {
  readonly name: string;
  readonly role: ContenderRole;
  private readonly valkey: boolean;

  /** @param pipeline the cli's --cluster-pipeline (keys per MIGRATE); undefined keeps its default of 10. */
  constructor(
    private readonly binaries: ServerBinaries,
    private readonly atomic = false,
    private readonly pipeline?: number,
  ) {
    this.valkey = binaries.flavor === 'valkey';
    this.name = `${this.valkey ? 'valkey-cli' : 'redis-cli'}${atomic ? ' asm' : ''}`;
    this.role = atomic ? 'cli-asm' : 'cli';
  }

  private cli(args: string[], context: OperationContext, results: ChildResult[]): Promise<ChildResult> {
    return runChild(this.binaries.cli, args, context.timeoutMs).then((result) => {
      results.push(result);
      return assertSucceeded(result);
    });
  }

  private rebalanceArgs(): string[] {
    return [
      ...(this.pipeline === undefined ? [] : ['--cluster-pipeline', String(this.pipeline)]),
      ...(this.atomic ? ['--cluster-use-atomic-slot-migration'] : []),
    ];
  }

  async grow(context: OperationContext): Promise<OperationTiming> {
    const { pods } = context;
    const addresses = pods.addresses(context.podCount);
    const seed = addresses[0];
    const newMaster = addresses[2 * context.fromMasters];
    const newReplica = addresses[2 * context.fromMasters + 1];
    const results: ChildResult[] = [];
    const stopwatch = new Stopwatch();
    const [replicaFlag, masterIdFlag, emptyMastersFlag] = this.valkey
      ? ['--cluster-replica', '--cluster-primary-id', '--cluster-use-empty-primaries']
      : ['--cluster-slave', '--cluster-master-id', '--cluster-use-empty-masters'];
    try {
      // The cli refuses to add a node while the others still disagree, so wait after each.
      await stopwatch.time('join', () => this.cli(['--cluster', 'add-node', newMaster, seed], context, results));
      await stopwatch.time('agree', () => waitForAgreement(addresses.slice(0, 2 * context.fromMasters + 1)));
      const masterId = await nodeId(newMaster);
      await stopwatch.time('join', () => this.cli(['--cluster', 'add-node', newReplica, seed, replicaFlag, masterIdFlag, masterId], context, results));
      await stopwatch.time('agree', () => waitForAgreement(addresses));
      await stopwatch.time('migrate', () => this.cli(['--cluster', 'rebalance', seed, emptyMastersFlag, ...this.rebalanceArgs()], context, results));
      await stopwatch.time('agree', () => waitForAgreement(addresses));
    } finally {
      writeLog(context.logFile, results);
    }
    return rebalanceResult(stopwatch, context, results);
  }

  async shrink(context: OperationContext): Promise<OperationTiming> {
    const { pods } = context;
    const addresses = pods.addresses(context.podCount);
    const seed = addresses[0];
    const leaving = addresses.slice(2 * context.toMasters);
    const leavingIds = await Promise.all(leaving.map(nodeId));
    const nodes = await readClusterNodes(seed);
    const leavingMasterIds = nodes.filter((node) => leavingIds.includes(node.id) && node.role === 'master').map((node) => node.id);
    const results: ChildResult[] = [];
    const stopwatch = new Stopwatch();
    try {
      await stopwatch.time('migrate', () =>
        this.cli(['--cluster', 'rebalance', seed, '--cluster-weight', ...leavingMasterIds.map((id) => `${id}=0`), ...this.rebalanceArgs()], context, results),
      );
      const agreed = await stopwatch.time('agree', () => waitForAgreement(addresses));
      // The emptied master turns itself into a replica and loads its new master's data; del-node
      // gives up on a member that answers LOADING, so wait as a person would.
      await stopwatch.time('sync', () => waitForReplication(agreed));
      // Replicas first, so no node is left replicating a node that is gone.
      const replicasFirst = [...leavingIds].sort((a, b) => Number(leavingMasterIds.includes(a)) - Number(leavingMasterIds.includes(b)));
      await stopwatch.time('leave', async () => {
        for (const id of replicasFirst) await this.cli(['--cluster', 'del-node', seed, id], context, results);
      });
      await stopwatch.time('agree', () => waitForAgreement(addresses.slice(0, 2 * context.toMasters)));
    } finally {
      writeLog(context.logFile, results);
    }
    return rebalanceResult(stopwatch, context, results);
  }
}

/** A cli operation's timing: its migration is the rebalance command's wall time. */
function rebalanceResult(stopwatch: Stopwatch, context: OperationContext, results: ChildResult[]): OperationTiming {
  return {
    totalMs: stopwatch.elapsedMs,
    migrateMs: stopwatch.phases.find((phase) => phase.name === 'migrate')?.ms,
    migrateSource: 'the rebalance command',
    phases: mergePhases(stopwatch.phases),
    logFile: context.logFile,
    toolCpuMs: toolCpuMs(results),
  };
}

/** Sums phases that share a name (agreement is waited for more than once). */
export function mergePhases(phases: Phase[]): Phase[] {
  const merged: Phase[] = [];
  for (const phase of phases) {
    const existing = merged.find((candidate) => candidate.name === phase.name);
    if (existing) existing.ms += phase.ms;
    else merged.push({ ...phase });
  }
  return merged;
}

/**
 * Time the program spent moving slots, from its log: each "migrating N slots ..." line up to the
 * next "migrated N slots ..." line (a run may migrate more than once). Falls back to the first and
 * last lines that mention migration; undefined if the log says nothing about it.
 */
export function migrationTime(lines: StampedLine[]): { ms: number; startMs: number; endMs: number } | undefined {
  let ms = 0;
  let openedAt: number | undefined;
  let startMs: number | undefined;
  let endMs = 0;
  for (const line of lines) {
    if (/\bmigrating \d+ slots/i.test(line.text)) {
      openedAt = line.atMs;
      startMs ??= line.atMs;
    } else if (/\bmigrated \d+ slots/i.test(line.text) && openedAt !== undefined) {
      ms += line.atMs - openedAt;
      endMs = line.atMs;
      openedAt = undefined;
    }
  }
  if (startMs !== undefined && endMs > 0) return { ms, startMs, endMs };
  const mentions = lines.filter((line) => /migrat|moving|moved|reshard/i.test(line.text));
  if (mentions.length === 0) return undefined;
  const first = mentions[0].atMs;
  const last = mentions[mentions.length - 1].atMs;
  return { ms: last - first, startMs: first, endMs: last };
}

/**
 * Where a program run's time went before its first slot moved, from its log: the process start to
 * its first line, reading the cluster and planning (to the "plan, N steps" line), the plan to its
 * first step (surveying the moving slots' keys and bytes, the capacity checks), the steps before
 * the migrate step (joining, replicas), and the migrate step until the "migrating N slots" line
 * (waiting for every node to agree and report cluster_state:ok).
 */
export function beforeMigration(lines: StampedLine[]): Phase[] | undefined {
  const at = (pattern: RegExp) => lines.find((line) => pattern.test(line.text))?.atMs;
  const first = lines[0]?.atMs;
  const plan = at(/\bplan, \d+ steps?\b/);
  const firstStep = at(/\bstep 1\/\d+: /);
  const migrateStep = at(/\bstep \d+\/\d+: migrate\b/);
  const migrating = at(/\bmigrating \d+ slots/i);
  if (first === undefined || plan === undefined || firstStep === undefined || migrateStep === undefined || migrating === undefined) return undefined;
  return [
    { name: 'start', ms: first },
    { name: 'observe+plan', ms: plan - first },
    { name: 'survey+checks', ms: firstStep - plan },
    { name: 'steps before migrate', ms: migrateStep - firstStep },
    { name: 'migrate step to first slot', ms: migrating - migrateStep },
  ];
}

/** One program run's figures (a no-op, or a step of the scale series). */
export interface ProgramRun {
  ms: number;
  /** CPU seconds and peak RSS of the program's process(es), if GNU time measured them. */
  cpuMs?: number;
  maxRssKiB?: number;
  /** Moving slots, from the log; undefined if nothing moved. */
  migrateMs?: number;
  /** Process start to the "plan, N steps" line, where the log has one. */
  untilPlanMs?: number;
  logFile: string;
}

export class ProgramContender implements Contender {
  /** Program runs that failed and were run again (as a Job's backoffLimit would), per log file. */
  readonly failedAttempts = new Map<string, string[]>();

  constructor(
    private readonly bundle: string,
    private readonly extraArgs: string[] = [],
    /** Runs again after a failure, up to this many times; each failure is reported. */
    private readonly retries = 0,
    readonly name = 'program',
    readonly role: ContenderRole = 'program',
  ) {}

  async run(
    phase: 'pre' | 'post',
    masters: number,
    addresses: string[],
    context: { timeoutMs: number; logFile: string },
    results: ChildResult[],
  ): Promise<ChildResult> {
    const args = [this.bundle, '--phase', phase, '--masters', String(masters), '--replicas-per-master', '1', '--pods', addresses.join(','), ...this.extraArgs];
    for (let attempt = 0; ; attempt++) {
      const result = await runChild(process.execPath, args, context.timeoutMs);
      results.push(result);
      if (result.exitCode === 0 || attempt >= this.retries) return assertSucceeded(result);
      const failure = result.lines.filter((line) => /\bERROR\b/.test(line.text)).map((line) => line.text)[0] ?? `exit ${result.exitCode ?? result.signal}`;
      this.failedAttempts.set(context.logFile, [
        ...(this.failedAttempts.get(context.logFile) ?? []),
        `${phase} after ${(result.durationMs / 1000).toFixed(2)} s: ${failure}`,
      ]);
    }
  }

  async grow(context: OperationContext): Promise<OperationTiming> {
    const addresses = context.pods.addresses(context.podCount);
    const results: ChildResult[] = [];
    const stopwatch = new Stopwatch();
    try {
      await stopwatch.time('post', () => this.run('post', context.toMasters, addresses, context, results));
      await stopwatch.time('agree', () => waitForAgreement(addresses));
    } finally {
      writeLog(context.logFile, results);
    }
    return this.timing(stopwatch, results, context);
  }

  async shrink(context: OperationContext): Promise<OperationTiming> {
    const addresses = context.pods.addresses(context.podCount);
    const results: ChildResult[] = [];
    const stopwatch = new Stopwatch();
    try {
      await stopwatch.time('pre', () => this.run('pre', context.toMasters, addresses, context, results));
      await stopwatch.time('agree', () => waitForAgreement(addresses.slice(0, 2 * context.toMasters)));
    } finally {
      writeLog(context.logFile, results);
    }
    return this.timing(stopwatch, results, context);
  }

  /** After the StatefulSet has scaled down: the post phase on the survivors, which should change nothing. */
  async postAfterScaleDown(context: OperationContext): Promise<ProgramRun> {
    return this.timedRun('post', context.toMasters, context.pods.addresses(2 * context.toMasters), context);
  }

  /** One phase on these pods, logged to context.logFile: its wall time, CPU, peak memory and time moving slots. */
  async timedRun(phase: 'pre' | 'post', masters: number, addresses: string[], context: { timeoutMs: number; logFile: string }): Promise<ProgramRun> {
    const results: ChildResult[] = [];
    const started = performance.now();
    try {
      await this.run(phase, masters, addresses, context, results);
    } finally {
      writeLog(context.logFile, results);
    }
    const plan = results[0]?.lines.find((line) => /\bplan, \d+ steps?\b/.test(line.text))?.atMs;
    const migrated = results.map((result) => migrationTime(result.lines)?.ms).filter((ms) => ms !== undefined);
    return {
      ms: performance.now() - started,
      cpuMs: toolCpuMs(results),
      maxRssKiB: results.every((result) => result.maxRssKiB !== undefined) ? Math.max(...results.map((result) => result.maxRssKiB!)) : undefined,
      migrateMs: migrated.length > 0 ? migrated.reduce((sum, ms) => sum + ms, 0) : undefined,
      untilPlanMs: plan,
      logFile: context.logFile,
    };
  }

  /**
   * Splits the program's runs (one, or more with retries) by their log lines: until the first
   * "migrating" line, moving keys, the rest, and the gap between the last line and the process exit.
   */
  private timing(stopwatch: Stopwatch, runs: ChildResult[], context: OperationContext): OperationTiming {
    let migration: { ms: number; startMs: number } | undefined;
    let offsetMs = 0;
    let exitMs = 0;
    for (const run of runs) {
      const inRun = migrationTime(run.lines);
      if (inRun) migration = { ms: (migration?.ms ?? 0) + inRun.ms, startMs: migration?.startMs ?? offsetMs + inRun.startMs };
      offsetMs += run.durationMs;
      exitMs += run.durationMs - (run.lines.at(-1)?.atMs ?? run.durationMs);
    }
    const phases = mergePhases(stopwatch.phases);
    const programPhase = phases[0];
    const split = migration
      ? [
          { name: `${programPhase.name}: until migrating`, ms: migration.startMs },
          { name: 'migrate', ms: migration.ms },
          { name: 'after', ms: programPhase.ms - migration.startMs - migration.ms - exitMs },
        ]
      : [{ name: programPhase.name, ms: programPhase.ms - exitMs }];
    phases.splice(0, 1, ...split, { name: 'exit after last line', ms: exitMs });
    return {
      totalMs: stopwatch.elapsedMs,
      migrateMs: migration?.ms,
      migrateSource: migration ? 'the program log, "migrating" to "migrated" lines' : 'not in the program log; whole run only',
      phases,
      logFile: context.logFile,
      toolCpuMs: toolCpuMs(runs),
      beforeMigration: runs[0] ? beforeMigration(runs[0].lines) : undefined,
      stoppedRounds: runs.flatMap((run) =>
        run.lines.filter((line) => /\bround \d+ stopped:/.test(line.text)).map((line) => line.text.replace(/^\S+ WARN /, '')),
      ),
    };
  }
}

export const defaultBundle = path.resolve('jobs/bundle/topology.cjs');
