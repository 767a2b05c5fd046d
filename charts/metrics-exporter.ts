import type { k8s } from 'cdk8s-plus-27';
import { containerResources } from './container-resources';
import { passwordEnv } from './pod-environment';
import { CONFIG_MOUNT_PATH, SLOTS_SCRIPT_KEY } from './redis-config';
import { METRICS_PORT, REDIS_PORT, type ResolvedProps } from './resolved-props';
import { RESTRICTED_CONTAINER_SECURITY_CONTEXT } from './security-context';

/**
 * Arguments of the redis_exporter sidecar (flags as in `redis_exporter --help`):
 * - scrapes only its own pod's node, on localhost: one exporter per node, so the metrics of a node come
 *   with its pod's labels, and an exporter never reaches across the network;
 * - no `--is-cluster`: it only makes the key checks (`--check-keys`, unused here) go through a cluster
 *   client; the cluster metrics (`redis_cluster_*`, from CLUSTER INFO) come without it;
 * - `--script`: the open and owned slots of the node, which no built-in metric gives;
 * - `--redis-only-metrics`: no Go runtime series, a dozen fewer per pod;
 * - a connection timeout below the ServiceMonitor's scrape timeout, so a hung node gives `redis_up 0`
 *   instead of a failed scrape.
 * The password comes from REDIS_PASSWORD (env, from the Secret), which the exporter reads itself;
 * `--redis.password-file` expects a JSON map of addresses to passwords, not the Secret's plain value.
 */
export function exporterArgs(): string[] {
  return [
    `--redis.addr=redis://localhost:${REDIS_PORT}`,
    `--web.listen-address=:${METRICS_PORT}`,
    '--web.telemetry-path=/metrics',
    `--script=${CONFIG_MOUNT_PATH}/${SLOTS_SCRIPT_KEY}`,
    '--redis-only-metrics',
    '--connection-timeout=5s',
  ];
}

/**
 * The redis_exporter sidecar of a Redis pod. No probes: the pod's readiness must stay Redis's alone (a
 * not-ready exporter would take the node out of the client Service); when Redis is down the exporter
 * still answers, with `redis_up 0`, which is what the RedisDown alert looks for.
 */
export function exporterContainer(cluster: ResolvedProps): k8s.Container {
  const monitoring = cluster.monitoring!;
  return {
    name: 'metrics',
    image: monitoring.exporterImage,
    args: exporterArgs(),
    env: passwordEnv(cluster),
    ports: [{ name: 'metrics', containerPort: METRICS_PORT, protocol: 'TCP' }],
    resources: containerResources(monitoring.exporterResources),
    securityContext: RESTRICTED_CONTAINER_SECURITY_CONTEXT,
    volumeMounts: [{ name: 'config', mountPath: CONFIG_MOUNT_PATH, readOnly: true }],
  };
}
