import { Construct } from 'constructs';
import { k8s } from 'cdk8s-plus-27';
import { commonLabels, redisSelectorLabels } from './labels';
import { CLUSTER_BUS_PORT, REDIS_PORT, type ResolvedProps } from './resolved-props';

export interface RedisServicesProps {
  readonly cluster: ResolvedProps;
}

/**
 * The headless Service that gives each pod its DNS name (`<pod>.<service>.<namespace>.svc.<domain>`),
 * published before the pod is ready so nodes and the topology Job can find each other while the
 * cluster forms; and a ClusterIP Service through which clients reach any node to discover the rest.
 */
export class RedisServices extends Construct {
  readonly headless: k8s.KubeService;
  readonly client: k8s.KubeService;

  constructor(scope: Construct, id: string, props: RedisServicesProps) {
    super(scope, id);
    const cluster = props.cluster;
    const client = { name: 'client', port: REDIS_PORT, targetPort: k8s.IntOrString.fromString('client'), protocol: 'TCP' };
    const bus = { name: 'cluster-bus', port: CLUSTER_BUS_PORT, targetPort: k8s.IntOrString.fromString('cluster-bus'), protocol: 'TCP' };
    const plaintextPort = cluster.tls?.plaintextPort;
    // With TLS and a plaintext port kept for clients still moving over: 6379 is TLS, this one is not.
    const plaintext =
      plaintextPort === undefined ? [] : [{ name: 'plaintext', port: plaintextPort, targetPort: k8s.IntOrString.fromString('plaintext'), protocol: 'TCP' }];
    this.headless = new k8s.KubeService(this, 'Headless', {
      metadata: { name: cluster.headlessServiceName, namespace: cluster.namespace, labels: commonLabels(cluster, 'server') },
      spec: {
        clusterIp: 'None',
        publishNotReadyAddresses: true,
        selector: redisSelectorLabels(cluster),
        ports: [client, bus, ...plaintext],
      },
    });
    this.client = new k8s.KubeService(this, 'Client', {
      metadata: { name: cluster.clientServiceName, namespace: cluster.namespace, labels: commonLabels(cluster, 'server') },
      spec: {
        type: 'ClusterIP',
        selector: redisSelectorLabels(cluster),
        ports: [client, ...plaintext],
      },
    });
  }
}
