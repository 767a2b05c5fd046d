import type { GitOpsTool, RedisClusterChartProps, ResourceSettings, SecretKeyReference } from './props';
import { quantityValue } from './quantity';

/** The chart's props with every default filled in; what the constructs build from. */
export interface ResolvedProps {
  readonly masters: number;
  readonly replicasPerMaster: number;
  readonly image: string;
  readonly jobsImage: string;
  readonly statefulSetName: string;
  readonly headlessServiceName: string;
  readonly clientServiceName: string;
  readonly configMapName: string;
  readonly topologyConfigMapName: string;
  readonly volumeClaimTemplateName: string;
  readonly namespace?: string;
  readonly clusterDomain: string;
  readonly storageClassName?: string;
  readonly storageSize: string;
  readonly resources: ResourceSettings;
  readonly jobResources: ResourceSettings;
  readonly passwordSecret?: SecretKeyReference;
  readonly podLabels: Record<string, string>;
  readonly maxmemory?: string;
  readonly maxmemoryPolicy: string;
  readonly gitops: GitOpsTool;
  readonly flux: {
    readonly sourceRef: { readonly kind: string; readonly name: string; readonly namespace: string };
    readonly path: string;
    readonly namespace: string;
    readonly interval: string;
  };
  readonly jobActiveDeadlineSeconds: number;
  readonly jobBackoffLimit: number;
  readonly terminationGracePeriodSeconds: number;
  readonly migrationSlotsInFlight: number | undefined;
  readonly migrationMaxKeysPerSecond: number | undefined;
  readonly networkPolicy?: { readonly clientPodLabels?: Record<string, string> };
}

export const REDIS_PORT = 6379;
export const CLUSTER_BUS_PORT = 16379;

export function resolveProps(props: RedisClusterChartProps = {}): ResolvedProps {
  const statefulSetName = props.statefulSetName ?? 'redis-cluster';
  return {
    masters: props.masters ?? 3,
    replicasPerMaster: props.replicasPerMaster ?? 1,
    image: props.image ?? 'redis:7.2',
    jobsImage: props.jobsImage ?? 'node:20-alpine',
    statefulSetName,
    headlessServiceName: props.headlessServiceName ?? 'redis-cluster-svc',
    clientServiceName: props.clientServiceName ?? `${statefulSetName}-client`,
    configMapName: props.configMapName ?? 'redis-cluster',
    topologyConfigMapName: `${statefulSetName}-topology`,
    volumeClaimTemplateName: props.volumeClaimTemplateName ?? 'pvc-essd-redis-data',
    namespace: props.namespace,
    clusterDomain: props.clusterDomain ?? 'cluster.local',
    storageClassName: props.storageClassName,
    storageSize: props.storageSize ?? '20Gi',
    resources: props.resources ?? { requests: { cpu: '500m', memory: '1Gi' }, limits: { memory: '1Gi' } },
    jobResources: props.jobResources ?? { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '512Mi' } },
    passwordSecret: props.passwordSecret,
    podLabels: props.podLabels ?? {},
    maxmemory: props.maxmemory,
    maxmemoryPolicy: props.maxmemoryPolicy ?? 'noeviction',
    gitops: props.gitops ?? 'argocd',
    flux: {
      sourceRef: {
        kind: props.flux?.sourceRef?.kind ?? 'GitRepository',
        name: props.flux?.sourceRef?.name ?? 'flux-system',
        namespace: props.flux?.sourceRef?.namespace ?? 'flux-system',
      },
      path: props.flux?.path ?? './dist',
      namespace: props.flux?.namespace ?? 'flux-system',
      interval: props.flux?.interval ?? '10m',
    },
    jobActiveDeadlineSeconds: props.jobActiveDeadlineSeconds ?? 21600,
    jobBackoffLimit: props.jobBackoffLimit ?? 3,
    terminationGracePeriodSeconds: props.terminationGracePeriodSeconds ?? 60,
    migrationSlotsInFlight: props.migrationSlotsInFlight,
    migrationMaxKeysPerSecond: props.migrationMaxKeysPerSecond,
    networkPolicy: props.networkPolicy,
  };
}

export function podCount(props: Pick<ResolvedProps, 'masters' | 'replicasPerMaster'>): number {
  return props.masters * (1 + props.replicasPerMaster);
}

/** maxmemory in bytes for redis.conf: the explicit value, else 75% of the memory limit, else none. */
export function effectiveMaxmemoryBytes(props: ResolvedProps): number | undefined {
  if (props.maxmemory !== undefined) return Math.floor(quantityValue(props.maxmemory));
  const limit = props.resources.limits?.memory;
  return limit === undefined ? undefined : Math.floor(quantityValue(limit) * 0.75);
}
