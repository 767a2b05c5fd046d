import { k8s } from 'cdk8s-plus-27';
import { ENV } from '../jobs/contract';
import type { ResolvedProps } from './resolved-props';

export function fieldRef(name: string, fieldPath: string): k8s.EnvVar {
  return { name, valueFrom: { fieldRef: { fieldPath } } };
}

/** REDIS_PASSWORD (read by start.sh, the probes and the topology program) from the user's Secret, never a literal; nothing when there is no Secret. */
export function passwordEnv(props: ResolvedProps): k8s.EnvVar[] {
  if (props.passwordSecret === undefined) return [];
  return [{ name: ENV.password, valueFrom: { secretKeyRef: { name: props.passwordSecret.name, key: props.passwordSecret.key, optional: false } } }];
}

/** Env of a Redis pod, read by start.sh and probe.sh. */
export function redisPodEnv(props: ResolvedProps): k8s.EnvVar[] {
  return [
    fieldRef('POD_IP', 'status.podIP'),
    fieldRef('POD_NAME', 'metadata.name'),
    fieldRef('POD_NAMESPACE', 'metadata.namespace'),
    { name: 'HEADLESS_SERVICE', value: props.headlessServiceName },
    { name: 'CLUSTER_DOMAIN', value: props.clusterDomain },
    ...passwordEnv(props),
  ];
}
