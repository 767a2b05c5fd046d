import type { ResolvedProps } from './resolved-props';

/** Labels that select the Redis pods; part of the StatefulSet's immutable selector, so never change them. */
export function redisSelectorLabels(props: ResolvedProps): Record<string, string> {
  return {
    'app.kubernetes.io/name': 'redis-cluster',
    'app.kubernetes.io/instance': props.statefulSetName,
    'app.kubernetes.io/component': 'server',
  };
}

/** Labels on every generated object. */
export function commonLabels(props: ResolvedProps, component: string): Record<string, string> {
  return {
    'app.kubernetes.io/name': 'redis-cluster',
    'app.kubernetes.io/instance': props.statefulSetName,
    'app.kubernetes.io/component': component,
    'app.kubernetes.io/managed-by': 'cdk8s',
  };
}

/** Labels of the topology Jobs' pods (the NetworkPolicy lets them reach the Redis port). */
export function topologyJobSelectorLabels(props: ResolvedProps): Record<string, string> {
  return {
    'app.kubernetes.io/name': 'redis-cluster',
    'app.kubernetes.io/instance': props.statefulSetName,
    'app.kubernetes.io/component': 'topology-job',
  };
}
