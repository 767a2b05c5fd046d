// The PrometheusRule's alerts, checked by Prometheus' own promtool (Debian package `prometheus`):
// `promtool check rules` on the rule file taken from the synthesized PrometheusRule, and `promtool test rules`
// with series that make each alert fire, and series that must not (a pod still pending, a new pod not yet
// joined, a replica in a full sync, a migration that makes progress...).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { IPrometheusRule } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule';
import { stringify } from 'yaml';
import { find, SEED_PROPS, synthObjects, tempDir } from './chart-fixtures';

type Rule = NonNullable<NonNullable<IPrometheusRule['spec']['groups']>[number]['rules']>[number];

const rule = find<IPrometheusRule>(synthObjects({ ...SEED_PROPS, monitoring: { prometheusRule: {} } }), 'PrometheusRule', 'redis-cluster');
const rules = new Map<string, Rule>(rule.spec.groups!.flatMap((group) => group.rules!).map((entry) => [entry.alert!, entry]));

const workDir = tempDir('promtool');
const rulesFile = path.join(workDir, 'redis-cluster.rules.yaml');
writeFileSync(rulesFile, stringify({ groups: rule.spec.groups }, { lineWidth: 0 }));

/** Debian's `promtool` (package `prometheus`), or the one PROMTOOL names, e.g. the release your Prometheus runs. */
const promtoolBinary = process.env.PROMTOOL ?? 'promtool';

function promtool(...args: string[]): { code: number | null; output: string } {
  const result = spawnSync(promtoolBinary, args, { cwd: workDir, encoding: 'utf8', timeout: 60_000 });
  if (result.error) throw new Error(`promtool could not run (apt-get install prometheus): ${result.error.message}`);
  return { code: result.status, output: `${result.stdout}${result.stderr}` };
}

/** An annotation as Prometheus renders it, for the few template forms the rules use. */
function render(template: string, labels: Record<string, string>, value: number): string {
  return template
    .replace(/\{\{ \$labels\.(\w+) \}\}/g, (_, name: string) => labels[name] ?? '')
    .replace(/\{\{ \$value \| humanizePercentage \}\}/g, `${Number((value * 100).toPrecision(4))}%`)
    .replace(/\{\{ \$value \}\}/g, String(value));
}

/** One expected firing alert: the alert's labels (the series' and its severity) and its rendered annotations. */
function firing(alert: string, labels: Record<string, string>, value: number) {
  const entry = rules.get(alert)!;
  const annotations = Object.fromEntries(Object.entries(entry.annotations!).map(([key, template]) => [key, render(template, labels, value)]));
  return { exp_labels: { ...labels, severity: entry.labels!.severity }, exp_annotations: annotations };
}

/** Labels the Prometheus Operator puts on a series scraped through the ServiceMonitor (those the rules use). */
const pod = (ordinal: number) => ({ service: 'redis-cluster-metrics', namespace: 'shop', pod: `redis-cluster-${ordinal}` });
const series = (name: string, labels: Record<string, string>, values: string) => ({
  series: `${name}{${Object.entries(labels)
    .map(([key, value]) => `${key}="${value}"`)
    .join(',')}}`,
  values,
});

interface AlertCase {
  readonly alert: string;
  readonly input_series: { series: string; values: string }[];
  /** Times at which nothing of this alert fires yet, or any more. */
  readonly quiet: string[];
  readonly fires: { at: string; alerts: ReturnType<typeof firing>[] };
}

const cases: AlertCase[] = [
  {
    alert: 'RedisDown',
    input_series: [
      series('redis_up', pod(0), '1 1 0x10'),
      series('redis_up', pod(1), '1x12'),
      // Down for a minute at a time only: never 2 minutes in a row.
      series('redis_up', pod(2), '1 0 1 0 1 0 1 0 1 0 1 0'),
    ],
    quiet: ['1m', '3m'],
    fires: { at: '6m', alerts: [firing('RedisDown', pod(0), 0)] },
  },
  {
    alert: 'RedisClusterStateNotOk',
    input_series: [
      series('redis_cluster_state', pod(0), '1 0x10'),
      series('redis_cluster_known_nodes', pod(0), '6x11'),
      series('redis_cluster_state', pod(1), '1x11'),
      series('redis_cluster_known_nodes', pod(1), '6x11'),
      // A new pod the post Job has not joined yet: alone, so cluster_state fail is expected.
      series('redis_cluster_state', pod(6), '0x11'),
      series('redis_cluster_known_nodes', pod(6), '1x11'),
    ],
    quiet: ['2m'],
    fires: { at: '5m', alerts: [firing('RedisClusterStateNotOk', pod(0), 0)] },
  },
  {
    alert: 'RedisClusterSlotsNotCovered',
    input_series: [
      series('redis_cluster_slots_ok', pod(0), '16384 16000x10'),
      series('redis_cluster_known_nodes', pod(0), '6x11'),
      series('redis_cluster_slots_ok', pod(1), '16384x11'),
      series('redis_cluster_known_nodes', pod(1), '6x11'),
      series('redis_cluster_slots_ok', pod(6), '0x11'),
      series('redis_cluster_known_nodes', pod(6), '1x11'),
    ],
    quiet: ['2m'],
    fires: { at: '5m', alerts: [firing('RedisClusterSlotsNotCovered', pod(0), 16000)] },
  },
  {
    alert: 'RedisClusterSlotMigrationStuck',
    input_series: [
      // From minute 6, slot 100 left MIGRATING on pod 0 and IMPORTING on pod 1, and nothing moves any more.
      series('redis_script_values', { ...pod(0), key: 'cluster_slots_migrating' }, '0x5 1x40'),
      series('redis_script_values', { ...pod(0), key: 'cluster_slots_importing' }, '0x45'),
      series('redis_script_values', { ...pod(0), key: 'cluster_open_slot_lowest' }, '-1x5 100x40'),
      series('redis_script_values', { ...pod(1), key: 'cluster_slots_migrating' }, '0x45'),
      series('redis_script_values', { ...pod(1), key: 'cluster_slots_importing' }, '0x5 1x40'),
      series('redis_script_values', { ...pod(1), key: 'cluster_open_slot_lowest' }, '-1x5 100x40'),
      // A long reshard in progress: slots open all along, but a new lowest one every minute.
      series('redis_script_values', { ...pod(2), key: 'cluster_slots_migrating' }, '32x45'),
      series('redis_script_values', { ...pod(2), key: 'cluster_open_slot_lowest' }, '0+40x45'),
      // Nothing open.
      series('redis_script_values', { ...pod(3), key: 'cluster_slots_migrating' }, '0x45'),
      series('redis_script_values', { ...pod(3), key: 'cluster_open_slot_lowest' }, '-1x45'),
    ],
    // 15 minutes for the last change to leave the window, then 15 more of `for`.
    quiet: ['20m', '34m'],
    fires: {
      at: '38m',
      alerts: [
        firing('RedisClusterSlotMigrationStuck', { namespace: 'shop', pod: 'redis-cluster-0' }, 1),
        firing('RedisClusterSlotMigrationStuck', { namespace: 'shop', pod: 'redis-cluster-1' }, 1),
      ],
    },
  },
  {
    alert: 'RedisClusterMasterWithoutReplica',
    input_series: [
      series('redis_connected_slaves', pod(0), '1 0x15'),
      series('redis_instance_info', { ...pod(0), role: 'master' }, '1x16'),
      series('redis_script_values', { ...pod(0), key: 'cluster_owned_slots' }, '5461x16'),
      series('redis_connected_slaves', pod(1), '1x16'),
      series('redis_instance_info', { ...pod(1), role: 'master' }, '1x16'),
      series('redis_script_values', { ...pod(1), key: 'cluster_owned_slots' }, '5461x16'),
      // A master without slots (being drained, or just joined) needs no replica.
      series('redis_connected_slaves', pod(2), '0x16'),
      series('redis_instance_info', { ...pod(2), role: 'master' }, '1x16'),
      series('redis_script_values', { ...pod(2), key: 'cluster_owned_slots' }, '0x16'),
      // A replica has no replicas of its own.
      series('redis_connected_slaves', pod(3), '0x16'),
      series('redis_instance_info', { ...pod(3), role: 'slave' }, '1x16'),
      series('redis_script_values', { ...pod(3), key: 'cluster_owned_slots' }, '0x16'),
    ],
    quiet: ['8m'],
    fires: { at: '14m', alerts: [firing('RedisClusterMasterWithoutReplica', pod(0), 0)] },
  },
  {
    alert: 'RedisReplicationLinkDown',
    input_series: [
      series('redis_master_link_up', { ...pod(3), master_host: 'redis-cluster-0', master_port: '6379' }, '1 0x10'),
      series('redis_master_sync_in_progress', { ...pod(3), master_host: 'redis-cluster-0', master_port: '6379' }, '0x11'),
      // In a full sync from its master: the link is down until the sync ends.
      series('redis_master_link_up', { ...pod(4), master_host: 'redis-cluster-1', master_port: '6379' }, '0x11'),
      series('redis_master_sync_in_progress', { ...pod(4), master_host: 'redis-cluster-1', master_port: '6379' }, '1x11'),
      series('redis_master_link_up', { ...pod(5), master_host: 'redis-cluster-2', master_port: '6379' }, '1x11'),
      series('redis_master_sync_in_progress', { ...pod(5), master_host: 'redis-cluster-2', master_port: '6379' }, '0x11'),
    ],
    quiet: ['4m'],
    fires: { at: '8m', alerts: [firing('RedisReplicationLinkDown', { ...pod(3), master_host: 'redis-cluster-0', master_port: '6379' }, 0)] },
  },
  {
    alert: 'RedisMemoryNearMaxmemory',
    input_series: [
      series('redis_memory_used_bytes', pod(0), '500000000 950000000x10'),
      series('redis_memory_max_bytes', pod(0), '1000000000x11'),
      series('redis_memory_used_bytes', pod(1), '500000000x11'),
      series('redis_memory_max_bytes', pod(1), '1000000000x11'),
      // No maxmemory (0): no ratio to speak of.
      series('redis_memory_used_bytes', pod(2), '950000000x11'),
      series('redis_memory_max_bytes', pod(2), '0x11'),
    ],
    quiet: ['4m'],
    fires: { at: '8m', alerts: [firing('RedisMemoryNearMaxmemory', pod(0), 0.95)] },
  },
  {
    alert: 'RedisEvictingKeys',
    input_series: [
      // 60 keys a minute from minute 6 to 10, then no more.
      series('redis_evicted_keys_total', pod(0), '0x5 60+60x4 300x10'),
      series('redis_evicted_keys_total', pod(1), '100x20'),
    ],
    quiet: ['4m', '16m'],
    fires: { at: '10m', alerts: [firing('RedisEvictingKeys', pod(0), 300)] },
  },
  {
    alert: 'RedisClusterTopologyJobFailed',
    input_series: [
      series('kube_job_failed', { namespace: 'shop', job_name: 'redis-cluster-topology-pre', condition: 'true' }, '0 1x5'),
      series('kube_job_failed', { namespace: 'shop', job_name: 'redis-cluster-topology-post', condition: 'true' }, '0x6'),
      series('kube_job_failed', { namespace: 'shop', job_name: 'redis-cluster-topology-post', condition: 'false' }, '1x6'),
      // Another release's Jobs are not this cluster's.
      series('kube_job_failed', { namespace: 'shop', job_name: 'other-redis-cluster-topology-pre', condition: 'true' }, '1x6'),
    ],
    quiet: ['0m'],
    fires: { at: '3m', alerts: [firing('RedisClusterTopologyJobFailed', { namespace: 'shop', job_name: 'redis-cluster-topology-pre', condition: 'true' }, 1)] },
  },
];

function unitTests(alertCases: readonly AlertCase[]) {
  return {
    rule_files: [path.basename(rulesFile)],
    evaluation_interval: '1m',
    tests: alertCases.map((alertCase) => ({
      name: alertCase.alert,
      interval: '1m',
      input_series: alertCase.input_series,
      alert_rule_test: [
        ...alertCase.quiet.map((at) => ({ eval_time: at, alertname: alertCase.alert, exp_alerts: [] })),
        { eval_time: alertCase.fires.at, alertname: alertCase.alert, exp_alerts: alertCase.fires.alerts },
      ],
    })),
  };
}

describe('the PrometheusRule, by promtool', () => {
  it('is a valid rule file', () => {
    const result = promtool('check', 'rules', rulesFile);
    assert.equal(result.code, 0, result.output);
    assert.match(result.output, new RegExp(`SUCCESS: ${rules.size} rules found`));
  });

  it('has a unit test for every alert', () => {
    assert.deepEqual(cases.map((alertCase) => alertCase.alert).sort(), [...rules.keys()].sort());
  });

  it('fires each alert on the series that call for it, and not on the others', () => {
    const testFile = path.join(workDir, 'redis-cluster.rules.test.yaml');
    writeFileSync(testFile, stringify(unitTests(cases), { lineWidth: 0 }));
    const result = promtool('test', 'rules', testFile);
    assert.equal(result.code, 0, result.output);
  });

  it('fails when an alert does not behave as a test expects (so a wrong rule fails this test)', () => {
    const wrong = cases.find((alertCase) => alertCase.alert === 'RedisDown')!;
    const testFile = path.join(workDir, 'wrong.rules.test.yaml');
    // Expects RedisDown for pod 1, which is up.
    writeFileSync(testFile, stringify(unitTests([{ ...wrong, fires: { at: '6m', alerts: [firing('RedisDown', pod(1), 0)] } }]), { lineWidth: 0 }));
    const result = promtool('test', 'rules', testFile);
    assert.notEqual(result.code, 0, result.output);
    assert.match(result.output, /FAILED/);
  });
});
