/** Where the password comes from: a key of a Kubernetes Secret that the user owns. */
export interface SecretKeyReference {
  /** Secret name (DNS-1123 subdomain), in the cluster's namespace. */
  readonly name: string;
  /** Key inside the Secret whose value is the password. */
  readonly key: string;
}

/** CPU and memory for a container, as Kubernetes quantities ("500m", "2Gi"). */
export interface ResourceSettings {
  readonly requests?: { readonly cpu?: string; readonly memory?: string };
  readonly limits?: { readonly cpu?: string; readonly memory?: string };
}

/** The server the pods run: Redis, or its fork Valkey. */
export type ServerKind = 'redis' | 'valkey';

/** Which GitOps tool applies dist/, and so how the Jobs are ordered around the StatefulSet. */
export type GitOpsTool = 'argocd' | 'flux';

/** Settings for the generated Flux Kustomizations (only with `gitops: 'flux'`). */
export interface FluxSettings {
  /**
   * The Flux source (GitRepository) that holds dist/.
   * @default { kind: 'GitRepository', name: 'flux-system', namespace: 'flux-system' }
   */
  readonly sourceRef?: { readonly kind?: 'GitRepository' | 'OCIRepository' | 'Bucket'; readonly name: string; readonly namespace?: string };
  /**
   * Path of dist/ inside that source, starting with "./".
   * @default './dist'
   */
  readonly path?: string;
  /**
   * Namespace of the generated Kustomization objects.
   * @default 'flux-system'
   */
  readonly namespace?: string;
  /**
   * How often Flux reconciles each Kustomization (Go duration).
   * @default '10m'
   */
  readonly interval?: string;
}

/** Who may reach the Redis ports when a NetworkPolicy is generated. */
export interface NetworkPolicySettings {
  /**
   * Label selector of the client pods (same namespace) allowed on the client port.
   * @default - every pod in the namespace may connect to the client port
   */
  readonly clientPodLabels?: Record<string, string>;
  /**
   * With `monitoring`: labels of the namespaces whose pods may scrape the metrics port (9121), for
   * example `{ 'kubernetes.io/metadata.name': 'monitoring' }`.
   * @default - pods of any namespace may scrape it (narrowed by `metricsScraperPodLabels` if set)
   */
  readonly metricsScraperNamespaceLabels?: Record<string, string>;
  /**
   * With `monitoring`: labels of the pods that may scrape the metrics port, for example
   * `{ 'app.kubernetes.io/name': 'prometheus' }`.
   * @default - any pod (of the namespaces `metricsScraperNamespaceLabels` selects)
   */
  readonly metricsScraperPodLabels?: Record<string, string>;
}

/** A ServiceMonitor (Prometheus Operator) that scrapes every pod's exporter through the metrics Service. */
export interface ServiceMonitorSettings {
  /**
   * Extra labels on the ServiceMonitor, so that your Prometheus' `serviceMonitorSelector` picks it up
   * (kube-prometheus-stack selects `release: <its Helm release>` by default).
   * @default - only the chart's own labels
   */
  readonly labels?: Record<string, string>;
  /**
   * How often Prometheus scrapes each pod (Prometheus duration).
   * @default '30s'
   */
  readonly interval?: string;
  /**
   * How long one scrape may take (Prometheus duration, at most `interval`).
   * @default '10s'
   */
  readonly scrapeTimeout?: string;
}

/** A PrometheusRule (Prometheus Operator) with the alerts of docs/operations.md, "Alerts". */
export interface PrometheusRuleSettings {
  /**
   * Extra labels on the PrometheusRule, so that your Prometheus' `ruleSelector` picks it up
   * (kube-prometheus-stack selects `release: <its Helm release>` by default).
   * @default - only the chart's own labels
   */
  readonly labels?: Record<string, string>;
  /**
   * Where your team reads docs/operations.md (for example its web address in your Git host); each
   * alert's `runbook_url` annotation is this plus `#` and the alert's section.
   * @default 'docs/operations.md' (the path in this repository)
   */
  readonly runbookUrl?: string;
  /**
   * RedisMemoryNearMaxmemory fires when a node's used memory stays above this share of its `maxmemory`.
   * More than 0 and less than 1.
   * @default 0.9
   */
  readonly memoryWarningRatio?: number;
}

/** Metrics: a redis_exporter sidecar in every Redis pod, and optionally a ServiceMonitor and alerts. */
export interface MonitoringSettings {
  /**
   * Image of the redis_exporter sidecar (oliver006/redis_exporter or a mirror of it), pinned.
   * @default 'oliver006/redis_exporter:v1.91.1'
   */
  readonly exporterImage?: string;
  /**
   * Requests and limits of the exporter sidecar.
   * @default - requests cpu 10m, memory 32Mi; limits memory 64Mi
   */
  readonly exporterResources?: ResourceSettings;
  /**
   * Create a ServiceMonitor (needs the Prometheus Operator's CRDs in the cluster).
   * @default - no ServiceMonitor: scrape the `<statefulSetName>-metrics` Service your own way
   */
  readonly serviceMonitor?: ServiceMonitorSettings;
  /**
   * Create a PrometheusRule with the cluster's alerts (needs the Prometheus Operator's CRDs; the
   * topology Job alert also needs kube-state-metrics).
   * @default - no PrometheusRule
   */
  readonly prometheusRule?: PrometheusRuleSettings;
}

/** A cert-manager issuer (Issuer or ClusterIssuer) that signs the pods' certificate. */
export interface CertificateIssuerReference {
  /** Name of the Issuer or ClusterIssuer. */
  readonly name: string;
  /**
   * Its kind: `Issuer` (in the cluster's namespace), `ClusterIssuer`, or an external issuer's kind.
   * @default 'Issuer'
   */
  readonly kind?: string;
  /**
   * Its API group (an external issuer's own group, e.g. `awspca.cert-manager.io`).
   * @default 'cert-manager.io'
   */
  readonly group?: string;
}

/**
 * TLS on the client port, the cluster bus and replication, with certificates from a Secret holding
 * `tls.crt`, `tls.key` and `ca.crt` (docs/operations.md, "TLS"). The pods, their probes, the preStop
 * hook, the exporter and the topology Jobs all verify the pods' certificates against `ca.crt`. A new
 * certificate in the Secret is loaded by the running pods within seconds, without a restart.
 */
export interface TlsSettings {
  /**
   * The Secret (same namespace) with `tls.crt`, `tls.key` and `ca.crt` that the pods and the Jobs mount.
   * With `issuer` the chart's Certificate writes it; without, you create it before the first sync. The
   * certificate must be valid for every pod's DNS name (`*.<headlessServiceName>.<namespace>.svc.<clusterDomain>`)
   * and, with `requireClientCertificates`, for client authentication too.
   * @default - `<statefulSetName>-tls` with `issuer`; required without it
   */
  readonly secretName?: string;
  /**
   * A cert-manager issuer: the chart then emits a Certificate `<statefulSetName>-tls` for every pod's DNS name and
   * the client Service's names, which cert-manager writes to `secretName` and renews before it expires. Needs
   * `namespace` (the names contain it) and an issuer that fills in `ca.crt` (a CA or self-signed issuer, Vault, ...).
   * @default - no Certificate: `secretName` names a Secret you provide
   */
  readonly issuer?: CertificateIssuerReference;
  /**
   * Whether every client must present a certificate the CA signed (`tls-auth-clients yes`), besides the
   * password. This makes the cluster bus and replication mutually authenticated (the bus has no password);
   * your applications then need a client certificate too. With false (`tls-auth-clients no`) only the
   * servers prove who they are, and the bus is encrypted but open to anyone who reaches it (use `networkPolicy`).
   * @default true
   */
  readonly requireClientCertificates?: boolean;
  /**
   * Also serve plaintext clients on this port, for applications still moving to TLS (the cluster bus and
   * replication stay TLS; a plaintext client is redirected to other nodes' plaintext port). 1 to 65535,
   * not the client (6379), bus (16379) or metrics (9121) port.
   * @default - none: no plaintext port (`port 0`)
   */
  readonly plaintextPort?: number;
}

/**
 * The pods, and each shard's members, spread over failure domains: zones, and nodes where a node is
 * one (docs/operations.md, "Zones and nodes").
 */
export interface SpreadSettings {
  /**
   * The node label that names a node's zone: the StatefulSet's zone spread uses it, and the topology
   * Jobs read it from each pod's node. A label key.
   * @default 'topology.kubernetes.io/zone'
   */
  readonly zoneLabel?: string;
  /**
   * Whether a Kubernetes node is a failure domain. False where pods run on virtual nodes (ACK Serverless /
   * ECI, virtual-kubelet), one of which stands for a whole zone: then only zones count, and the StatefulSet
   * has no per-node spread and no per-node anti-affinity.
   * @default true
   */
  readonly byNode?: boolean;
  /**
   * What the scheduler does with a pod when no zone keeps the pods' zones within one of each other:
   * `ScheduleAnyway` places it where the skew grows least (a pod never waits for a zone), `DoNotSchedule`
   * leaves it pending. A pod whose volume is bound to a zone can only go back there, so `DoNotSchedule` can
   * keep a restarted pod pending until another pod moves. The topology Jobs spread each shard's members
   * over the zones the pods got either way. The per-node spread is always `ScheduleAnyway`.
   * @default 'ScheduleAnyway'
   */
  readonly zoneWhenUnsatisfiable?: 'ScheduleAnyway' | 'DoNotSchedule';
  /**
   * Let the topology Jobs read where the pods run: a ServiceAccount `<statefulSetName>-topology`, a Role to
   * list pods in the namespace and, when the namespace is known (`namespace` set, or Flux), a ClusterRole
   * to get nodes, for their zone label. False: no ServiceAccount or RBAC objects, the Jobs mount no
   * token, and the program places shards without knowing where pods run.
   * @default true
   */
  readonly readPlacement?: boolean;
}

export interface RedisClusterChartProps {
  /**
   * Number of masters, i.e. how many parts the 16384 hash slots are split into: 3 to 1000, and
   * at most 1000 pods in all (the bounds the chart and the program share, jobs/contract.ts).
   * @default 3
   */
  readonly masters?: number;
  /**
   * Replicas per master, 0 to 5; the StatefulSet runs `masters * (1 + replicasPerMaster)` pods.
   * @default 1
   */
  readonly replicasPerMaster?: number;
  /**
   * Image for the pods: Redis >= 7.0 or Valkey >= 8, Debian based (the start script uses `sh`, `getent`,
   * and the server's own binaries, see `server`). Pin a minor version that still gets fixes (docs/operations.md,
   * "The Redis image" and "Valkey").
   * @default 'redis:8.2'; 'valkey/valkey:9.1' with `server: 'valkey'`
   */
  readonly image?: string;
  /**
   * Which server `image` holds, and so which binaries the pods run (start script, probes, preStop):
   * `redis-server` and `redis-cli`, or `valkey-server` and `valkey-cli`. Unset, the image's repository name
   * decides (its last path segment without registry, tag or digest): `valkey` or `valkey-...` is Valkey, any other
   * Redis. A server that contradicts an image named `redis...` or `valkey...` is refused.
   * @default - 'valkey' for an image named valkey, else 'redis'
   */
  readonly server?: ServerKind;
  /**
   * Image the topology Jobs run on: a stock Node.js image, 24 (LTS) or newer; the program itself comes from a ConfigMap.
   * @default 'node:24.22-alpine'
   */
  readonly jobsImage?: string;
  /**
   * Name of the StatefulSet; pods are `<name>-0`, `<name>-1`, ... (at most 52 characters).
   * @default 'redis-cluster'
   */
  readonly statefulSetName?: string;
  /**
   * Name of the headless Service that gives every pod its DNS name.
   * @default 'redis-cluster-svc'
   */
  readonly headlessServiceName?: string;
  /**
   * Name of the ClusterIP Service clients use to reach any node.
   * @default - `<statefulSetName>-client`
   */
  readonly clientServiceName?: string;
  /**
   * Name of the ConfigMap holding redis.conf and the start script.
   * @default 'redis-cluster'
   */
  readonly configMapName?: string;
  /**
   * Name of the volume claim template; PVCs are `<name>-<pod name>`.
   * @default 'pvc-essd-redis-data'
   */
  readonly volumeClaimTemplateName?: string;
  /**
   * Namespace for every object.
   * @default - no namespace in the manifests: the GitOps tool's destination namespace applies
   *   (with Flux, the Kustomizations' targetNamespace is `default`)
   */
  readonly namespace?: string;
  /**
   * The cluster's DNS domain, used for the pods' DNS names.
   * @default 'cluster.local'
   */
  readonly clusterDomain?: string;
  /**
   * Storage class of each pod's volume.
   * @default - the cluster's default storage class
   */
  readonly storageClassName?: string;
  /**
   * Size of each pod's volume (Kubernetes quantity).
   * @default '20Gi'
   */
  readonly storageSize?: string;
  /**
   * Requests and limits of the Redis container.
   * @default - requests cpu 500m, memory 1Gi; limits memory 1Gi
   */
  readonly resources?: ResourceSettings;
  /**
   * Requests and limits of the topology Jobs' container. With a memory limit, Node's old generation is held to
   * half of it (`--max-old-space-size`): 512Mi covered a run on 200 pods (peak 350-420 MiB); raise it for more.
   * @default - requests cpu 100m, memory 128Mi; limits memory 512Mi
   */
  readonly jobResources?: ResourceSettings;
  /**
   * Secret key holding the Redis password; pods and Jobs read it as `REDIS_PASSWORD` through a
   * secretKeyRef, so the value never appears in the manifests. Required unless `allowUnauthenticated`.
   * @default - none: synth refuses, unless `allowUnauthenticated: true`
   */
  readonly passwordSecret?: SecretKeyReference;
  /**
   * Run without a password (no requirepass): any pod that can reach port 6379 can read and write
   * every key. Only for throw-away clusters, ideally with `networkPolicy` (docs/operations.md, "No open
   * cluster by accident").
   * @default false
   */
  readonly allowUnauthenticated?: boolean;
  /**
   * Extra labels on the Redis and Job pods (for example the ECI preset `alibabacloud.com/eci: "true"`).
   * @default - none
   */
  readonly podLabels?: Record<string, string>;
  /**
   * Redis `maxmemory`, as a Kubernetes quantity ("768Mi") written to redis.conf in bytes.
   * @default - 75% of the memory limit when there is one (leaves room for fork and buffers), else unlimited
   */
  readonly maxmemory?: string;
  /**
   * Redis `maxmemory-policy`.
   * @default 'noeviction'
   */
  readonly maxmemoryPolicy?:
    'noeviction' | 'allkeys-lru' | 'allkeys-lfu' | 'allkeys-random' | 'volatile-lru' | 'volatile-lfu' | 'volatile-random' | 'volatile-ttl';
  /**
   * GitOps tool that applies dist/: decides the hook annotations (Argo CD) or the pre/main/post split (Flux).
   * @default 'argocd'
   */
  readonly gitops?: GitOpsTool;
  /**
   * Flux specifics (only with `gitops: 'flux'`).
   * @default - see FluxSettings
   */
  readonly flux?: FluxSettings;
  /**
   * How long one topology Job may run (seconds); a long reshard of a big data set needs hours.
   * @default 21600 (6 hours)
   */
  readonly jobActiveDeadlineSeconds?: number;
  /**
   * Retries of a failed topology Job pod (the program resumes where the last try stopped).
   * @default 3
   */
  readonly jobBackoffLimit?: number;
  /**
   * Seconds a Redis pod gets to shut down (flush the AOF) before it is killed.
   * @default 60
   */
  readonly terminationGracePeriodSeconds?: number;
  /**
   * How many slots the topology Jobs migrate at once per source/target pair: the rate setting.
   * Higher moves keys faster and raises client latency during a reshard; lower is gentler
   * (docs/performance.md, Rate settings). 1 to 1024.
   * @default - the program's default (32)
   */
  readonly migrationSlotsInFlight?: number;
  /**
   * A cap on keys the topology Jobs migrate per second, all source/target pairs together: the
   * gentle rate setting. On a busy node a cap keeps client latency near its usual level during a
   * reshard, where fewer slots in flight alone does not (docs/performance.md, Rate settings). 0 means no cap.
   * @default - no cap
   */
  readonly migrationMaxKeysPerSecond?: number;
  /**
   * A NetworkPolicy letting clients reach port 6379 and only Redis pods and the Jobs reach the bus port.
   * @default - no NetworkPolicy is created
   */
  readonly networkPolicy?: NetworkPolicySettings;
  /**
   * Metrics and alerts: a redis_exporter sidecar per pod behind the `<statefulSetName>-metrics`
   * Service (port 9121, named `metrics`), plus a ServiceMonitor and a PrometheusRule when asked
   * (docs/operations.md, "Metrics and alerts").
   * @default - no exporter, no metrics Service
   */
  readonly monitoring?: MonitoringSettings;
  /**
   * TLS on the client port (6379), the cluster bus and replication, with a certificate from a Secret you
   * name or from a cert-manager Certificate the chart emits (docs/operations.md, "TLS").
   * @default - no TLS: plaintext on port 6379
   */
  readonly tls?: TlsSettings;
  /**
   * Spreading over zones and nodes: the StatefulSet's topology spread, and where the topology Jobs learn
   * where the pods run, so that no two members of a shard share a zone (or node) when the pods allow it.
   * @default - zones by `topology.kubernetes.io/zone` and nodes, the Jobs read pods and nodes
   */
  readonly spread?: SpreadSettings;
}
