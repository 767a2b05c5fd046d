// The alerts of a Redis Cluster, as Prometheus alerting rules over the redis_exporter sidecar's metrics (and
// kube-state-metrics for the topology Jobs). Each alert's runbook is a section of docs/operations.md,
// "Alerts", whose anchor is the alert's name in lower case.
import { metricsServiceName, topologyJobName } from './names';
import type { ResolvedProps } from './resolved-props';

const SLOTS = 16384;

export interface AlertRule {
  readonly alert: string;
  readonly expr: string;
  readonly for?: string;
  readonly labels: { readonly severity: 'critical' | 'warning' };
  readonly annotations: { readonly summary: string; readonly description: string; readonly runbook_url: string };
}

export interface AlertRuleGroup {
  readonly name: string;
  readonly rules: AlertRule[];
}

/** Label matchers of this cluster's exporter series: its metrics Service, and its namespace when the props fix one. */
function seriesMatchers(cluster: ResolvedProps, extra: string[] = []): string {
  const matchers = [`service="${metricsServiceName(cluster)}"`];
  if (cluster.namespace !== undefined) matchers.push(`namespace="${cluster.namespace}"`);
  return `{${[...matchers, ...extra].join(',')}}`;
}

/** `kube_job_*` matchers of this cluster's topology Jobs (kube-state-metrics labels the Job by `job_name`). */
function jobMatchers(cluster: ResolvedProps): string {
  const matchers = [`job_name=~"${topologyJobName(cluster, 'pre')}|${topologyJobName(cluster, 'post')}"`, 'condition="true"'];
  if (cluster.namespace !== undefined) matchers.push(`namespace="${cluster.namespace}"`);
  return `{${matchers.join(',')}}`;
}

/** The alert rules for this cluster (docs/operations.md, "Alerts"). */
export function redisAlertGroups(cluster: ResolvedProps): AlertRuleGroup[] {
  const settings = cluster.monitoring?.prometheusRule;
  if (settings === undefined) return [];
  const s = (extra: string[] = []) => seriesMatchers(cluster, extra);
  const node = '{{ $labels.namespace }}/{{ $labels.pod }}';
  const rule = (
    alert: string,
    severity: 'critical' | 'warning',
    expr: string,
    duration: string | undefined,
    summary: string,
    description: string,
  ): AlertRule => ({
    alert,
    expr,
    ...(duration === undefined ? {} : { for: duration }),
    labels: { severity },
    annotations: { summary, description, runbook_url: `${settings.runbookUrl}#${alert.toLowerCase()}` },
  });
  // A pod that has not met any other node yet (a new pod before the post Job joins it) reports
  // cluster_state fail and no slots; it is not a cluster problem.
  const joined = `on (namespace, pod) redis_cluster_known_nodes${s()} > 1`;
  const rules: AlertRule[] = [
    rule(
      'RedisDown',
      'critical',
      `redis_up${s()} == 0`,
      '2m',
      `Redis node ${node} does not answer`,
      'The exporter sidecar of this pod cannot reach Redis on localhost (not running, not accepting connections, or refusing the password) for 2 minutes.',
    ),
    rule(
      'RedisClusterStateNotOk',
      'critical',
      `redis_cluster_state${s()} == 0 and ${joined}`,
      '2m',
      `Redis Cluster node ${node} reports cluster_state fail`,
      'This node has seen the cluster as failed for 2 minutes: some hash slots have no reachable master, and commands on their keys fail with CLUSTERDOWN.',
    ),
    rule(
      'RedisClusterSlotsNotCovered',
      'critical',
      `redis_cluster_slots_ok${s()} < ${SLOTS} and ${joined}`,
      '2m',
      `Redis Cluster node ${node} sees only {{ $value }} of ${SLOTS} hash slots served`,
      `For 2 minutes this node has seen fewer than ${SLOTS} slots assigned to a master in a healthy state (unassigned, or their master is failing); keys in the other slots cannot be read or written.`,
    ),
    rule(
      'RedisClusterSlotMigrationStuck',
      'warning',
      `max by (namespace, pod) (redis_script_values${s(['key=~"cluster_slots_(migrating|importing)"'])}) > 0 ` +
        `and on (namespace, pod) max by (namespace, pod) (changes(redis_script_values${s(['key="cluster_open_slot_lowest"'])}[15m])) == 0`,
      '15m',
      `Redis Cluster node ${node} has a slot migration open that no longer moves`,
      'Slots on this node are MIGRATING or IMPORTING and the lowest open slot has not changed for about 30 minutes: a topology Job stopped half-way (killed, failed or past its deadline), or someone moved slots by hand.',
    ),
  ];
  if (cluster.replicasPerMaster > 0) {
    rules.push(
      rule(
        'RedisClusterMasterWithoutReplica',
        'warning',
        `redis_connected_slaves${s()} == 0 and on (namespace, pod) redis_instance_info${s(['role="master"'])} ` +
          `and on (namespace, pod) redis_script_values${s(['key="cluster_owned_slots"'])} > 0`,
        '10m',
        `Redis Cluster master ${node} has no connected replica`,
        `This master serves hash slots but has had no replica connected for 10 minutes (the cluster is declared with ${cluster.replicasPerMaster} per master); if it fails now, its slots are down until it comes back.`,
      ),
    );
  }
  rules.push(
    rule(
      'RedisReplicationLinkDown',
      'warning',
      `redis_master_link_up${s()} == 0 unless on (namespace, pod) redis_master_sync_in_progress${s()} == 1`,
      '5m',
      `Redis replica ${node} has lost its link to its master`,
      'This replica has not been connected to its master for 5 minutes (and is not in a full sync): it falls behind and cannot take over when the master fails.',
    ),
    rule(
      'RedisMemoryNearMaxmemory',
      'warning',
      `redis_memory_used_bytes${s()} / redis_memory_max_bytes${s()} > ${settings.memoryWarningRatio} and on (namespace, pod) redis_memory_max_bytes${s()} > 0`,
      '5m',
      `Redis node ${node} uses {{ $value | humanizePercentage }} of its maxmemory`,
      `Used memory has been above ${Math.round(settings.memoryWarningRatio * 100)}% of maxmemory for 5 minutes. With maxmemory-policy ${cluster.maxmemoryPolicy}, ` +
        (cluster.maxmemoryPolicy === 'noeviction' ? 'writes fail with OOM once it is full.' : 'Redis evicts keys once it is full.'),
    ),
    rule(
      'RedisEvictingKeys',
      'warning',
      `increase(redis_evicted_keys_total${s()}[5m]) > 0`,
      undefined,
      `Redis node ${node} evicted {{ $value }} keys in 5 minutes`,
      `This node reached maxmemory and deleted keys to make room (maxmemory-policy ${cluster.maxmemoryPolicy}).`,
    ),
    rule(
      'RedisClusterTopologyJobFailed',
      'warning',
      `kube_job_failed${jobMatchers(cluster)} == 1`,
      undefined,
      'Topology Job {{ $labels.namespace }}/{{ $labels.job_name }} failed',
      'The Job that brings the Redis Cluster to its declared shape failed (all its retries); a failed pre Job also stops the StatefulSet from changing. Its log says what is wrong and what to do.',
    ),
  );
  return [{ name: `redis-cluster.${cluster.statefulSetName}`, rules }];
}
