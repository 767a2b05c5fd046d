import { Construct } from 'constructs';
import { k8s } from 'cdk8s-plus-27';
import { ENV } from '../jobs/contract';
import { containerResources } from './container-resources';
import { topologyConfigMapAnnotations, topologyJobAnnotations } from './gitops-annotations';
import { ANNOTATIONS, contentHash } from './hashing';
import { commonLabels, topologyJobSelectorLabels } from './labels';
import { topologyJobName, topologyServiceAccountName, type TopologyPhase } from './names';
import { fieldRef, passwordEnv } from './pod-environment';
import { quantityValue } from './quantity';
import { REDIS_PORT, type ResolvedProps } from './resolved-props';
import { assignStage } from './stages';
import { RESTRICTED_CONTAINER_SECURITY_CONTEXT } from './security-context';
import { tlsEnv, tlsVolumeMounts, tlsVolumes } from './tls-mounts';

export const TOPOLOGY_MOUNT_PATH = '/opt/topology';
export const TOPOLOGY_BUNDLE_KEY = 'topology.cjs';
/** The `node` user of the official Node.js images. */
export const JOBS_UID = 1000;

export interface TopologyJobsProps {
  readonly cluster: ResolvedProps;
  /** The bundled topology program (jobs/bundle/topology.cjs). */
  readonly bundle: string;
}

/** Env of a topology Job: the desired shape and how to find the pods (docs/topology-program.md, "The contract between chart and program"). */
/**
 * Node sizes its heap by the machine, not the container: left alone, a run on 200 pods grew to
 * 770-920 MiB and the kernel would kill the Job at its 512 MiB limit. With the old generation held
 * to half the limit (the rest is the young generation, code and reply buffers) the same run
 * peaked at 350-420 MiB: the garbage is collected sooner, for about 1.5x the CPU.
 */
function nodeHeapFlags(cluster: ResolvedProps): string[] {
  const limit = cluster.jobResources.limits?.memory;
  if (limit === undefined) return [];
  return [`--max-old-space-size=${Math.max(64, Math.floor(quantityValue(limit) / 2 ** 20 / 2))}`];
}

export function topologyJobEnv(cluster: ResolvedProps): k8s.EnvVar[] {
  return [
    { name: ENV.masters, value: String(cluster.masters) },
    { name: ENV.replicasPerMaster, value: String(cluster.replicasPerMaster) },
    { name: ENV.statefulSetName, value: cluster.statefulSetName },
    { name: ENV.headlessService, value: cluster.headlessServiceName },
    fieldRef(ENV.namespace, 'metadata.namespace'),
    { name: ENV.clusterDomain, value: cluster.clusterDomain },
    { name: ENV.port, value: String(REDIS_PORT) },
    ...(cluster.migrationSlotsInFlight === undefined ? [] : [{ name: ENV.slotsInFlight, value: String(cluster.migrationSlotsInFlight) }]),
    ...(cluster.migrationMaxKeysPerSecond === undefined ? [] : [{ name: ENV.maxKeysPerSecond, value: String(cluster.migrationMaxKeysPerSecond) }]),
    { name: ENV.zoneLabel, value: cluster.spread.zoneLabel },
    { name: ENV.placementNodes, value: String(cluster.spread.byNode) },
    ...passwordEnv(cluster),
    // The Jobs present the pods' own certificate where the pods require one from every client.
    ...tlsEnv(cluster, { clientCertificate: cluster.tls?.requireClientCertificates === true }),
  ];
}

/**
 * The topology program in a ConfigMap, and the two Jobs that run it on a stock Node.js image:
 * `pre` before the StatefulSet changes (drain the pods that are going away), `post` after
 * (bootstrap, join, rebalance). Both are idempotent, so re-running them is always safe.
 */
export class TopologyJobs extends Construct {
  readonly bundleConfigMap: k8s.KubeConfigMap;
  readonly preJob: k8s.KubeJob;
  readonly postJob: k8s.KubeJob;

  constructor(scope: Construct, id: string, props: TopologyJobsProps) {
    super(scope, id);
    const cluster = props.cluster;
    this.bundleConfigMap = assignStage(
      new k8s.KubeConfigMap(this, 'Bundle', {
        metadata: {
          name: cluster.topologyConfigMapName,
          namespace: cluster.namespace,
          labels: commonLabels(cluster, 'topology-job'),
          annotations: topologyConfigMapAnnotations(cluster.gitops),
        },
        data: { [TOPOLOGY_BUNDLE_KEY]: props.bundle },
      }),
      'pre',
    );
    this.preJob = assignStage(this.job('pre', props), 'pre');
    this.postJob = assignStage(this.job('post', props), 'post');
  }

  private job(phase: TopologyPhase, props: TopologyJobsProps): k8s.KubeJob {
    const cluster = props.cluster;
    const env = topologyJobEnv(cluster);
    const desiredShape = `masters=${cluster.masters},replicasPerMaster=${cluster.replicasPerMaster}`;
    // Changes whenever what the Job would do changes, so Flux replaces (and so re-runs) the Job;
    // Argo CD re-creates hooks at every sync anyway.
    const runHash = contentHash(phase, desiredShape, cluster.jobsImage, JSON.stringify(env), props.bundle);
    const annotations = { [ANNOTATIONS.desiredShape]: desiredShape, [ANNOTATIONS.runHash]: runHash };
    return new k8s.KubeJob(this, phase === 'pre' ? 'PreJob' : 'PostJob', {
      metadata: {
        name: topologyJobName(cluster, phase),
        namespace: cluster.namespace,
        labels: { ...commonLabels(cluster, 'topology-job'), 'redis-cluster-gitops/phase': phase },
        annotations: { ...topologyJobAnnotations(cluster.gitops, phase), ...annotations },
      },
      spec: {
        backoffLimit: cluster.jobBackoffLimit,
        activeDeadlineSeconds: cluster.jobActiveDeadlineSeconds,
        template: {
          metadata: {
            labels: {
              ...cluster.podLabels,
              ...commonLabels(cluster, 'topology-job'),
              ...topologyJobSelectorLabels(cluster),
              'redis-cluster-gitops/phase': phase,
            },
            annotations,
          },
          spec: {
            restartPolicy: 'Never',
            // The token lets the program read where the pods run (TopologyAccess); without, it needs none.
            ...(cluster.spread.readPlacement
              ? { serviceAccountName: topologyServiceAccountName(cluster), automountServiceAccountToken: true }
              : { automountServiceAccountToken: false }),
            enableServiceLinks: false,
            securityContext: {
              runAsNonRoot: true,
              runAsUser: JOBS_UID,
              runAsGroup: JOBS_UID,
              // Owns the mounted TLS Secret's files (mode 0440), so the Job's user reads them.
              ...(cluster.tls === undefined ? {} : { fsGroup: JOBS_UID }),
              seccompProfile: { type: 'RuntimeDefault' },
            },
            containers: [
              {
                name: 'topology',
                image: cluster.jobsImage,
                command: ['node', ...nodeHeapFlags(cluster), `${TOPOLOGY_MOUNT_PATH}/${TOPOLOGY_BUNDLE_KEY}`],
                args: ['--phase', phase],
                env,
                resources: containerResources(cluster.jobResources),
                securityContext: RESTRICTED_CONTAINER_SECURITY_CONTEXT,
                volumeMounts: [
                  { name: 'topology', mountPath: TOPOLOGY_MOUNT_PATH, readOnly: true },
                  { name: 'tmp', mountPath: '/tmp' },
                  ...tlsVolumeMounts(cluster),
                ],
              },
            ],
            volumes: [
              { name: 'topology', configMap: { name: cluster.topologyConfigMapName, defaultMode: 0o444 } },
              { name: 'tmp', emptyDir: { sizeLimit: k8s.Quantity.fromString('64Mi') } },
              ...tlsVolumes(cluster, { clientCertificate: cluster.tls?.requireClientCertificates === true, optional: true }),
            ],
          },
        },
      },
    });
  }
}
