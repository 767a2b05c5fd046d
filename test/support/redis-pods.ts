// Real redis-server processes standing in for StatefulSet pods on one host. Each pod gets
// its own loopback address (127.A.B.ordinal+1; Linux routes all of 127/8 to lo), binds
// to it, and announces it, so the cluster sees one IP per pod as it would in Kubernetes.
// The server is Redis 7.0 unless the `server` option or TEST_SERVER picks another (Redis 8,
// Valkey 8 or 9; see server-binaries.ts); the arguments are the same for each.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { ConnectionOptions } from 'node:tls';
import Redis, { type ClusterOptions } from 'ioredis';
import { serverBinaries, type ServerBinaries, type ServerName } from './server-binaries.js';

const execFileAsync = promisify(execFile);

export interface LocalRedisPodsOptions {
  /** Third octet of the pods' addresses; give each test file its own so runs never collide. */
  subnet: number;
  /** requirepass and masterauth for every pod. @default - no password */
  password?: string;
  /** maxmemory for every pod, e.g. "64mb". @default - no limit */
  maxmemory?: string;
  /** Extra `--name value` arguments for every pod. */
  extraArgs?: string[];
  /** Start pods without cluster mode (to test refusing such a node). @default true */
  clusterEnabled?: boolean;
  port?: number;
  /** Which server the pods run, and whose cli judges them. @default TEST_SERVER, else 'redis7' */
  server?: ServerName;
  /** TLS as the chart sets it up: on the client port (no plaintext port), the bus and replication. @default - plaintext */
  tls?: LocalPodsTls;
}

/**
 * The files every pod serves and trusts (one certificate for all, as the chart's Certificate is), read at each
 * start; the test's own clients (connect, clusterClient, clusterCheck) present the same certificate.
 */
export interface LocalPodsTls {
  caFile: string;
  certFile: string;
  keyFile: string;
  /** tls-auth-clients. @default true */
  requireClientCertificates?: boolean;
}

export interface LocalRedisPod {
  ordinal: number;
  host: string;
  port: number;
  /** host:port */
  address: string;
  dataDir: string;
  process?: ChildProcess;
}

const livePods = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of livePods) child.kill('SIGKILL');
});

/** The second octet, derived from the pid so concurrent or crashed runs use other addresses. */
const secondOctet = 20 + (process.pid % 200);

export class LocalRedisPods {
  readonly baseDir: string;
  readonly pods = new Map<number, LocalRedisPod>();
  /** The server binary the pods run and the matching cli (throws in the constructor when not installed). */
  readonly binaries: ServerBinaries;
  private readonly options: LocalRedisPodsOptions;

  constructor(options: LocalRedisPodsOptions) {
    this.options = options;
    this.binaries = serverBinaries(options.server);
    this.baseDir = mkdtempSync(path.join(tmpdir(), `redis-pods-${options.subnet}-`));
  }

  hostOf(ordinal: number): string {
    return `127.${secondOctet}.${this.options.subnet}.${ordinal + 1}`;
  }

  get port(): number {
    return this.options.port ?? 6379;
  }

  /** host:port of ordinals 0..count-1, the program's --pods value. */
  addresses(count: number): string[] {
    return Array.from({ length: count }, (_, ordinal) => `${this.hostOf(ordinal)}:${this.port}`);
  }

  /** Starts (or restarts, keeping its data directory) the pod with this ordinal. */
  async start(ordinal: number): Promise<LocalRedisPod> {
    const existing = this.pods.get(ordinal);
    if (existing?.process && existing.process.exitCode === null && existing.process.signalCode === null) return existing;
    const host = this.hostOf(ordinal);
    const dataDir = path.join(this.baseDir, `pod-${ordinal}`);
    mkdirSync(dataDir, { recursive: true });
    const tls = this.options.tls;
    const args = [
      // With TLS the client port is the TLS port and there is no plaintext one, as in the chart.
      '--port',
      tls ? '0' : String(this.port),
      '--bind',
      host,
      '--dir',
      dataDir,
      '--save',
      '',
      '--appendonly',
      'no',
      // As the chart's redis.conf: a replica's first sync starts 1 s after it asks.
      '--repl-diskless-sync-delay',
      '1',
      '--protected-mode',
      'no',
      '--daemonize',
      'no',
      '--logfile',
      path.join(dataDir, 'redis.log'),
    ];
    if (this.options.clusterEnabled !== false) {
      args.push(
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        path.join(dataDir, 'nodes.conf'),
        '--cluster-node-timeout',
        '5000',
        '--cluster-announce-ip',
        host,
      );
    }
    if (tls) {
      args.push('--tls-port', String(this.port), '--tls-cert-file', tls.certFile, '--tls-key-file', tls.keyFile, '--tls-ca-cert-file', tls.caFile);
      args.push('--tls-auth-clients', tls.requireClientCertificates === false ? 'no' : 'yes', '--tls-cluster', 'yes', '--tls-replication', 'yes');
    }
    if (this.options.password) args.push('--requirepass', this.options.password, '--masterauth', this.options.password);
    if (this.options.maxmemory) args.push('--maxmemory', this.options.maxmemory);
    args.push(...(this.options.extraArgs ?? []));
    const child = spawn(this.binaries.server, args, { stdio: 'ignore' });
    livePods.add(child);
    child.on('exit', () => livePods.delete(child));
    const pod: LocalRedisPod = { ordinal, host, port: this.port, address: `${host}:${this.port}`, dataDir, process: child };
    this.pods.set(ordinal, pod);
    await this.waitForPing(pod);
    return pod;
  }

  async startMany(count: number, from = 0): Promise<LocalRedisPod[]> {
    const ordinals = Array.from({ length: count }, (_, index) => from + index);
    return Promise.all(ordinals.map((ordinal) => this.start(ordinal)));
  }

  /** Stops a pod; its data directory stays, as a persistent volume would. */
  async stop(ordinal: number, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.pods.get(ordinal)?.process;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }

  /** Stops a pod and deletes its volume, as deleting the pod and its claim would. */
  async remove(ordinal: number): Promise<void> {
    await this.stop(ordinal);
    const pod = this.pods.get(ordinal);
    if (pod) rmSync(pod.dataDir, { recursive: true, force: true });
    this.pods.delete(ordinal);
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.pods.keys()].map((ordinal) => this.stop(ordinal)));
  }

  /** Stops every pod and removes every data directory. */
  async destroy(): Promise<void> {
    await this.stopAll();
    rmSync(this.baseDir, { recursive: true, force: true });
  }

  /**
   * ioredis' `tls` for the test's clients: the pods' CA, and their certificate as the client certificate.
   * Node checks a pod's certificate for the IP it dials, so the test's certificate carries the pods' IPs.
   */
  tlsOptions(): ConnectionOptions | undefined {
    const tls = this.options.tls;
    if (!tls) return undefined;
    return { ca: readFileSync(tls.caFile), cert: readFileSync(tls.certFile), key: readFileSync(tls.keyFile) };
  }

  /** A plain connection to one pod (over TLS with the `tls` option); the caller closes it. */
  connect(ordinal: number): Redis {
    return new Redis({
      host: this.hostOf(ordinal),
      port: this.port,
      password: this.options.password,
      tls: this.tlsOptions(),
      lazyConnect: false,
      maxRetriesPerRequest: 2,
    });
  }

  /**
   * A cluster client seeded with every running pod; the caller closes it (quit()).
   * `overrides` are merged over the defaults (e.g. `{ enableAutoPipelining: true }` for bulk loads).
   */
  clusterClient(overrides: ClusterOptions = {}): InstanceType<typeof Redis.Cluster> {
    const seeds = [...this.pods.values()].map((pod) => ({ host: pod.host, port: pod.port }));
    return new Redis.Cluster(seeds, {
      slotsRefreshTimeout: 2000,
      retryDelayOnMoved: 0,
      retryDelayOnTryAgain: 100,
      retryDelayOnClusterDown: 200,
      maxRedirections: 32,
      ...overrides,
      redisOptions: { password: this.options.password, tls: this.tlsOptions(), ...overrides.redisOptions },
    });
  }

  /** `redis-cli --cluster check` (the server's own cli), the independent judge: exit code and output. */
  async clusterCheck(ordinal = 0): Promise<{ ok: boolean; output: string }> {
    const tls = this.options.tls;
    const args = [
      ...(tls ? ['--tls', '--cacert', tls.caFile, '--cert', tls.certFile, '--key', tls.keyFile] : []),
      '--cluster',
      'check',
      `${this.hostOf(ordinal)}:${this.port}`,
    ];
    if (this.options.password) args.push('-a', this.options.password, '--no-auth-warning');
    try {
      const { stdout, stderr } = await execFileAsync(this.binaries.cli, args, { timeout: 60_000 });
      return { ok: true, output: stdout + stderr };
    } catch (error) {
      const failure = error as { stdout?: string; stderr?: string };
      return { ok: false, output: `${failure.stdout ?? ''}${failure.stderr ?? ''}` };
    }
  }

  private async waitForPing(pod: LocalRedisPod): Promise<void> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const client = new Redis({
        host: pod.host,
        port: pod.port,
        password: this.options.password,
        tls: this.tlsOptions(),
        lazyConnect: true,
        maxRetriesPerRequest: 0,
        retryStrategy: () => null,
        connectTimeout: 500,
      });
      client.on('error', () => {});
      try {
        await client.connect();
        await client.ping();
        client.disconnect();
        return;
      } catch (error) {
        client.disconnect();
        if (pod.process?.exitCode !== null && pod.process?.exitCode !== undefined) {
          throw new Error(
            `${path.basename(this.binaries.server)} for pod ${pod.ordinal} (${pod.address}) exited with ${pod.process.exitCode}; see ${pod.dataDir}/redis.log`,
          );
        }
        if (Date.now() > deadline) throw new Error(`pod ${pod.ordinal} (${pod.address}) did not answer PING in 10 s: ${String(error)}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  }
}
