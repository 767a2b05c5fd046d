import { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';
import { commonLabels } from './labels';
import { certificateName } from './names';
import type { ResolvedProps } from './resolved-props';

export interface RedisCertificateProps {
  readonly cluster: ResolvedProps;
}

/**
 * The names every pod's certificate must carry: each pod by its DNS name under the headless Service (one
 * wildcard, so a grow needs no new certificate), and the client Service by each name a client in the cluster
 * may use for it. Validation requires the namespace, which these contain.
 */
export function certificateDnsNames(cluster: ResolvedProps): string[] {
  const namespace = cluster.namespace!;
  const client = cluster.clientServiceName;
  return [
    `*.${cluster.headlessServiceName}.${namespace}.svc.${cluster.clusterDomain}`,
    `*.${cluster.headlessServiceName}.${namespace}.svc`,
    `${client}.${namespace}.svc.${cluster.clusterDomain}`,
    `${client}.${namespace}.svc`,
    `${client}.${namespace}`,
    client,
  ];
}

/**
 * The pods' certificate, from cert-manager (cert-manager.io/v1 Certificate), written to the TLS Secret and
 * renewed before it expires; the pods load the renewed one without a restart (start.sh). One certificate for
 * every pod: it serves on the client port and the bus, and is each node's client certificate towards the
 * others, hence both server and client auth. A new private key at each renewal. Under Argo CD it is applied
 * a wave before the rest, so the pods find its Secret when they start; cdk8s has no types for it, and the
 * chart tests validate it against cert-manager's schema.
 */
export class RedisCertificate extends Construct {
  readonly certificate: ApiObject;

  constructor(scope: Construct, id: string, props: RedisCertificateProps) {
    super(scope, id);
    const cluster = props.cluster;
    const tls = cluster.tls!;
    const issuer = tls.issuer!;
    this.certificate = new ApiObject(this, 'Certificate', {
      apiVersion: 'cert-manager.io/v1',
      kind: 'Certificate',
      metadata: {
        name: certificateName(cluster),
        namespace: cluster.namespace,
        labels: commonLabels(cluster, 'server'),
        ...(cluster.gitops === 'argocd' ? { annotations: { 'argocd.argoproj.io/sync-wave': '-1' } } : {}),
      },
      spec: {
        secretName: tls.secretName,
        secretTemplate: { labels: commonLabels(cluster, 'server') },
        issuerRef: { name: issuer.name, kind: issuer.kind, group: issuer.group },
        dnsNames: certificateDnsNames(cluster),
        usages: ['server auth', 'client auth', 'digital signature'],
        privateKey: { algorithm: 'ECDSA', size: 256, rotationPolicy: 'Always' },
      },
    });
  }
}
