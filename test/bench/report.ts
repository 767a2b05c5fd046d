// The benchmark's results as one table a person reads, plus the same figures as JSON.
import os from 'node:os';
import type { CommandStats } from './command-stats.js';
import type { ContenderRole, Phase } from './contenders.js';
import type { CpuDuringOperation } from './cpu.js';
import type { FloorResult } from './floor.js';
import type { TrafficStats } from './traffic.js';

export interface OperationResult {
  contender: string;
  role: ContenderRole;
  operation: 'grow' | 'shrink';
  fromMasters: number;
  toMasters: number;
  totalMs: number;
  migrateMs?: number;
  migrateSource: string;
  phases: Phase[];
  slotsMoved: number;
  keysMoved: number;
  keysPerSecondMigrate?: number;
  keysPerSecondTotal: number;
  client: TrafficStats;
  verify: { checked: number; missing: number; wrong: number; examples: string[] };
  clusterCheckOk: boolean;
  shapeOk: boolean;
  shape: string;
  logFile: string;
  /** Program shrink only: the post phase run after the pods were removed (should change nothing). */
  postAfterScaleDownMs?: number;
  /** Program grow only: the post phase run again on the grown cluster (a no-op), each run's wall time. */
  noOpPostMs?: number[];
  /** Program only: where the time before the first slot moved went, from the program's log. */
  beforeMigration?: Phase[];
  /** Program runs that failed and were run again (--program-retries). */
  failedAttempts: string[];
  /** Program rounds that stopped and were started again within a run (the run went on). */
  stoppedRounds?: string[];
  /** Migration protocol commands the servers executed during the operation (all nodes). */
  wire: CommandStats;
  cpu: CpuDuringOperation;
}

export interface Ratio {
  operation: 'grow' | 'shrink';
  /** The contender measured, and what it is measured against (the cli, or native ASM issued by hand). */
  contender: string;
  baseline: string;
  /** contender time / baseline time; below 1 means the contender is faster. */
  totalTime: number;
  migrateTime?: number;
  /** contender keys/s / baseline keys/s; above 1 means the contender is faster. */
  totalThroughput: number;
  migrateThroughput?: number;
  /** contender p99 / baseline p99 of the concurrent client. */
  clientP99: number;
}

/** Which contenders are compared with which baseline, in the order the ratios are printed. */
const comparisons: Array<[ContenderRole, ContenderRole[]]> = [
  ['cli', ['program', 'program-migrate', 'native-asm', 'cli-asm']],
  ['native-asm', ['program', 'program-migrate', 'cli-asm']],
];

export function ratios(results: OperationResult[]): Ratio[] {
  const out: Ratio[] = [];
  const divide = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined || b === 0 ? undefined : a / b);
  for (const [baselineRole, roles] of comparisons) {
    for (const operation of ['grow', 'shrink'] as const) {
      const baseline = results.find((result) => result.role === baselineRole && result.operation === operation);
      if (!baseline) continue;
      for (const role of roles) {
        const contender = results.find((result) => result.role === role && result.operation === operation);
        if (!contender) continue;
        out.push({
          operation,
          contender: contender.contender,
          baseline: baseline.contender,
          totalTime: contender.totalMs / baseline.totalMs,
          migrateTime: divide(contender.migrateMs, baseline.migrateMs),
          totalThroughput: contender.keysPerSecondTotal / baseline.keysPerSecondTotal,
          migrateThroughput: divide(contender.keysPerSecondMigrate, baseline.keysPerSecondMigrate),
          clientP99: contender.client.p99Ms / Math.max(baseline.client.p99Ms, 0.001),
        });
      }
    }
  }
  return out;
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length % 2 ? sorted[(sorted.length - 1) / 2] : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2;
}

const seconds = (ms: number | undefined) => (ms === undefined ? '-' : (ms / 1000).toFixed(2));
const thousands = (value: number | undefined) => (value === undefined ? '-' : Math.round(value).toLocaleString('en-US'));
const times = (value: number | undefined, digits = 2) => (value === undefined ? '-' : `${value.toFixed(digits)}x`);

export function table(header: string[], rows: string[][]): string {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column].length)));
  const line = (cells: string[]) => cells.map((cell, column) => (column < 2 ? cell.padEnd(widths[column]) : cell.padStart(widths[column]))).join('  ');
  return [line(header), widths.map((width) => '-'.repeat(width)).join('  '), ...rows.map(line)].join('\n');
}

export function formatReport(results: OperationResult[], floor: FloorResult | undefined, heading: string): string {
  const label = Math.max(17, ...results.map((result) => `${result.operation} ${result.contender}`.length + 1));
  const rows = results.map((result) => [
    `${result.operation} ${result.fromMasters}->${result.toMasters}`,
    result.contender,
    seconds(result.totalMs),
    seconds(result.migrateMs),
    thousands(result.keysMoved),
    thousands(result.keysPerSecondMigrate),
    thousands(result.keysPerSecondTotal),
    result.client.p50Ms.toFixed(1),
    result.client.p99Ms.toFixed(1),
    String(result.client.errors + result.client.wrongReads + (result.client.lostWrites ?? 0)),
    String(result.verify.missing + result.verify.wrong),
    (result.clusterCheckOk && result.shapeOk ? 'ok' : 'FAIL') + (result.failedAttempts.length > 0 ? ` (${result.failedAttempts.length + 1} runs)` : ''),
  ]);
  const parts = [
    heading,
    '',
    table(
      ['operation', 'tool', 'total s', 'migrate s', 'keys moved', 'keys/s migr', 'keys/s total', 'p50 ms', 'p99 ms', 'client err', 'lost keys', 'check'],
      rows,
    ),
    '',
    'where the time goes (s):',
    ...results.map((result) => {
      const extra = result.postAfterScaleDownMs === undefined ? '' : `; then post on the survivors ${seconds(result.postAfterScaleDownMs)}`;
      return `  ${`${result.operation} ${result.contender}`.padEnd(label)} ${result.phases.map((phase) => `${phase.name} ${seconds(phase.ms)}`).join(' + ')}${extra}  [migrate: ${result.migrateSource}]`;
    }),
  ];
  const cores = os.cpus().length;
  parts.push(
    '',
    `cpu during the operation (s), of ${cores} cores x wall time:`,
    ...results.map(
      ({ operation, contender, cpu, totalMs, keysMoved }) =>
        `  ${`${operation} ${contender}`.padEnd(label)} ${contender} ${seconds(cpu.toolMs)}, redis-servers ${seconds(cpu.serversMs)} ` +
        `= ${((cpu.serversMs * 1000) / Math.max(1, keysMoved)).toFixed(1)} us per key moved ` +
        `(by pod: ${Object.entries(cpu.perServerMs)
          .map(([ordinal, ms]) => `${ordinal}:${seconds(ms)}`)
          .join(' ')}), bench client ${seconds(cpu.benchMs)}; ` +
        `${seconds((cpu.toolMs ?? 0) + cpu.serversMs + cpu.benchMs)} of ${seconds(cores * totalMs)} available`,
    ),
  );
  parts.push(
    '',
    'wire: protocol commands per slot moved, summed over all nodes (calls/slot, server ms in total):',
    ...results.map((result) => {
      const perSlot = Object.entries(result.wire)
        .sort(([, a], [, b]) => b.calls - a.calls)
        .map(([command, stats]) => `${command} ${(stats.calls / Math.max(1, result.slotsMoved)).toFixed(2)} (${(stats.usec / 1000).toFixed(0)})`);
      const migrate = result.wire['migrate'];
      const keysPerMigrate = migrate ? `; ${(result.keysMoved / migrate.calls).toFixed(1)} keys per MIGRATE` : '';
      return `  ${`${result.operation} ${result.contender}`.padEnd(label)} ${perSlot.join(', ')}${keysPerMigrate}`;
    }),
  );
  parts.push(
    '',
    'client: slowest commands (ms, at s after the operation started):',
    ...results.map(
      ({ operation, contender, client }) =>
        `  ${`${operation} ${contender}`.padEnd(label)} ${
          client.slowest
            .slice(0, 6)
            .map((entry) => `${entry.ms.toFixed(0)} @${(entry.atMs / 1000).toFixed(2)}`)
            .join(', ') || '-'
        }`,
    ),
  );
  const ratioRows = ratios(results).map((ratio) => [
    ratio.operation,
    `${ratio.contender}/${ratio.baseline}`,
    times(ratio.totalTime),
    times(ratio.migrateTime),
    times(ratio.totalThroughput),
    times(ratio.migrateThroughput),
    times(ratio.clientP99),
  ]);
  if (ratioRows.length > 0) {
    parts.push('', table(['operation', 'ratio', 'time total', 'time migr', 'keys/s total', 'keys/s migr', 'client p99'], ratioRows));
    parts.push('(time: below 1x means the first is faster; keys/s: above 1x means the first is faster)');
  }
  const fixed = results.filter((result) => result.beforeMigration || result.noOpPostMs || result.postAfterScaleDownMs !== undefined);
  if (fixed.length > 0) {
    parts.push('', 'fixed costs of the program (s):');
    for (const result of fixed) {
      const until = result.phases.find((phase) => phase.name.endsWith('until migrating'));
      const pieces: string[] = [];
      if (until)
        pieces.push(
          `until migrating ${seconds(until.ms)}${result.beforeMigration ? ` (${result.beforeMigration.map((phase) => `${phase.name} ${seconds(phase.ms)}`).join(' + ')})` : ''}`,
        );
      if (result.noOpPostMs?.length)
        pieces.push(
          `no-op post on the ${result.toMasters}-master cluster ${result.noOpPostMs.map((ms) => seconds(ms)).join(', ')} (median ${seconds(median(result.noOpPostMs))})`,
        );
      if (result.postAfterScaleDownMs !== undefined) pieces.push(`post on the ${2 * result.toMasters} survivors ${seconds(result.postAfterScaleDownMs)}`);
      parts.push(`  ${`${result.operation} ${result.contender}`.padEnd(label)} ${pieces.join('; ')}`);
    }
  }
  if (floor) {
    parts.push(
      '',
      `floor, ${thousands(floor.keys)} keys between two plain servers by MIGRATE: ` +
        `${thousands(floor.largeBatchKeysPerSecond)} keys/s in batches of ${floor.largeBatchKeys} (${seconds(floor.largeBatchMs)} s), ` +
        `${thousands(floor.perSlotKeysPerSecond)} keys/s one MIGRATE per slot of ~${floor.perSlotAverageKeys.toFixed(0)} keys (${seconds(floor.perSlotMs)} s)`,
    );
    for (const result of results) {
      if (result.keysPerSecondMigrate === undefined) continue;
      parts.push(
        `  ${`${result.operation} ${result.contender}`.padEnd(label)} migrates at ${(result.keysPerSecondMigrate / floor.largeBatchKeysPerSecond).toFixed(2)} of the large-batch floor, ` +
          `${(result.keysPerSecondMigrate / floor.perSlotKeysPerSecond).toFixed(2)} of the per-slot floor`,
      );
    }
  }
  const problems = results.flatMap((result) => [
    ...result.failedAttempts.map((failure) => `${result.operation} ${result.contender}: failed run, run again: ${failure}`),
    ...(result.stoppedRounds ?? []).map((round) => `${result.operation} ${result.contender}: ${round}`),
    ...result.verify.examples.map((example) => `${result.operation} ${result.contender}: ${example}`),
    ...result.client.errorExamples.map((example) => `${result.operation} ${result.contender} client: ${example}`),
  ]);
  if (problems.length > 0) parts.push('', 'problems:', ...problems.map((problem) => `  ${problem}`));
  return parts.join('\n');
}
