import { DEFAULTS } from '../jobs/contract';
import type { MonitoringSettings, RedisClusterChartProps, ResourceSettings, ServerKind, TlsSettings } from './props';
import { quantityValue } from './quantity';
import { serverNamedBy } from './server-image';

/** The Redis pods' client port: the one the topology program dials (the contract's default). */
export const REDIS_PORT = DEFAULTS.port;
/** Redis Cluster's bus listens on the client port + 10000. */
export const CLUSTER_BUS_PORT = REDIS_PORT + 10000;

/** The exporter sidecar's metrics port (redis_exporter's own default). */
export const METRICS_PORT = 9121;

/**
 * Redis 8.2: Redis 7.2 no longer gets fixes and is past its end of life; 7.4 is licensed under RSALv2/SSPLv1
 * only, 8.x also under the OSI-approved AGPLv3; 8.2 is still maintained and is the last minor before the
 * servers move slots themselves (atomic slot migration, 8.4), so the topology program's MIGRATE protocol
 * runs on it exactly as on the 8.0 it is tested with. docs/operations.md, "The Redis image".
 */
export const DEFAULT_REDIS_IMAGE = 'redis:8.2';
/**
 * Valkey 9.1 (BSD-3-Clause): the newest stable minor, still getting fixes, and the one the tests run (9.1.2); the
 * servers move slots themselves from 9.0 on, which the topology program uses. docs/operations.md, "Valkey".
 */
export const DEFAULT_VALKEY_IMAGE = 'valkey/valkey:9.1';
/** The image each server runs from when `image` is not set. */
export const DEFAULT_SERVER_IMAGES: Readonly<Record<ServerKind, string>> = { redis: DEFAULT_REDIS_IMAGE, valkey: DEFAULT_VALKEY_IMAGE };
export const DEFAULT_JOBS_IMAGE = 'node:24.22-alpine';
/**
 * A version tag, not `latest`: the alerts use its metric names. Flags and metrics the chart relies on are
 * the same from Debian's 1.45, which the tests run, to this one.
 */
export const DEFAULT_EXPORTER_IMAGE = 'oliver006/redis_exporter:v1.91.1';
const DEFAULT_RESOURCES: ResourceSettings = { requests: { cpu: '500m', memory: '1Gi' }, limits: { memory: '1Gi' } };
const DEFAULT_JOB_RESOURCES: ResourceSettings = { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '512Mi' } };
// Measured: the exporter uses ~10 MiB and a few ms of CPU per scrape.
const DEFAULT_EXPORTER_RESOURCES: ResourceSettings = { requests: { cpu: '10m', memory: '32Mi' }, limits: { memory: '64Mi' } };

/** Monitoring with its defaults; the sub-objects stay absent unless asked for. */
function monitoringWithDefaults(monitoring: MonitoringSettings) {
  const serviceMonitor = monitoring?.serviceMonitor;
  const prometheusRule = monitoring?.prometheusRule;
  return {
    exporterImage: monitoring?.exporterImage ?? DEFAULT_EXPORTER_IMAGE,
    exporterResources: monitoring?.exporterResources ?? DEFAULT_EXPORTER_RESOURCES,
    serviceMonitor:
      serviceMonitor === undefined
        ? undefined
        : { labels: serviceMonitor?.labels ?? {}, interval: serviceMonitor?.interval ?? '30s', scrapeTimeout: serviceMonitor?.scrapeTimeout ?? '10s' },
    prometheusRule:
      prometheusRule === undefined
        ? undefined
        : {
            labels: prometheusRule?.labels ?? {},
            runbookUrl: prometheusRule?.runbookUrl ?? 'docs/operations.md',
            memoryWarningRatio: prometheusRule?.memoryWarningRatio ?? 0.9,
          },
  };
}

/** TLS with its defaults; the issuer stays absent unless asked for. */
function tlsWithDefaults(tls: TlsSettings, statefulSetName: string) {
  return {
    secretName: tls?.secretName ?? (tls?.issuer === undefined ? undefined : `${statefulSetName}-tls`),
    issuer:
      tls?.issuer === undefined ? undefined : { name: tls.issuer?.name, kind: tls.issuer?.kind ?? 'Issuer', group: tls.issuer?.group ?? 'cert-manager.io' },
    requireClientCertificates: tls?.requireClientCertificates ?? true,
    plaintextPort: tls?.plaintextPort,
  };
}

/**
 * Every prop with its default filled in: the one place a new prop gets its default. `satisfies`
 * holds the keys to exactly those of RedisClusterChartProps, so validate's list of known props is
 * taken from here.
 */
function withDefaults(props: RedisClusterChartProps) {
  const statefulSetName = props.statefulSetName ?? DEFAULTS.statefulSetName;
  // Said, else what the image's name says, else Redis (the default image's).
  const server = props.server ?? serverNamedBy(props.image) ?? 'redis';
  return {
    masters: props.masters ?? DEFAULTS.masters,
    replicasPerMaster: props.replicasPerMaster ?? DEFAULTS.replicasPerMaster,
    image: props.image ?? DEFAULT_SERVER_IMAGES[server] ?? DEFAULT_REDIS_IMAGE,
    server,
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
    allowUnauthenticated: props.allowUnauthenticated ?? false,
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
    monitoring: props.monitoring === undefined ? undefined : monitoringWithDefaults(props.monitoring),
    tls: props.tls === undefined ? undefined : tlsWithDefaults(props.tls, statefulSetName),
    spread: {
      zoneLabel: props.spread?.zoneLabel ?? DEFAULTS.zoneLabel,
      byNode: props.spread?.byNode ?? DEFAULTS.placementNodes,
      zoneWhenUnsatisfiable: props.spread?.zoneWhenUnsatisfiable ?? 'ScheduleAnyway',
      readPlacement: props.spread?.readPlacement ?? true,
    },
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
