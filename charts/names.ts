// Every object name the chart derives from the props, in one place: the constructs take their names from
// here and validation checks the same names against Kubernetes' limits, so the two cannot drift apart.
import { desiredPodCount } from '../jobs/contract';
import type { ResolvedProps } from './resolved-props';

export type TopologyPhase = 'pre' | 'post';
export type FluxStage = 'pre' | 'main' | 'post';

export function topologyJobName(cluster: ResolvedProps, phase: TopologyPhase): string {
  return `${cluster.statefulSetName}-topology-${phase}`;
}

export function fluxKustomizationName(cluster: ResolvedProps, stage: FluxStage): string {
  return `${cluster.statefulSetName}-${stage}`;
}

/** The topology Jobs' ServiceAccount, and the Role and RoleBinding that let it list the pods. */
export function topologyServiceAccountName(cluster: ResolvedProps): string {
  return `${cluster.statefulSetName}-topology`;
}

/**
 * The namespace the objects land in when the chart knows it: the `namespace` prop, or under Flux the
 * Kustomizations' targetNamespace. Under Argo CD without the prop it is the Application's destination,
 * unknown here.
 */
export function knownNamespace(cluster: ResolvedProps): string | undefined {
  return cluster.namespace ?? (cluster.gitops === 'flux' ? 'default' : undefined);
}

/** The ClusterRole (and its binding) that lets the topology Jobs get nodes: names are cluster-wide, so it carries the namespace. */
export function nodeReaderName(cluster: ResolvedProps, namespace: string): string {
  return `${namespace}-${cluster.statefulSetName}-topology-nodes`;
}

export function metricsServiceName(cluster: ResolvedProps): string {
  return `${cluster.statefulSetName}-metrics`;
}

/** The cert-manager Certificate the chart emits with `tls.issuer`. */
export function certificateName(cluster: ResolvedProps): string {
  return `${cluster.statefulSetName}-tls`;
}

export function podName(cluster: ResolvedProps, ordinal: number): string {
  return `${cluster.statefulSetName}-${ordinal}`;
}

/** The PersistentVolumeClaim the StatefulSet makes for a pod: `<claim template>-<pod>`. */
export function claimName(cluster: ResolvedProps, ordinal: number): string {
  return `${cluster.volumeClaimTemplateName}-${podName(cluster, ordinal)}`;
}

/** The pod's DNS name, announced as cluster-announce-hostname. */
export function podHostname(cluster: ResolvedProps, ordinal: number, namespace: string): string {
  return `${podName(cluster, ordinal)}.${cluster.headlessServiceName}.${namespace}.svc.${cluster.clusterDomain}`;
}

/** Which rule of Kubernetes a derived name must follow. */
export type NameRule = 'dns-label' | 'dns-1035-label' | 'dns-subdomain' | 'dns-name';

export interface DerivedName {
  /** What the name is, for the message: `Job`, `pod`, `PersistentVolumeClaim`... */
  readonly what: string;
  readonly name: string;
  /** The prop the name is built from, the one to shorten. */
  readonly prop: keyof ResolvedProps;
  readonly maxLength: number;
  readonly rule: NameRule;
  /** Why this limit, when it is not the plain rule's. */
  readonly why?: string;
}

/**
 * A namespace no longer than Kubernetes allows, for names that include it when the manifests leave it
 * to the GitOps tool: the pod DNS names must fit whatever namespace they land in, so the check assumes
 * the longest one.
 */
const LONGEST_NAMESPACE = 'n'.repeat(63);

/** Every name the chart would create or make Kubernetes create, with the limit it must keep. */
export function derivedNames(cluster: ResolvedProps): DerivedName[] {
  const lastOrdinal = desiredPodCount(cluster) - 1;
  const jobLabel = "Kubernetes puts a Job's name into its pods' job-name label, whose values are at most 63 characters";
  const fluxLabel = 'Flux labels what a Kustomization applies with its name (kustomize.toolkit.fluxcd.io/name), and label values are at most 63 characters';
  const names: DerivedName[] = [
    {
      what: 'StatefulSet',
      name: cluster.statefulSetName,
      prop: 'statefulSetName',
      maxLength: 52,
      rule: 'dns-label',
      why: "Kubernetes adds a 11-character hash to it in the pods' controller-revision-hash label (at most 63)",
    },
    {
      what: 'pod',
      name: podName(cluster, lastOrdinal),
      prop: 'statefulSetName',
      maxLength: 63,
      rule: 'dns-label',
      why: 'a pod of a StatefulSet is its hostname',
    },
    { what: 'Service', name: cluster.headlessServiceName, prop: 'headlessServiceName', maxLength: 63, rule: 'dns-1035-label' },
    { what: 'Service', name: cluster.clientServiceName, prop: 'clientServiceName', maxLength: 63, rule: 'dns-1035-label' },
    { what: 'ConfigMap', name: cluster.configMapName, prop: 'configMapName', maxLength: 253, rule: 'dns-subdomain' },
    { what: 'ConfigMap', name: cluster.topologyConfigMapName, prop: 'statefulSetName', maxLength: 253, rule: 'dns-subdomain' },
    { what: 'Job', name: topologyJobName(cluster, 'pre'), prop: 'statefulSetName', maxLength: 63, rule: 'dns-label', why: jobLabel },
    { what: 'Job', name: topologyJobName(cluster, 'post'), prop: 'statefulSetName', maxLength: 63, rule: 'dns-label', why: jobLabel },
    { what: 'PodDisruptionBudget', name: cluster.statefulSetName, prop: 'statefulSetName', maxLength: 253, rule: 'dns-subdomain' },
    { what: 'PersistentVolumeClaim', name: claimName(cluster, lastOrdinal), prop: 'volumeClaimTemplateName', maxLength: 253, rule: 'dns-subdomain' },
    {
      what: 'pod DNS name',
      name: podHostname(cluster, lastOrdinal, cluster.namespace ?? LONGEST_NAMESPACE),
      // The other parts are capped by their own rules (52 + 63 + 63 characters); the domain is what can make it too long.
      prop: 'clusterDomain',
      maxLength: 253,
      rule: 'dns-name',
      why: `a DNS name is at most 253 characters${cluster.namespace === undefined ? ' (counting the longest namespace, 63 characters, as no namespace is set)' : ''}`,
    },
  ];
  if (cluster.spread.readPlacement) {
    names.push({ what: 'ServiceAccount', name: topologyServiceAccountName(cluster), prop: 'statefulSetName', maxLength: 253, rule: 'dns-subdomain' });
    const namespace = knownNamespace(cluster);
    if (namespace !== undefined) {
      names.push({ what: 'ClusterRole', name: nodeReaderName(cluster, namespace), prop: 'statefulSetName', maxLength: 253, rule: 'dns-subdomain' });
    }
  }
  if (cluster.networkPolicy !== undefined) {
    names.push({ what: 'NetworkPolicy', name: cluster.statefulSetName, prop: 'statefulSetName', maxLength: 253, rule: 'dns-subdomain' });
  }
  if (cluster.monitoring !== undefined) {
    names.push({ what: 'Service', name: metricsServiceName(cluster), prop: 'statefulSetName', maxLength: 63, rule: 'dns-1035-label' });
    if (cluster.monitoring.serviceMonitor !== undefined) {
      names.push({ what: 'ServiceMonitor', name: cluster.statefulSetName, prop: 'statefulSetName', maxLength: 253, rule: 'dns-subdomain' });
    }
    if (cluster.monitoring.prometheusRule !== undefined) {
      names.push({ what: 'PrometheusRule', name: cluster.statefulSetName, prop: 'statefulSetName', maxLength: 253, rule: 'dns-subdomain' });
    }
  }
  if (cluster.tls?.issuer !== undefined) {
    names.push({ what: 'Certificate', name: certificateName(cluster), prop: 'statefulSetName', maxLength: 253, rule: 'dns-subdomain' });
  }
  if (cluster.gitops === 'flux') {
    for (const stage of ['pre', 'main', 'post'] as const) {
      names.push({
        what: 'Flux Kustomization',
        name: fluxKustomizationName(cluster, stage),
        prop: 'statefulSetName',
        maxLength: 63,
        rule: 'dns-label',
        why: fluxLabel,
      });
    }
  }
  return names;
}
