// What the plan says about the shards' failure domains: each shard left in one zone (or node, where
// there is one zone) and why, and the failovers that spread the masters.
import type { PodNode } from './model';

interface Shard {
  readonly leader: PodNode;
  readonly pods: readonly PodNode[];
}

type Level = 'zone' | 'node';

const domainOf = (pod: PodNode, level: Level) => (level === 'zone' ? pod.placement?.zone : pod.placement?.node);

function describeShard(shard: Shard): string {
  const ordinals = shard.pods.map((pod) => pod.ordinal).sort((a, b) => a - b);
  return `the shard of pod ${shard.leader.ordinal} (pods ${ordinals.join(',')})`;
}

/** The domain all of the shard's pods share, if each has one and it is the same. */
function wholeDomain(shard: Shard, level: Level): string | undefined {
  const domains = new Set(shard.pods.map((pod) => domainOf(pod, level)));
  const [only] = domains;
  return domains.size === 1 ? only : undefined;
}

export function spreadNotes(
  shards: readonly Shard[],
  survivors: readonly PodNode[],
  failovers: ReadonlyArray<{ replica: string; master: string }>,
  moved: readonly PodNode[],
): string[] {
  const notes: string[] = [];
  const distinct = (level: Level) => new Set(survivors.flatMap((pod) => domainOf(pod, level) ?? []));
  const zones = distinct('zone');
  const level: Level | undefined = zones.size >= 2 ? 'zone' : distinct('node').size >= 2 ? 'node' : undefined;
  if (level === undefined) {
    const [zone] = zones;
    const [node] = distinct('node');
    const where = [zone === undefined ? '' : ` in zone ${zone}`, node === undefined ? '' : ` on node ${node}`].join('');
    notes.push(`every pod runs${where}: the shards cannot be spread over failure domains`);
    return notes;
  }
  if (moved.length > 0) {
    const layout = shards.map((shard) =>
      shard.pods.map((pod) => `${pod.ordinal}${domainOf(pod, level) === undefined ? '' : ` ${domainOf(pod, level)}`}`).join(' + '),
    );
    notes.push(
      `pods ${moved.map((pod) => pod.ordinal).join(',')} follow another master, so that the shards spread over ${level}s (${layout.join('; ')}); ` +
        'each resyncs from its new master, no slot moves',
    );
  }
  const shardSize = shards[0]!.pods.length;
  // No shard lies in one domain exactly when each has a member elsewhere: a domain may hold D - M pods.
  const limit = survivors.length - shards.length;
  for (const shard of shards) {
    const domain = wholeDomain(shard, level);
    if (domain === undefined) continue;
    const inDomain = survivors.filter((pod) => domainOf(pod, level) === domain).length;
    const why =
      inDomain > limit
        ? `${inDomain} of the ${survivors.length} pods run in ${level} ${domain}, and with ${shards.length} shards of ${shardSize} at most ${limit} may, for each shard to have a member elsewhere`
        : `no layout of the shards leaves fewer of them in one ${level}`;
    notes.push(`${describeShard(shard)} has every member in ${level} ${domain}: ${why}`);
  }
  const sharing = shards.filter((shard) => wholeDomain(shard, level) === undefined && hasTwoIn(shard, level));
  if (sharing.length > 0) {
    const domains = distinct(level).size;
    const why =
      domains < shardSize
        ? `shards have ${shardSize} members and the pods run in ${domains} ${level}s`
        : `no layout of the shards has fewer members sharing a ${level}`;
    notes.push(`${sharing.map(describeShard).join(', ')} ${sharing.length === 1 ? 'has' : 'have'} two members in one ${level}: ${why}`);
  }
  if (failovers.length > 0) {
    const masters = shards.map((shard) => shard.leader);
    const count = new Map<string, number>();
    for (const master of masters) count.set(domainOf(master, level) ?? '?', (count.get(domainOf(master, level) ?? '?') ?? 0) + 1);
    const spread = [...count].map(([domain, masterCount]) => `${domain}: ${masterCount}`).join(', ');
    for (const failover of failovers) {
      const replica = survivors.find((pod) => pod.id === failover.replica)!;
      const master = survivors.find((pod) => pod.id === failover.master)!;
      notes.push(
        `pod ${replica.ordinal} takes over from pod ${master.ordinal} as master (a failover, no data moves), so that the masters spread over ${level}s (${spread})`,
      );
    }
  }
  return notes;
}

function hasTwoIn(shard: Shard, level: Level): boolean {
  const seen = new Set<string>();
  for (const pod of shard.pods) {
    const domain = domainOf(pod, level);
    if (domain === undefined) continue;
    if (seen.has(domain)) return true;
    seen.add(domain);
  }
  return false;
}
