// CPU time of the redis-server pods, from /proc (Linux), to see which process a migration is
// waiting on when the machine has fewer cores than processes.
import { readFileSync } from 'node:fs';
import type { LocalRedisPods } from '../support/redis-pods.js';

/** Clock ticks per second of /proc/<pid>/stat's utime and stime (USER_HZ; 100 on Linux). */
const TICKS_PER_SECOND = 100;

/** user + system CPU ms per pod ordinal, for the pods running now. */
export function serverCpuMs(pods: LocalRedisPods): Map<number, number> {
  const usage = new Map<number, number>();
  for (const [ordinal, pod] of pods.pods) {
    const pid = pod.process?.pid;
    if (!pid || pod.process?.exitCode !== null) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      // Fields after the command name in parentheses; utime and stime are the 14th and 15th.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      usage.set(ordinal, ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND);
    } catch {
      // the pod exited in between
    }
  }
  return usage;
}

export interface CpuDuringOperation {
  /** redis-cli or the program, all of its runs. */
  toolMs?: number;
  serversMs: number;
  busiestServer: { ordinal: number; ms: number };
  /** Per pod ordinal. */
  perServerMs: Record<number, number>;
  /** This process: the concurrent client and the bench's own polling. */
  benchMs: number;
}

export function cpuDuring(
  before: Map<number, number>,
  after: Map<number, number>,
  benchUsage: NodeJS.CpuUsage,
  toolMs: number | undefined,
): CpuDuringOperation {
  let serversMs = 0;
  let busiestServer = { ordinal: -1, ms: 0 };
  const perServerMs: Record<number, number> = {};
  for (const [ordinal, ms] of after) {
    const used = ms - (before.get(ordinal) ?? 0);
    perServerMs[ordinal] = used;
    serversMs += used;
    if (used > busiestServer.ms) busiestServer = { ordinal, ms: used };
  }
  return { toolMs, serversMs, busiestServer, perServerMs, benchMs: (benchUsage.user + benchUsage.system) / 1000 };
}
