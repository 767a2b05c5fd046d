// The benchmark's results as one table a person reads, plus the same figures as JSON.
import os from 'node:os';
import type { CommandStats } from './command-stats.js';
import type { Phase } from './contenders.js';
import type { CpuDuringOperation } from './cpu.js';
import type { FloorResult } from './floor.js';
import type { TrafficStats } from './traffic.js';

export interface OperationResult {
  contender: string;
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
  /** Program runs that failed and were run again (--program-retries). */
  failedAttempts: string[];
  /** Migration protocol commands the servers executed during the operation (all nodes). */
  wire: CommandStats;
  cpu: CpuDuringOperation;
}

export interface Ratio {
  operation: 'grow' | 'shrink';
  /** program time / redis-cli time; below 1 means the program is faster. */
  totalTime: number;
  migrateTime?: number;
  /** program keys/s / redis-cli keys/s; above 1 means the program is faster. */
  totalThroughput: number;
  migrateThroughput?: number;
  /** program p99 / redis-cli p99 of the concurrent client. */
  clientP99: number;
}

export function ratios(results: OperationResult[]): Ratio[] {
  const out: Ratio[] = [];
  for (const operation of ['grow', 'shrink'] as const) {
    const cli = results.find((result) => result.contender === 'redis-cli' && result.operation === operation);
    const program = results.find((result) => result.contender === 'program' && result.operation === operation);
    if (!cli || !program) continue;
    const divide = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined || b === 0 ? undefined : a / b);
    out.push({
      operation,
      totalTime: program.totalMs / cli.totalMs,
      migrateTime: divide(program.migrateMs, cli.migrateMs),
      totalThroughput: program.keysPerSecondTotal / cli.keysPerSecondTotal,
      migrateThroughput: divide(program.keysPerSecondMigrate, cli.keysPerSecondMigrate),
      clientP99: program.client.p99Ms / Math.max(cli.client.p99Ms, 0.001),
    });
  }
  return out;
}

const seconds = (ms: number | undefined) => (ms === undefined ? '-' : (ms / 1000).toFixed(2));
const thousands = (value: number | undefined) => (value === undefined ? '-' : Math.round(value).toLocaleString('en-US'));
const times = (value: number | undefined, digits = 2) => (value === undefined ? '-' : `${value.toFixed(digits)}x`);

function table(header: string[], rows: string[][]): string {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column].length)));
  const line = (cells: string[]) => cells.map((cell, column) => (column < 2 ? cell.padEnd(widths[column]) : cell.padStart(widths[column]))).join('  ');
  return [line(header), widths.map((width) => '-'.repeat(width)).join('  '), ...rows.map(line)].join('\n');
}

export function formatReport(results: OperationResult[], floor: FloorResult | undefined, heading: string): string {
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
      return `  ${`${result.operation} ${result.contender}`.padEnd(17)} ${result.phases.map((phase) => `${phase.name} ${seconds(phase.ms)}`).join(' + ')}${extra}  [migrate: ${result.migrateSource}]`;
    }),
  ];
  const cores = os.cpus().length;
  parts.push(
    '',
    `cpu during the operation (s), of ${cores} cores x wall time:`,
    ...results.map(
      ({ operation, contender, cpu, totalMs, keysMoved }) =>
        `  ${`${operation} ${contender}`.padEnd(17)} ${contender} ${seconds(cpu.toolMs)}, redis-servers ${seconds(cpu.serversMs)} ` +
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
      return `  ${`${result.operation} ${result.contender}`.padEnd(17)} ${perSlot.join(', ')}${keysPerMigrate}`;
    }),
  );
  parts.push(
    '',
    'client: slowest commands (ms, at s after the operation started):',
    ...results.map(
      ({ operation, contender, client }) =>
        `  ${`${operation} ${contender}`.padEnd(17)} ${
          client.slowest
            .slice(0, 6)
            .map((entry) => `${entry.ms.toFixed(0)} @${(entry.atMs / 1000).toFixed(2)}`)
            .join(', ') || '-'
        }`,
    ),
  );
  const ratioRows = ratios(results).map((ratio) => [
    ratio.operation,
    'program/redis-cli',
    times(ratio.totalTime),
    times(ratio.migrateTime),
    times(ratio.totalThroughput),
    times(ratio.migrateThroughput),
    times(ratio.clientP99),
  ]);
  if (ratioRows.length > 0) {
    parts.push('', table(['operation', 'ratio', 'time total', 'time migr', 'keys/s total', 'keys/s migr', 'client p99'], ratioRows));
    parts.push('(time: below 1x means the program is faster; keys/s: above 1x means the program is faster)');
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
        `  ${`${result.operation} ${result.contender}`.padEnd(17)} migrates at ${(result.keysPerSecondMigrate / floor.largeBatchKeysPerSecond).toFixed(2)} of the large-batch floor, ` +
          `${(result.keysPerSecondMigrate / floor.perSlotKeysPerSecond).toFixed(2)} of the per-slot floor`,
      );
    }
  }
  const problems = results.flatMap((result) => [
    ...result.failedAttempts.map((failure) => `${result.operation} ${result.contender}: failed run, run again: ${failure}`),
    ...result.verify.examples.map((example) => `${result.operation} ${result.contender}: ${example}`),
    ...result.client.errorExamples.map((example) => `${result.operation} ${result.contender} client: ${example}`),
  ]);
  if (problems.length > 0) parts.push('', 'problems:', ...problems.map((problem) => `  ${problem}`));
  return parts.join('\n');
}
