// Whether pods agree on one configuration. Pure.
import { isFailing, type ClusterNodesEntry } from '../observe/cluster-nodes';
import type { Pod } from '../pod';
import type { PodReport } from '../observe/view';

/**
 * Why the given pods do not (yet) agree on one configuration: each must know exactly the
 * others, flag none as failing, handshake with nobody, and see the same slot owners and
 * roles. Empty when they agree.
 */
export interface AgreementOptions {
  /** Also require every pod to report cluster_state:ok (slots covered, no failed master). */
  readonly requireStateOk: boolean;
  /**
   * Before slots move: also require every pod to see every master's config epoch alike, and the
   * slot owners' epochs to be distinct.
   */
  readonly requireEpochs?: boolean;
}

export function findDisagreements(reports: readonly PodReport[], options: AgreementOptions): string[] {
  const problems: string[] = [];
  const memberIds = new Set(reports.map((report) => report.self.id));
  let reference: string | undefined;
  let referencePod: Pod | undefined;
  for (const report of reports) {
    const { pod, entries } = report;
    const known = entries.filter((entry) => !entry.flags.has('handshake'));
    const knownIds = new Set(known.map((entry) => entry.id));
    const missing = [...memberIds].filter((id) => !knownIds.has(id));
    const extra = known.filter((entry) => !memberIds.has(entry.id));
    if (missing.length > 0) problems.push(`${pod.name} does not know ${missing.length} node(s) yet`);
    if (extra.length > 0) problems.push(`${pod.name} still knows ${extra.length} other node(s) (${extra.map((entry) => entry.id.slice(0, 8)).join(',')})`);
    if (entries.some((entry) => entry.flags.has('handshake'))) problems.push(`${pod.name} is still handshaking`);
    const failing = known.filter((entry) => memberIds.has(entry.id) && isFailing(entry));
    if (failing.length > 0) problems.push(`${pod.name} flags ${failing.length} node(s) as failing`);
    if (options.requireStateOk && report.clusterState !== 'ok') problems.push(`${pod.name} reports cluster_state:${report.clusterState}`);
    const signature = known
      .filter((entry) => memberIds.has(entry.id))
      .map(
        (entry) =>
          `${entry.id}:${entry.flags.has('slave') ? `r:${entry.masterId}` : `m${options.requireEpochs ? `@${entry.configEpoch}` : ''}:${entry.slotRanges}`}`,
      )
      .sort()
      .join('|');
    if (reference === undefined) {
      reference = signature;
      referencePod = pod;
      if (options.requireEpochs) problems.push(...sharedEpochs(known));
    } else if (signature !== reference) {
      problems.push(`${pod.name} and ${referencePod!.name} see different slot owners or roles`);
    }
  }
  return problems;
}

/**
 * Masters owning slots that share a config epoch: the servers give one of them a new epoch on
 * their next contact, and a source master taking a new epoch above a target that just claimed a
 * window would win the window back (the target then deletes its keys). So slots move only once
 * every owner's epoch is its own, and every node has seen it (the signature carries the epochs:
 * a target that knows the highest epoch claims above it).
 */
function sharedEpochs(entries: readonly ClusterNodesEntry[]): string[] {
  const byEpoch = new Map<number, string[]>();
  for (const entry of entries) {
    if (entry.flags.has('slave') || entry.slotRanges === '') continue;
    byEpoch.set(entry.configEpoch, [...(byEpoch.get(entry.configEpoch) ?? []), entry.address]);
  }
  return [...byEpoch]
    .filter(([, owners]) => owners.length > 1)
    .map(([epoch, owners]) => `masters ${owners.join(', ')} share config epoch ${epoch} (the servers are giving them distinct ones)`);
}

/** Whether `view` (one node's line about another) shows what that node says of itself: role, master, slots, a master's epoch. */
export function sameConfiguration(view: ClusterNodesEntry, self: ClusterNodesEntry): boolean {
  if (view.flags.has('handshake') || view.flags.has('slave') !== self.flags.has('slave')) return false;
  if (self.flags.has('slave')) return view.masterId === self.masterId;
  return view.configEpoch === self.configEpoch && view.slotRanges === self.slotRanges;
}
