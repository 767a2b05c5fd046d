import { Construct } from 'constructs';
import { k8s } from 'cdk8s-plus-27';
import { desiredPodCount } from '../jobs/contract';
import { ANNOTATIONS, contentHash } from './hashing';
import { containerResources } from './container-resources';
import { commonLabels, redisSelectorLabels } from './labels';
import { exporterContainer } from './metrics-exporter';
import { redisPodEnv } from './pod-environment';
import { CONFIG_MOUNT_PATH, DATA_MOUNT_PATH, RUNTIME_MOUNT_PATH } from './redis-config';
import { CLUSTER_BUS_PORT, REDIS_PORT, type ResolvedProps } from './resolved-props';
import { RESTRICTED_CONTAINER_SECURITY_CONTEXT } from './security-context';
import { tlsEnv, tlsVolumeMounts, tlsVolumes } from './tls-mounts';

export const REDIS_UID = 999;
/** Kubernetes' label of a node's name. */
const HOSTNAME_LABEL = 'kubernetes.io/hostname';

export interface RedisStatefulSetProps {
  readonly cluster: ResolvedProps;
  /** The ConfigMap data the pods run from; its hash rolls the pods when it changes. */
  readonly configData: Record<string, string>;
}

/**
 * The Redis pods: one StatefulSet, a volume per pod, pods started in parallel.
 *
 * Parallel pod management: nodes of a cluster do not depend on each other to start, and after a
 * full restart every node must be up before any can be reached at its new address; ordered start
 * would only slow that down. Rolling updates still replace one pod at a time, waiting for readiness.
 */
export class RedisStatefulSet extends Construct {
  readonly statefulSet: k8s.KubeStatefulSet;

  constructor(scope: Construct, id: string, props: RedisStatefulSetProps) {
    super(scope, id);
    const cluster = props.cluster;
    const selector = redisSelectorLabels(cluster);
    const probe = (kind: 'readiness' | 'liveness'): k8s.Probe => ({
      exec: { command: ['sh', `${CONFIG_MOUNT_PATH}/probe.sh`, kind] },
      ...(kind === 'readiness'
        ? { initialDelaySeconds: 5, periodSeconds: 5, timeoutSeconds: 3, failureThreshold: 3 }
        : { initialDelaySeconds: 30, periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 6 }),
    });

    this.statefulSet = new k8s.KubeStatefulSet(this, 'StatefulSet', {
      metadata: { name: cluster.statefulSetName, namespace: cluster.namespace, labels: commonLabels(cluster, 'server') },
      spec: {
        replicas: desiredPodCount(cluster),
        serviceName: cluster.headlessServiceName,
        podManagementPolicy: 'Parallel',
        updateStrategy: { type: 'RollingUpdate' },
        // Gives a restarted node a moment to rejoin the cluster's gossip before the next one goes down.
        minReadySeconds: 10,
        // Volumes outlive the StatefulSet and a scale-down: data is never deleted by a manifest change.
        persistentVolumeClaimRetentionPolicy: { whenDeleted: 'Retain', whenScaled: 'Retain' },
        selector: { matchLabels: selector },
        template: {
          metadata: {
            labels: { ...cluster.podLabels, ...commonLabels(cluster, 'server'), ...selector },
            annotations: {
              [ANNOTATIONS.configHash]: contentHash(...Object.entries(props.configData).sort().flat()),
              // `kubectl logs` and `exec` go to Redis, not the exporter sidecar.
              ...(cluster.monitoring === undefined ? {} : { 'kubectl.kubernetes.io/default-container': 'redis' }),
            },
          },
          spec: {
            terminationGracePeriodSeconds: cluster.terminationGracePeriodSeconds,
            automountServiceAccountToken: false,
            enableServiceLinks: false,
            securityContext: {
              runAsNonRoot: true,
              runAsUser: REDIS_UID,
              runAsGroup: REDIS_UID,
              fsGroup: REDIS_UID,
              fsGroupChangePolicy: 'OnRootMismatch',
              seccompProfile: { type: 'RuntimeDefault' },
            },
            // Even over zones, then over nodes (docs/operations.md, "Zones and nodes"); the topology
            // Jobs then put each shard's members in different zones (nodes) among those the pods got.
            topologySpreadConstraints: [
              {
                maxSkew: 1,
                topologyKey: cluster.spread.zoneLabel,
                whenUnsatisfiable: cluster.spread.zoneWhenUnsatisfiable,
                labelSelector: { matchLabels: selector },
              },
              // Never DoNotSchedule per node: a drained node would count as an empty domain and keep its pods pending.
              ...(cluster.spread.byNode
                ? [{ maxSkew: 1, topologyKey: HOSTNAME_LABEL, whenUnsatisfiable: 'ScheduleAnyway', labelSelector: { matchLabels: selector } }]
                : []),
            ],
            ...(cluster.spread.byNode
              ? {
                  affinity: {
                    podAntiAffinity: {
                      preferredDuringSchedulingIgnoredDuringExecution: [
                        { weight: 100, podAffinityTerm: { topologyKey: HOSTNAME_LABEL, labelSelector: { matchLabels: selector } } },
                      ],
                    },
                  },
                }
              : {}),
            containers: [
              {
                name: 'redis',
                image: cluster.image,
                command: ['sh', `${CONFIG_MOUNT_PATH}/start.sh`],
                ports: [
                  { name: 'client', containerPort: REDIS_PORT, protocol: 'TCP' },
                  { name: 'cluster-bus', containerPort: CLUSTER_BUS_PORT, protocol: 'TCP' },
                  ...(cluster.tls?.plaintextPort === undefined ? [] : [{ name: 'plaintext', containerPort: cluster.tls.plaintextPort, protocol: 'TCP' }]),
                ],
                env: [...redisPodEnv(cluster), ...tlsEnv(cluster, { clientCertificate: true })],
                readinessProbe: probe('readiness'),
                // A master hands its slots to its replica before it stops (rolling updates, drains).
                lifecycle: { preStop: { exec: { command: ['sh', `${CONFIG_MOUNT_PATH}/pre-stop.sh`] } } },
                livenessProbe: probe('liveness'),
                resources: containerResources(cluster.resources),
                securityContext: RESTRICTED_CONTAINER_SECURITY_CONTEXT,
                volumeMounts: [
                  { name: cluster.volumeClaimTemplateName, mountPath: DATA_MOUNT_PATH },
                  { name: 'config', mountPath: CONFIG_MOUNT_PATH, readOnly: true },
                  { name: 'runtime', mountPath: RUNTIME_MOUNT_PATH },
                  ...tlsVolumeMounts(cluster),
                ],
              },
              ...(cluster.monitoring === undefined ? [] : [exporterContainer(cluster)]),
            ],
            volumes: [
              { name: 'config', configMap: { name: cluster.configMapName, defaultMode: 0o444 } },
              // Holds the effective redis.conf (with the password), so in memory only.
              { name: 'runtime', emptyDir: { medium: 'Memory', sizeLimit: k8s.Quantity.fromString('16Mi') } },
              ...tlsVolumes(cluster, { clientCertificate: true, optional: false }),
            ],
          },
        },
        volumeClaimTemplates: [
          {
            metadata: { name: cluster.volumeClaimTemplateName, labels: selector },
            spec: {
              accessModes: ['ReadWriteOnce'],
              storageClassName: cluster.storageClassName,
              resources: { requests: { storage: k8s.Quantity.fromString(cluster.storageSize) } },
            },
          },
        ],
      },
    });
  }
}
