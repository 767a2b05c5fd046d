import { k8s } from 'cdk8s-plus-27';
import { ENV } from '../jobs/contract';
import type { ResolvedProps } from './resolved-props';
import { SERVER_BINARIES } from './server-image';

export function fieldRef(name: string, fieldPath: string): k8s.EnvVar {
  return { name, valueFrom: { fieldRef: { fieldPath } } };
}

/** REDIS_PASSWORD (read by start.sh, the probes and the topology program) from the user's Secret, never a literal; nothing when there is no Secret. */
export function passwordEnv(props: ResolvedProps): k8s.EnvVar[] {
  if (props.passwordSecret === undefined) return [];
  return [{ name: ENV.password, valueFrom: { secretKeyRef: { name: props.passwordSecret.name, key: props.passwordSecret.key, optional: false } } }];
}

/**
 * The binaries start.sh, probe.sh and pre-stop.sh run (REDIS_SERVER, REDIS_CLI): Valkey's with a Valkey image.
 * Redis's are the scripts' defaults, so a Redis pod's env does not name them.
 */
function serverBinariesEnv(props: ResolvedProps): k8s.EnvVar[] {
  if (props.server === 'redis') return [];
  const binaries = SERVER_BINARIES[props.server];
  return [
    { name: 'REDIS_SERVER', value: binaries.server },
    { name: 'REDIS_CLI', value: binaries.cli },
  ];
}

/** Env of a Redis pod, read by start.sh, probe.sh and pre-stop.sh. */
export function redisPodEnv(props: ResolvedProps): k8s.EnvVar[] {
  return [
    fieldRef('POD_IP', 'status.podIP'),
    fieldRef('POD_NAME', 'metadata.name'),
    fieldRef('POD_NAMESPACE', 'metadata.namespace'),
    { name: 'HEADLESS_SERVICE', value: props.headlessServiceName },
    { name: 'CLUSTER_DOMAIN', value: props.clusterDomain },
    ...serverBinariesEnv(props),
    ...passwordEnv(props),
  ];
}
