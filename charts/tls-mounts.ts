// How a container gets the TLS Secret: one volume, mounted read-only at the same path in the Redis pods and
// the Jobs, and the contract's TLS_* variables naming its files (start.sh, the probes, pre-stop.sh and the
// topology program read the same names).
import type { k8s } from 'cdk8s-plus-27';
import { ENV } from '../jobs/contract';
import { TLS_FILES, TLS_MOUNT_PATH } from './redis-config';
import type { ResolvedProps } from './resolved-props';

const TLS_VOLUME = 'tls';

/**
 * TLS_CA_FILE, and with `clientCertificate` TLS_CERT_FILE / TLS_KEY_FILE; nothing without TLS.
 */
export function tlsEnv(cluster: ResolvedProps, { clientCertificate }: { clientCertificate: boolean }): k8s.EnvVar[] {
  if (cluster.tls === undefined) return [];
  return [
    { name: ENV.tlsCaFile, value: TLS_FILES.ca.path },
    ...(clientCertificate
      ? [
          { name: ENV.tlsCertFile, value: TLS_FILES.certificate.path },
          { name: ENV.tlsKeyFile, value: TLS_FILES.privateKey.path },
        ]
      : []),
  ];
}

export function tlsVolumeMounts(cluster: ResolvedProps): k8s.VolumeMount[] {
  return cluster.tls === undefined ? [] : [{ name: TLS_VOLUME, mountPath: TLS_MOUNT_PATH, readOnly: true }];
}

/**
 * The Secret as a volume (not subPath mounts, which the kubelet never updates: a renewed certificate must
 * reach the running pods). `items` keeps out what the container does not need (a Job that presents no
 * client certificate gets no private key). `optional` lets a Job start before the Secret exists: on the
 * first sync with a Certificate, the pre Job runs before cert-manager has written it, and finds no pod anyway.
 */
export function tlsVolumes(cluster: ResolvedProps, { clientCertificate, optional }: { clientCertificate: boolean; optional: boolean }): k8s.Volume[] {
  if (cluster.tls === undefined) return [];
  const files = clientCertificate ? [TLS_FILES.certificate, TLS_FILES.privateKey, TLS_FILES.ca] : [TLS_FILES.ca];
  return [
    {
      name: TLS_VOLUME,
      secret: {
        secretName: cluster.tls.secretName,
        items: files.map((file) => ({ key: file.key, path: file.key })),
        // Group-readable: the pod's fsGroup owns it, and only the pod's own user runs there.
        defaultMode: 0o440,
        ...(optional ? { optional: true } : {}),
      },
    },
  ];
}
