// The contract between the chart and the topology program: the environment the Jobs are given,
// its defaults and its bounds. The chart writes the Job's env from these names and validates
// props against these bounds; the program parses the same names with the same bounds. Pure
// data: imports nothing, so both sides (and the bundle) can take it.

/**
 * The mark the program leaves on a node it removes from the cluster, and the pod's preStop hook
 * looks for: a disabled ACL user of this name (in memory only, gone when the server restarts).
 * Valkey 8+ re-meets the peers it still knows once they stop talking to it, so the cluster may list
 * a removed node again before its pod stops; the mark says what the cluster's list no longer can.
 */
export const REMOVED_MARK_USER = 'redis-cluster-gitops-removed';

/** Environment variables the program reads; the chart's Jobs set them. */
export const ENV = {
  phase: 'PHASE',
  masters: 'MASTERS',
  replicasPerMaster: 'REPLICAS_PER_MASTER',
  pods: 'PODS',
  passwordFile: 'PASSWORD_FILE',
  password: 'REDIS_PASSWORD',
  dryRun: 'DRY_RUN',
  statefulSetName: 'STATEFULSET_NAME',
  headlessService: 'HEADLESS_SERVICE',
  namespace: 'POD_NAMESPACE',
  clusterDomain: 'CLUSTER_DOMAIN',
  port: 'REDIS_PORT',
  /** The node label that names a node's zone; the program reads it through the Kubernetes API. */
  zoneLabel: 'PLACEMENT_ZONE_LABEL',
  /** `false`: nodes are no failure domain (pods on virtual nodes), only zones count. */
  placementNodes: 'PLACEMENT_NODES',
  podWaitTimeoutSeconds: 'POD_WAIT_TIMEOUT_SECONDS',
  convergeTimeoutSeconds: 'CONVERGE_TIMEOUT_SECONDS',
  replicaSyncTimeoutSeconds: 'REPLICA_SYNC_TIMEOUT_SECONDS',
  slotsInFlight: 'MIGRATION_SLOTS_IN_FLIGHT',
  maxKeysPerSecond: 'MIGRATION_MAX_KEYS_PER_SECOND',
  /** TLS is on when this is set: the CA (PEM) the pods' certificates must chain to. */
  tlsCaFile: 'TLS_CA_FILE',
  /** Client certificate and key (PEM), for pods that require one. */
  tlsCertFile: 'TLS_CERT_FILE',
  tlsKeyFile: 'TLS_KEY_FILE',
  /** The name each pod's certificate is checked against, `{ordinal}` standing for its ordinal; default the pod's host. */
  tlsServerName: 'TLS_SERVER_NAME',
  migrationEngine: 'MIGRATION_ENGINE',
} as const;

/** Every variable of ENV, e.g. for a test harness that must not leak its own environment into the program. */
export const ENV_NAMES: readonly string[] = Object.values(ENV);

/** Defaults shared by the chart's props and the program's settings. */
export const DEFAULTS = {
  masters: 3,
  replicasPerMaster: 1,
  statefulSetName: 'redis-cluster',
  headlessService: 'redis-cluster-svc',
  namespace: 'default',
  clusterDomain: 'cluster.local',
  port: 6379,
  zoneLabel: 'topology.kubernetes.io/zone',
  placementNodes: true,
  podWaitTimeoutSeconds: 600,
  convergeTimeoutSeconds: 120,
  replicaSyncTimeoutSeconds: 1800,
  slotsInFlight: 32,
  /** 0 = no cap. */
  maxKeysPerSecond: 0,
  migrationEngine: 'auto',
} as const;

/** Inclusive integer bounds. */
export interface Bounds {
  readonly min: number;
  readonly max: number;
}

/** Redis Cluster's documented upper bound on the number of nodes. */
export const MAX_PODS = 1000;

export const BOUNDS = {
  /** Redis Cluster needs 3 masters to fail over. */
  masters: { min: 3, max: MAX_PODS },
  replicasPerMaster: { min: 0, max: 5 },
  slotsInFlight: { min: 1, max: 1024 },
  maxKeysPerSecond: { min: 0, max: 1_000_000_000 },
  /** The cluster bus listens on port + 10000. */
  port: { min: 1, max: 55535 },
} as const satisfies Record<string, Bounds>;

/** The cluster shape a user declares. */
export interface DesiredShape {
  readonly masters: number;
  readonly replicasPerMaster: number;
}

/** Pods of the StatefulSet for a shape: every master with its replicas. */
export function desiredPodCount(shape: DesiredShape): number {
  return shape.masters * (1 + shape.replicasPerMaster);
}

/**
 * How slots move: `auto` lets the servers move them themselves where both ends can (atomic slot
 * migration, Valkey 9) and no key rate cap is set, else MIGRATE; `migrate` always uses MIGRATE.
 */
export const MIGRATION_ENGINES = ['auto', 'migrate'] as const;
export type MigrationEngineChoice = (typeof MIGRATION_ENGINES)[number];
