import { Construct } from 'constructs';
import { k8s } from 'cdk8s-plus-27';
import { commonLabels, redisSelectorLabels, topologyJobSelectorLabels } from './labels';
import { CLUSTER_BUS_PORT, METRICS_PORT, REDIS_PORT, type ResolvedProps } from './resolved-props';

export interface RedisNetworkPolicyProps {
  readonly cluster: ResolvedProps;
}

/** The pods that may scrape the exporter: the chosen namespaces and pods, else any pod of any namespace. */
function metricsScrapers(cluster: ResolvedProps): k8s.NetworkPolicyPeer[] {
  const namespaceLabels = cluster.networkPolicy?.metricsScraperNamespaceLabels;
  const podLabels = cluster.networkPolicy?.metricsScraperPodLabels;
  return [
    {
      namespaceSelector: namespaceLabels === undefined ? {} : { matchLabels: namespaceLabels },
      ...(podLabels === undefined ? {} : { podSelector: { matchLabels: podLabels } }),
    },
  ];
}

/**
 * Ingress to the Redis pods: the cluster bus only from other Redis pods; the client port (and a plaintext
 * port kept beside TLS) from the Redis pods, the topology Jobs and the clients (the chosen pods, else every pod of the namespace);
 * with monitoring, the metrics port from the scrapers.
 */
export class RedisNetworkPolicy extends Construct {
  readonly policy: k8s.KubeNetworkPolicy;

  constructor(scope: Construct, id: string, props: RedisNetworkPolicyProps) {
    super(scope, id);
    const cluster = props.cluster;
    const redisPods = { podSelector: { matchLabels: redisSelectorLabels(cluster) } };
    const clientLabels = cluster.networkPolicy?.clientPodLabels;
    const clientPeers =
      clientLabels === undefined
        ? [{ podSelector: {} }]
        : [redisPods, { podSelector: { matchLabels: topologyJobSelectorLabels(cluster) } }, { podSelector: { matchLabels: clientLabels } }];
    this.policy = new k8s.KubeNetworkPolicy(this, 'Policy', {
      metadata: { name: cluster.statefulSetName, namespace: cluster.namespace, labels: commonLabels(cluster, 'server') },
      spec: {
        podSelector: { matchLabels: redisSelectorLabels(cluster) },
        policyTypes: ['Ingress'],
        ingress: [
          {
            from: clientPeers,
            ports: [REDIS_PORT, ...(cluster.tls?.plaintextPort === undefined ? [] : [cluster.tls.plaintextPort])].map((port) => ({
              protocol: 'TCP',
              port: k8s.IntOrString.fromNumber(port),
            })),
          },
          { from: [redisPods], ports: [{ protocol: 'TCP', port: k8s.IntOrString.fromNumber(CLUSTER_BUS_PORT) }] },
          ...(cluster.monitoring === undefined
            ? []
            : [{ from: metricsScrapers(cluster), ports: [{ protocol: 'TCP', port: k8s.IntOrString.fromNumber(METRICS_PORT) }] }]),
        ],
      },
    });
  }
}
