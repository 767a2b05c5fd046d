// TLS settings from the command line and environment (jobs/settings.ts hands over its lookup): TLS is on
// with a CA file; the files themselves are read when connecting (jobs/redis/tls.ts), as they may be rotated.
import { ENV } from './contract';
import { UsageError } from './errors';
import { ORDINAL_PLACEHOLDER, type TlsSettings } from './redis/tls';

/** A DNS name, once the ordinal is put in. */
const SERVER_NAME = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/i;

/** TLS is on with a CA; a client certificate needs its key; the files are read when connecting (they may be rotated meanwhile). */
export function parseTls(setting: (variable: string) => string | undefined): TlsSettings | undefined {
  const caFile = setting(ENV.tlsCaFile);
  const certFile = setting(ENV.tlsCertFile);
  const keyFile = setting(ENV.tlsKeyFile);
  const serverName = setting(ENV.tlsServerName);
  if (caFile === undefined) {
    const orphan =
      certFile !== undefined ? '--tls-cert-file' : keyFile !== undefined ? '--tls-key-file' : serverName !== undefined ? '--tls-server-name' : undefined;
    if (orphan) throw new UsageError(`${orphan} needs --tls-ca-file (${ENV.tlsCaFile}): TLS is on only with a CA to verify the pods against`);
    return undefined;
  }
  if (keyFile !== undefined && certFile === undefined) {
    throw new UsageError(`--tls-key-file (${ENV.tlsKeyFile}) needs --tls-cert-file (${ENV.tlsCertFile}): a key without its certificate is no use`);
  }
  if (serverName !== undefined && !SERVER_NAME.test(serverName.split(ORDINAL_PLACEHOLDER).join('0'))) {
    throw new UsageError(
      `--tls-server-name (${ENV.tlsServerName}) must be a DNS name, ${ORDINAL_PLACEHOLDER} standing for the pod's ordinal, got '${serverName}'`,
    );
  }
  // A certificate file without a key file holds the key too (one PEM with both).
  return { caFile, ...(certFile === undefined ? {} : { certFile, keyFile: keyFile ?? certFile }), ...(serverName === undefined ? {} : { serverName }) };
}
