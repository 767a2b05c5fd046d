// Certificates for the TLS tests, made with the openssl command line: a CA, certificates it signs for
// given DNS names and IPs (server and client auth, as the chart's Certificate asks cert-manager for),
// with chosen validity dates so that one can be expired, and a second CA that nobody trusts.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface IssuedCertificate {
  /** PEM text. */
  readonly certificate: string;
  readonly privateKey: string;
  /** Hex serial number, as node's X509Certificate and TLSSocket.getPeerCertificate() give it. */
  readonly serial: string;
  readonly certificateFile: string;
  readonly privateKeyFile: string;
}

export interface CertificateRequest {
  /** Subject common name, for people reading it. */
  readonly commonName: string;
  readonly dnsNames?: readonly string[];
  readonly ipAddresses?: readonly string[];
  /** @default - now minus one hour */
  readonly notBefore?: Date;
  /** @default - now plus one day */
  readonly notAfter?: Date;
}

function openssl(args: readonly string[], cwd: string): string {
  try {
    return execFileSync('openssl', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 });
  } catch (error) {
    const failure = error as { stderr?: string; message: string };
    throw new Error(`openssl ${args[0]} failed: ${failure.stderr ?? failure.message}`);
  }
}

/** openssl ca's date format. */
function opensslDate(date: Date): string {
  return `${date.toISOString().replace(/[-:T]/g, '').slice(0, 14)}Z`;
}

let counter = 0;

/** A CA of its own (EC P-256), with the openssl database its `issue` needs. */
export class CertificateAuthority {
  readonly dir: string;
  readonly certificateFile: string;
  readonly certificate: string;
  private readonly keyFile: string;

  constructor(
    readonly name: string,
    parentDir?: string,
  ) {
    this.dir = parentDir ? path.join(parentDir, `ca-${++counter}`) : mkdtempSync(path.join(tmpdir(), 'test-ca-'));
    mkdirSync(path.join(this.dir, 'issued'), { recursive: true });
    writeFileSync(path.join(this.dir, 'index.txt'), '');
    writeFileSync(path.join(this.dir, 'serial'), `${(1000 + counter).toString(16).padStart(4, '0')}\n`);
    writeFileSync(
      path.join(this.dir, 'ca.cnf'),
      [
        '[ ca ]',
        'default_ca = test_ca',
        '[ test_ca ]',
        'database = index.txt',
        'serial = serial',
        'new_certs_dir = issued',
        'default_md = sha256',
        'policy = any_name',
        'unique_subject = no',
        'copy_extensions = none',
        '[ any_name ]',
        'commonName = supplied',
        '',
      ].join('\n'),
    );
    this.keyFile = path.join(this.dir, 'ca.key');
    this.certificateFile = path.join(this.dir, 'ca.crt');
    openssl(
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-keyout',
        this.keyFile,
        '-out',
        this.certificateFile,
        '-days',
        '30',
        '-subj',
        `/CN=${name}`,
        '-addext',
        'basicConstraints=critical,CA:TRUE',
        '-addext',
        'keyUsage=critical,keyCertSign,cRLSign',
      ],
      this.dir,
    );
    this.certificate = readFileSync(this.certificateFile, 'utf8');
  }

  /** A certificate this CA signs, for server and client authentication, written next to the CA. */
  issue(request: CertificateRequest): IssuedCertificate {
    const id = `cert-${++counter}`;
    const privateKeyFile = path.join(this.dir, `${id}.key`);
    const requestFile = path.join(this.dir, `${id}.csr`);
    const certificateFile = path.join(this.dir, `${id}.crt`);
    const extensionsFile = path.join(this.dir, `${id}.ext`);
    const alternativeNames = [...(request.dnsNames ?? []).map((name) => `DNS:${name}`), ...(request.ipAddresses ?? []).map((ip) => `IP:${ip}`)];
    writeFileSync(
      extensionsFile,
      [
        '[ leaf ]',
        'basicConstraints = critical,CA:FALSE',
        'keyUsage = critical,digitalSignature',
        'extendedKeyUsage = serverAuth,clientAuth',
        ...(alternativeNames.length > 0 ? [`subjectAltName = ${alternativeNames.join(',')}`] : []),
        '',
      ].join('\n'),
    );
    openssl(
      [
        'req',
        '-new',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-keyout',
        privateKeyFile,
        '-out',
        requestFile,
        '-subj',
        `/CN=${request.commonName}`,
      ],
      this.dir,
    );
    const notBefore = request.notBefore ?? new Date(Date.now() - 3600_000);
    const notAfter = request.notAfter ?? new Date(Date.now() + 24 * 3600_000);
    openssl(
      [
        'ca',
        '-batch',
        '-config',
        'ca.cnf',
        '-cert',
        this.certificateFile,
        '-keyfile',
        this.keyFile,
        '-in',
        requestFile,
        '-out',
        certificateFile,
        '-extfile',
        extensionsFile,
        '-extensions',
        'leaf',
        '-startdate',
        opensslDate(notBefore),
        '-enddate',
        opensslDate(notAfter),
        '-notext',
      ],
      this.dir,
    );
    const serial = openssl(['x509', '-in', certificateFile, '-noout', '-serial'], this.dir)
      .trim()
      .replace(/^serial=/, '');
    return {
      certificate: readFileSync(certificateFile, 'utf8'),
      privateKey: readFileSync(privateKeyFile, 'utf8'),
      serial,
      certificateFile,
      privateKeyFile,
    };
  }

  /** Removes the CA's directory (only one it made itself in the temporary directory). */
  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** The Secret data of a kubernetes.io/tls Secret as cert-manager writes it: tls.crt, tls.key, ca.crt. */
export function tlsSecretData(issued: IssuedCertificate, ca: CertificateAuthority): Record<string, string> {
  return { 'tls.crt': issued.certificate, 'tls.key': issued.privateKey, 'ca.crt': ca.certificate };
}
