import { DEFAULTS } from '../jobs/contract';
import type { RedisClusterChartProps, ResourceSettings } from './props';
import { quantityValue } from './quantity';

/** The Redis pods' client port: the one the topology program dials (the contract's default). */
export const REDIS_PORT = DEFAULTS.port;
/** Redis Cluster's bus listens on the client port + 10000. */
export const CLUSTER_BUS_PORT = REDIS_PORT + 10000;

export const DEFAULT_JOBS_IMAGE = 'node:24.22-alpine';
const DEFAULT_RESOURCES: ResourceSettings = { requests: { cpu: '500m', memory: '1Gi' }, limits: { memory: '1Gi' } };
const DEFAULT_JOB_RESOURCES: ResourceSettings = { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '512Mi' } };

/**
 * Every prop with its default filled in: the one place a new prop gets its default. `satisfies`
 * holds the keys to exactly those of RedisClusterChartProps, so validate's list of known props is
 * taken from here.
 */
function withDefaults(props: RedisClusterChartProps) {
  const statefulSetName = props.statefulSetName ?? DEFAULTS.statefulSetName;
  return {
    masters: props.masters ?? DEFAULTS.masters,
    replicasPerMaster: props.replicasPerMaster ?? DEFAULTS.replicasPerMaster,
    image: props.image ?? 'redis:7.2',
    jobsImage: props.jobsImage ?? DEFAULT_JOBS_IMAGE,
    statefulSetName,
    headlessServiceName: props.headlessServiceName ?? DEFAULTS.headlessService,
    clientServiceName: props.clientServiceName ?? `${statefulSetName}-client`,
    configMapName: props.configMapName ?? 'redis-cluster',
    volumeClaimTemplateName: props.volumeClaimTemplateName ?? 'pvc-essd-redis-data',
    namespace: props.namespace,
    clusterDomain: props.clusterDomain ?? DEFAULTS.clusterDomain,
    storageClassName: props.storageClassName,
    storageSize: props.storageSize ?? '20Gi',
    resources: props.resources ?? DEFAULT_RESOURCES,
    jobResources: props.jobResources ?? DEFAULT_JOB_RESOURCES,
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
    // Unset leaves the program its own default (the contract's), so the Job's env does not carry it.
    migrationSlotsInFlight: props.migrationSlotsInFlight,
    migrationMaxKeysPerSecond: props.migrationMaxKeysPerSecond,
    networkPolicy: props.networkPolicy,
  } satisfies Record<keyof RedisClusterChartProps, unknown>;
}

/** Every prop name of RedisClusterChartProps, in declaration order of withDefaults. */
export const PROP_NAMES = Object.keys(withDefaults({})) as readonly (keyof RedisClusterChartProps)[];

/** The chart's props with every default filled in, plus the names derived from them; what the constructs build from. */
export interface ResolvedProps extends Readonly<ReturnType<typeof resolveProps>> {}

export function resolveProps(props: RedisClusterChartProps = {}) {
  const resolved = withDefaults(props);
  return { ...resolved, topologyConfigMapName: `${resolved.statefulSetName}-topology` };
}

/** maxmemory in bytes for redis.conf: the explicit value, else 75% of the memory limit, else none. */
export function effectiveMaxmemoryBytes(props: ResolvedProps): number | undefined {
  if (props.maxmemory !== undefined) return Math.floor(quantityValue(props.maxmemory));
  const limit = props.resources.limits?.memory;
  return limit === undefined ? undefined : Math.floor(quantityValue(limit) * 0.75);
}
