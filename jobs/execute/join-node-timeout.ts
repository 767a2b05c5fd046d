// A master that joins a cluster answers cluster_state:fail (CLUSTERDOWN to clients) until its
// rejoin delay has passed since it last counted itself among a minority of the masters: its
// cluster-node-timeout clamped to 0.5-5 s, so 5 s with the chart's 5000 ms, and every grow waited
// that long before its first slot could move. A joining master runs with a timeout of
// `joinNodeTimeoutMs` until the run has seen it report ok, then gets the cluster's value back.
// The value marks it: a run killed in between leaves it so, and the next run restores it.
import type { Redis } from 'ioredis';
import { describeError } from '../errors';
import { readNodeTimeoutMs } from '../observe/slot-survey';
import type { Pod } from '../pod';
import type { Log } from '../progress';
import { call } from '../redis/command';
import type { Connections } from '../redis/connections';

/** The rejoin delay's floor is 500 ms; the extra millisecond marks a node the program set. */
export const joinNodeTimeoutMs = 501;

/** What setting a pod's timeout needs: its connection, and a log for what fails. */
interface TimeoutEnvironment {
  client(pod: Pod): Promise<Redis>;
  readonly log: Log;
}

interface Shortened {
  readonly pod: Pod;
  readonly restoreTo: number;
}

/** The joining masters of one execution whose node timeout is shortened, and their way back. */
export class JoinNodeTimeouts {
  private readonly shortened = new Map<number, Shortened>();
  private refused = false;

  constructor(private readonly environment: TimeoutEnvironment) {}

  /** Before `joiner` is met through `via`, a cluster member: the joiner takes the short timeout, to get `via`'s back. */
  async shorten(joiner: Pod, via: Pod): Promise<void> {
    if (this.refused || this.shortened.has(joiner.ordinal)) return;
    const restoreTo = await readNodeTimeoutMs(await this.environment.client(via));
    if (restoreTo === undefined || restoreTo <= joinNodeTimeoutMs) return;
    try {
      await call(await this.environment.client(joiner), 'CONFIG', 'SET', 'cluster-node-timeout', joinNodeTimeoutMs);
    } catch (error) {
      // Best effort: without it the join only waits the servers' full rejoin delay.
      this.refused = true;
      this.environment.log.info(
        `${joiner.name}: CONFIG SET cluster-node-timeout refused (${describeError(error)}); joining masters wait the full rejoin delay`,
      );
      return;
    }
    this.shortened.set(joiner.ordinal, { pod: joiner, restoreTo });
  }

  /** Every shortened node gets its cluster's timeout back (call once they report cluster_state:ok, or when the run ends). */
  async restore(): Promise<void> {
    const entries = [...this.shortened.values()];
    this.shortened.clear();
    await Promise.all(entries.map(({ pod, restoreTo }) => setNodeTimeout(pod, restoreTo, this.environment)));
  }
}

async function setNodeTimeout(pod: Pod, timeoutMs: number, environment: TimeoutEnvironment): Promise<void> {
  try {
    await call(await environment.client(pod), 'CONFIG', 'SET', 'cluster-node-timeout', timeoutMs);
  } catch (error) {
    environment.log.warn(`${pod.name}: could not set cluster-node-timeout back to ${timeoutMs} ms (the next run does): ${describeError(error)}`);
  }
}

/**
 * Pods an earlier run left at `joinNodeTimeoutMs` (killed before it restored them) get the
 * timeout most of the other pods have. Unreachable pods are skipped: the run reads them again.
 */
export async function restoreLeftJoinTimeouts(pods: readonly Pod[], connections: Connections, log: Log, dryRun: boolean): Promise<void> {
  const timeouts = await Promise.all(
    pods.map((pod) =>
      connections
        .client(pod)
        .then(readNodeTimeoutMs)
        .catch(() => undefined),
    ),
  );
  const left = pods.filter((_, ordinal) => timeouts[ordinal] === joinNodeTimeoutMs);
  if (left.length === 0) return;
  const counts = new Map<number, number>();
  for (const timeout of timeouts) if (timeout !== undefined && timeout !== joinNodeTimeoutMs) counts.set(timeout, (counts.get(timeout) ?? 0) + 1);
  const common = [...counts].sort((a, b) => b[1] - a[1] || b[0] - a[0])[0]?.[0];
  if (common === undefined) return;
  const names = left.map((pod) => pod.ordinal).join(',');
  if (dryRun) {
    log.info(`pods ${names} still run with the short node timeout an interrupted run gave them while they joined; a run sets it back to ${common} ms`);
    return;
  }
  log.info(`pods ${names}: cluster-node-timeout back to ${common} ms (an interrupted run left the one it gives joining masters)`);
  const environment: TimeoutEnvironment = { client: (pod) => connections.client(pod), log };
  await Promise.all(left.map((pod) => setNodeTimeout(pod, common, environment)));
}
