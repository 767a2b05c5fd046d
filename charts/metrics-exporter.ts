import type { k8s } from 'cdk8s-plus-27';
import { containerResources } from './container-resources';
import { fieldRef, passwordEnv } from './pod-environment';
import { CONFIG_MOUNT_PATH, SLOTS_SCRIPT_KEY, TLS_FILES } from './redis-config';
import { METRICS_PORT, REDIS_PORT, type ResolvedProps } from './resolved-props';
import { RESTRICTED_CONTAINER_SECURITY_CONTEXT } from './security-context';
import { tlsVolumeMounts } from './tls-mounts';

/**
 * Arguments of the redis_exporter sidecar (flags as in `redis_exporter --help`):
 * - scrapes only its own pod's node, on localhost (with TLS, by its own pod's name): one exporter per node, so
 *   the metrics of a node come with its pod's labels, and an exporter never reaches another pod;
 * - no `--is-cluster`: it only makes the key checks (`--check-keys`, unused here) go through a cluster
 *   client; the cluster metrics (`redis_cluster_*`, from CLUSTER INFO) come without it;
 * - `--script`: the open and owned slots of the node, which no built-in metric gives;
 * - `--redis-only-metrics`: no Go runtime series, a dozen fewer per pod;
 * - a connection timeout below the ServiceMonitor's scrape timeout, so a hung node gives `redis_up 0`
 *   instead of a failed scrape.
 * The password comes from REDIS_PASSWORD (env, from the Secret), which the exporter reads itself;
 * `--redis.password-file` expects a JSON map of addresses to passwords, not the Secret's plain value.
 *
 * With TLS it connects (`rediss://`) to its own pod by the pod's DNS name, which the certificate carries, so it
 * verifies the node's certificate against the CA like every other client (the exporter checks the name it
 * dials, and `localhost` is in no certificate), and presents the pod's certificate as its client certificate.
 * $(POD_NAME) and $(POD_NAMESPACE) are the container's env, expanded by Kubernetes.
 */
export function exporterArgs(cluster: ResolvedProps): string[] {
  const podDnsName = `$(POD_NAME).${cluster.headlessServiceName}.$(POD_NAMESPACE).svc.${cluster.clusterDomain}`;
  return [
    ...(cluster.tls === undefined
      ? [`--redis.addr=redis://localhost:${REDIS_PORT}`]
      : [
          `--redis.addr=rediss://${podDnsName}:${REDIS_PORT}`,
          `--tls-ca-cert-file=${TLS_FILES.ca.path}`,
          `--tls-client-cert-file=${TLS_FILES.certificate.path}`,
          `--tls-client-key-file=${TLS_FILES.privateKey.path}`,
        ]),
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
    args: exporterArgs(cluster),
    env: [
      ...(cluster.tls === undefined ? [] : [fieldRef('POD_NAME', 'metadata.name'), fieldRef('POD_NAMESPACE', 'metadata.namespace')]),
      ...passwordEnv(cluster),
    ],
    ports: [{ name: 'metrics', containerPort: METRICS_PORT, protocol: 'TCP' }],
    resources: containerResources(monitoring.exporterResources),
    securityContext: RESTRICTED_CONTAINER_SECURITY_CONTEXT,
    volumeMounts: [{ name: 'config', mountPath: CONFIG_MOUNT_PATH, readOnly: true }, ...tlsVolumeMounts(cluster)],
  };
}
