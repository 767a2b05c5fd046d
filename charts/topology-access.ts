import type { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';
import { k8s } from 'cdk8s-plus-27';
import { topologyAccessAnnotations } from './gitops-annotations';
import { commonLabels } from './labels';
import { knownNamespace, nodeReaderName, topologyServiceAccountName } from './names';
import type { ResolvedProps } from './resolved-props';
import { assignStage } from './stages';

export interface TopologyAccessProps {
  readonly cluster: ResolvedProps;
}

const RBAC_GROUP = 'rbac.authorization.k8s.io';

/**
 * What the topology Jobs may read of the Kubernetes API, to learn where the pods run: a ServiceAccount;
 * a Role to get and list the namespace's pods (their node); and, where the namespace is known, a
 * ClusterRole to get nodes (their zone label), since nodes are not namespaced. Nothing else, and no
 * write. A ClusterRoleBinding must name the ServiceAccount's namespace, so without one known (Argo CD
 * and no `namespace` prop) there is none, and the program spreads shards over nodes only.
 * The pre Job needs them from its first run, so they go with it (stage `pre`, an Argo CD PreSync hook).
 */
export class TopologyAccess extends Construct {
  readonly serviceAccount: k8s.KubeServiceAccount;
  readonly role: k8s.KubeRole;
  readonly roleBinding: k8s.KubeRoleBinding;
  readonly clusterRole?: k8s.KubeClusterRole;
  readonly clusterRoleBinding?: k8s.KubeClusterRoleBinding;

  constructor(scope: Construct, id: string, props: TopologyAccessProps) {
    super(scope, id);
    const cluster = props.cluster;
    const name = topologyServiceAccountName(cluster);
    const metadata = { namespace: cluster.namespace, labels: commonLabels(cluster, 'topology-job'), annotations: topologyAccessAnnotations(cluster.gitops) };
    const stage = <T extends ApiObject>(object: T) => assignStage(object, 'pre');
    // Only pods that ask for the token get it (the Jobs do).
    this.serviceAccount = stage(new k8s.KubeServiceAccount(this, 'ServiceAccount', { metadata: { ...metadata, name }, automountServiceAccountToken: false }));
    this.role = stage(
      new k8s.KubeRole(this, 'Role', {
        metadata: { ...metadata, name },
        rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list'] }],
      }),
    );
    // A RoleBinding's subject without a namespace is the binding's own namespace, wherever it lands.
    this.roleBinding = stage(
      new k8s.KubeRoleBinding(this, 'RoleBinding', {
        metadata: { ...metadata, name },
        roleRef: { apiGroup: RBAC_GROUP, kind: 'Role', name },
        subjects: [{ kind: 'ServiceAccount', name, ...(cluster.namespace === undefined ? {} : { namespace: cluster.namespace }) }],
      }),
    );
    const namespace = knownNamespace(cluster);
    if (namespace === undefined) return;
    const clusterMetadata = { name: nodeReaderName(cluster, namespace), labels: metadata.labels, annotations: metadata.annotations };
    this.clusterRole = stage(
      new k8s.KubeClusterRole(this, 'NodeReader', { metadata: clusterMetadata, rules: [{ apiGroups: [''], resources: ['nodes'], verbs: ['get'] }] }),
    );
    this.clusterRoleBinding = stage(
      new k8s.KubeClusterRoleBinding(this, 'NodeReaderBinding', {
        metadata: clusterMetadata,
        roleRef: { apiGroup: RBAC_GROUP, kind: 'ClusterRole', name: clusterMetadata.name },
        subjects: [{ kind: 'ServiceAccount', name, namespace }],
      }),
    );
  }
}
