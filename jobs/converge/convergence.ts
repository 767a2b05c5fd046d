// Waiting until the cluster agrees: after each change (settle, with nudges), before calling a
// phase done (verify), for replicas to finish their first sync, and saving nodes.conf at the end.
import { sleep } from '../clock';
import { REMOVED_MARK_USER, desiredPodCount } from '../contract';
import { TopologyError, describeError } from '../errors';
import { formatDuration, formatMegabytes } from '../format';
import { parseInfo } from '../observe/cluster-nodes';
import { observe, readPod } from '../observe/read';
import type { PodReport } from '../observe/view';
import type { DesiredShape, PlanPhase } from '../plan/model';
import { shapeProblems } from '../plan/shape';
import type { Pod } from '../pod';
import { call } from '../redis/command';
import type { Connections } from '../redis/connections';
import type { Log } from '../progress';
import { findDisagreements, sameConfiguration, type AgreementOptions } from './agreement';

/**
 * CLUSTER MEETs one pod receives per nudge round (every 200 ms) or from one join, beyond the one
 * that joins it: all of them up to 9 pods, as before; linear in the pods beyond (a full mesh of
 * MEETs at 200 pods was 40,000 of them per round).
 */
export const nudgesPerObserver = 8;

export interface ConvergenceOptions {
  readonly connections: Connections;
  /** Every pod, index = ordinal. */
  readonly pods: readonly Pod[];
  readonly log: Log;
  /** How long settle waits for agreement after a change. */
  readonly convergeTimeoutMs: number;
}

/** What settle waits for beyond agreement: cluster_state:ok (before moving slots or failing over), masters' epochs (before moving slots). */
export type SettleOptions = AgreementOptions;

/**
 * Agreement among the cluster's members. The member set is explicit state: it starts as the
 * plan's cluster and changes only through `add` (a pod joined) and `remove` (a pod left).
 */
export class Convergence {
  private readonly memberOrdinals: Set<number>;
  /** When each (subject > observer) pair last got a nudge, so a stale view is nudged at most once a second. */
  private readonly nudged = new Map<string, number>();

  constructor(
    private readonly options: ConvergenceOptions,
    clusterOrdinals: readonly number[],
  ) {
    this.memberOrdinals = new Set(clusterOrdinals);
  }

  add(pod: Pod): void {
    this.memberOrdinals.add(pod.ordinal);
  }

  remove(pod: Pod): void {
    this.memberOrdinals.delete(pod.ordinal);
  }

  /** The members, in ordinal order. */
  members(): Pod[] {
    return [...this.memberOrdinals].sort((a, b) => a - b).map((ordinal) => this.options.pods[ordinal]!);
  }

  /** Waits (bounded) until every member agrees; returns the members' reports of that moment. */
  async settle(settleOptions: SettleOptions): Promise<PodReport[]> {
    const { connections, log, convergeTimeoutMs } = this.options;
    const deadline = Date.now() + convergeTimeoutMs;
    let lastLog = Date.now();
    for (let check = 0; ; check++) {
      const reports = await Promise.all(this.members().map((pod) => readPod(connections, pod, { withInfo: false })));
      const problems = findDisagreements(reports, settleOptions);
      if (problems.length === 0) return reports;
      if (Date.now() > deadline) {
        throw new TopologyError(
          `the cluster did not settle within ${Math.round(convergeTimeoutMs / 1000)}s: ${problems.slice(0, 5).join('; ')}`,
          'check the pods (logs, network between them on the bus port); then run again, it resumes from here',
        );
      }
      if (Date.now() - lastLog > 10_000) {
        log.info(`waiting for the cluster to agree: ${problems.slice(0, 3).join('; ')}`);
        lastLog = Date.now();
      }
      if (check > 0) await this.nudge(reports);
      await sleep(200);
    }
  }

  /**
   * A node's role and slots reach another node only in its own cluster-bus messages, which it
   * sends each node about every half node timeout (2.5 s with 5000 ms): after a join, a
   * REPLICATE or a master giving away its last slot, agreement waits for them. Where a node sees
   * another stale, or not at all, a CLUSTER MEET from that other node delivers one message at
   * once (to a node that knows it already, a MEET changes nothing else).
   */
  private async nudge(reports: readonly PodReport[]): Promise<void> {
    const sends: Array<Promise<void>> = [];
    // Only the last second's nudges matter: forgetting older ones keeps this linear in a long run.
    for (const [pair, at] of this.nudged) if (Date.now() - at >= 1000) this.nudged.delete(pair);
    for (const observer of reports) {
      const seen = new Map(observer.entries.map((entry) => [entry.id, entry]));
      let sent = 0;
      for (const subject of reports) {
        // At most a few per observer and round: after a bootstrap of N pods nearly all N^2 pairs
        // are stale, and gossip introduces them anyway; the nudges only hurry it.
        if (sent >= nudgesPerObserver) break;
        if (subject === observer) continue;
        const view = seen.get(subject.self.id);
        if (view && sameConfiguration(view, subject.self)) continue;
        const pair = `${subject.pod.ordinal}>${observer.pod.ordinal}`;
        if (Date.now() - (this.nudged.get(pair) ?? 0) < 1000) continue;
        this.nudged.set(pair, Date.now());
        sent++;
        sends.push(this.meet(subject.pod, observer.pod, { warn: false }));
      }
    }
    await Promise.all(sends);
  }

  /** CLUSTER MEET from `from` to `to`; a failure only costs speed (gossip carries the same news). */
  async meet(from: Pod, to: Pod, meetOptions: { readonly warn: boolean }): Promise<void> {
    try {
      await call(await this.options.connections.client(from), 'CLUSTER', 'MEET', to.ip, to.port);
    } catch (error) {
      if (meetOptions.warn) {
        this.options.log.warn(`${from.name}: CLUSTER MEET ${to.ip} ${to.port} failed (gossip will introduce them instead): ${describeError(error)}`);
      }
    }
  }
}

/**
 * What is still wrong with the phase's end state, checked independently of the planner: the
 * shape, and (post) that the desired pods agree. Polls briefly, since the last change may
 * still be spreading by gossip; empty when all is well.
 */
export async function verify(
  phase: PlanPhase,
  desired: DesiredShape,
  options: Pick<ConvergenceOptions, 'connections' | 'pods' | 'convergeTimeoutMs'> & { readonly dryRun: boolean },
): Promise<string[]> {
  const deadline = Date.now() + Math.min(options.convergeTimeoutMs, 60_000);
  for (;;) {
    const observation = await observe(options.connections, options.pods, { countKeysPerSlot: false });
    const problems = shapeProblems(observation.view, desired, phase);
    if (phase === 'post') {
      const members = observation.reports.filter((report) => report.pod.ordinal < desiredPodCount(desired));
      problems.push(...findDisagreements(members, { requireStateOk: true }));
    }
    if (problems.length === 0 || options.dryRun || Date.now() > deadline) return problems;
    await sleep(250);
  }
}

/**
 * The shape alone is not redundancy: a replica just attached (a new shard's, or one moved to
 * another master) serves as a failover target only once its first sync is done, and a master
 * lost before then takes the keys it alone holds with it. So post is done when every replica's
 * link to its master is up (bounded wait, with progress in the log).
 */
export async function waitForReplicaSync(pods: readonly Pod[], connections: Connections, log: Log, timeoutMs: number): Promise<void> {
  const started = Date.now();
  let lastLog = started;
  for (;;) {
    const syncing: string[] = [];
    for (const pod of pods) {
      const info = parseInfo(String(await call(await connections.client(pod), 'INFO', 'replication')));
      if (info.role !== 'slave' || info.master_link_status === 'up') continue;
      const total = Number(info.master_sync_total_bytes ?? 0);
      const read = Number(info.master_sync_read_bytes ?? 0);
      const progress = info.master_sync_in_progress === '1' && total > 0 ? `, ${Math.floor((100 * read) / total)}% of ${formatMegabytes(total)} received` : '';
      syncing.push(`${pod.name}${progress}`);
    }
    if (syncing.length === 0) return;
    if (Date.now() - started > timeoutMs) {
      throw new TopologyError(
        `replicas still syncing from their masters after ${formatDuration(timeoutMs)}: ${syncing.join('; ')}`,
        'the cluster has its shape; check the replicas (INFO replication, their logs) and run again, or raise REPLICA_SYNC_TIMEOUT_SECONDS',
      );
    }
    if (Date.now() - lastLog > 10_000) {
      log.info(`waiting for replicas to finish their sync from their masters: ${syncing.join('; ')}`);
      lastLog = Date.now();
    }
    await sleep(200);
  }
}

/**
 * Redis writes nodes.conf on topology events, not when it learns a peer's hostname; the pods'
 * start script repairs addresses from those hostnames, so once every node shows every peer's
 * hostname (bounded wait) each node saves its config.
 */
export async function saveConfigs(pods: readonly Pod[], connections: Connections, log: Log): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const reports = await Promise.all(pods.map((pod) => readPod(connections, pod, { withInfo: false })));
    const announcing = reports.some((report) => report.self.hostname !== '');
    const missing = reports.filter((report) => report.entries.some((entry) => entry.hostname === ''));
    if (!announcing || missing.length === 0 || Date.now() > deadline) {
      if (announcing && missing.length > 0)
        log.warn(`pods ${missing.map((report) => report.pod.ordinal).join(',')} do not show every peer's hostname yet; saving nodes.conf anyway`);
      break;
    }
    await sleep(500);
  }
  await Promise.all(pods.map(async (pod) => call(await connections.client(pod), 'CLUSTER', 'SAVECONFIG')));
}

/**
 * A pod the cluster wants keeps no removal mark (REMOVED_MARK_USER) from an earlier run that
 * removed it while it kept running: its preStop hook would otherwise reset it when it next stops.
 */
export async function clearRemovalMarks(pods: readonly Pod[], connections: Connections, log: Log): Promise<void> {
  await Promise.all(
    pods.map(async (pod) => {
      try {
        if (Number(await call(await connections.client(pod), 'ACL', 'DELUSER', REMOVED_MARK_USER)) > 0)
          log.info(`${pod.name}: cleared the mark an earlier run left when it removed the pod`);
      } catch (error) {
        log.warn(`${pod.name}: could not clear a removal mark (ACL DELUSER): ${describeError(error)}`);
      }
    }),
  );
}
