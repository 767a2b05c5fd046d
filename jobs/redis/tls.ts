// TLS to the pods: the options every connection gets, and TLS failures told in words an operator
// understands (which pod, and whether its certificate is untrusted, expired or for another name).
// The files are read for each new connection, not once, so a run that outlives a certificate
// rotation connects with what the Secret holds now.
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import { Refusal } from '../errors';
import type { Pod } from '../pod';

/** Stands for the pod's ordinal in a server name pattern. */
export const ORDINAL_PLACEHOLDER = '{ordinal}';

export interface TlsSettings {
  /** CA certificates (PEM) every pod's certificate must chain to; TLS is on when this is set. */
  readonly caFile: string;
  /** Client certificate (PEM) and its key, for pods that require one (`tls-auth-clients yes`). */
  readonly certFile?: string;
  readonly keyFile?: string;
  /**
   * The name each pod's certificate must carry, `{ordinal}` standing for the pod's ordinal.
   * @default - the pod's host as given with --pods or found by DNS (an IP is checked against the certificate's IP addresses)
   */
  readonly serverName?: string;
}

/** The name a pod's certificate is checked against, or undefined to check its IP. */
export function serverNameOf(pod: Pod, tls: TlsSettings): string | undefined {
  if (tls.serverName !== undefined) return tls.serverName.split(ORDINAL_PLACEHOLDER).join(String(pod.ordinal));
  return isIP(pod.host) ? undefined : pod.host;
}

function readPem(pod: Pod, file: string, what: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    throw new Refusal(
      `cannot read the TLS ${what} ${file} to connect to ${pod.name} (${(error as NodeJS.ErrnoException).code ?? String(error)})`,
      "in a Job: the pods' TLS Secret must exist and hold tls.crt, tls.key and ca.crt; by hand: check --tls-ca-file, --tls-cert-file and --tls-key-file",
    );
  }
}

/** ioredis' `tls` option for one pod: verify its certificate against the CA and for its name; present ours if we have one. */
export function tlsOptionsFor(pod: Pod, tls: TlsSettings): ConnectionOptions {
  const servername = serverNameOf(pod, tls);
  return {
    ca: readPem(pod, tls.caFile, 'CA file'),
    ...(tls.certFile === undefined ? {} : { cert: readPem(pod, tls.certFile, 'certificate file') }),
    ...(tls.keyFile === undefined ? {} : { key: readPem(pod, tls.keyFile, 'key file') }),
    // SNI takes names only; without one, node checks the certificate against the address dialled.
    ...(servername === undefined ? {} : { servername }),
    rejectUnauthorized: true,
  };
}

/** OpenSSL's verdicts on a server certificate that does not chain to the CA. */
const untrusted = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'INVALID_CA',
]);

/**
 * A TLS failure connecting to a pod, as a Refusal (waiting or retrying cannot fix a certificate),
 * or undefined when `error` is not one.
 */
export function tlsFailure(pod: Pod, error: unknown, tls: TlsSettings | undefined): Refusal | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  const reason = (error as Error | null)?.message ?? String(error);
  if (typeof code !== 'string') return undefined;
  const renew =
    "renew it in the pods' TLS Secret (cert-manager renews before expiry: kubectl describe certificate); the pods load a new one within seconds, no restart needed";
  if (code === 'CERT_HAS_EXPIRED') return new Refusal(`${pod.name}: its TLS certificate has expired (${reason})`, renew);
  if (code === 'CERT_NOT_YET_VALID') {
    return new Refusal(
      `${pod.name}: its TLS certificate is not valid yet (${reason})`,
      "check the pod's and this machine's clocks, or the certificate's dates",
    );
  }
  if (untrusted.has(code)) {
    return new Refusal(
      `${pod.name}: its TLS certificate could not be verified against the CA in ${tls?.caFile ?? '(no CA file)'}: ${reason} (${code})`,
      "the CA file must hold the CA that signed the pods' certificates (ca.crt of the pods' TLS Secret)",
    );
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return new Refusal(
      `${pod.name}: its TLS certificate is not for the name the program checked: ${reason}`,
      `the certificate must name every pod's DNS name (the chart's Certificate does); with --pods given as IPs, pass --tls-server-name with the pod names, e.g. 'redis-cluster-${ORDINAL_PLACEHOLDER}.redis-cluster-svc.default.svc.cluster.local'`,
    );
  }
  if (code === 'ERR_SSL_WRONG_VERSION_NUMBER' || code === 'ERR_SSL_PACKET_LENGTH_TOO_LONG') {
    return new Refusal(
      `${pod.name} does not speak TLS on port ${pod.port} (${reason})`,
      'TLS is on for the program (--tls-ca-file) but not for the pods, or the port is not their TLS port',
    );
  }
  if (/^ERR_SSL_.*ALERT/.test(code)) {
    // OpenSSL's own text ("ssl/tls alert certificate expired"), not its file and line.
    const alert = (error as { reason?: unknown }).reason;
    return new Refusal(
      `${pod.name} refused the program's TLS client certificate: ${typeof alert === 'string' ? alert : reason}`,
      tls?.certFile === undefined
        ? 'the pods require a client certificate (tls-auth-clients yes): pass --tls-cert-file and --tls-key-file'
        : 'give --tls-cert-file a certificate, valid now, that a CA the pods trust signed, for client authentication',
    );
  }
  return undefined;
}
