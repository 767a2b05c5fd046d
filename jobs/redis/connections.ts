// One plain ioredis connection per pod (never the Cluster client: we talk to each node itself).
import { Redis } from 'ioredis';
import { Refusal, TopologyError, describeError } from '../errors';
import { sleep } from '../clock';
import type { Pod } from '../pod';
import type { Log } from '../progress';
import { isRedisError } from './errors';
import { tlsFailure, tlsOptionsFor, type TlsSettings } from './tls';

export class Connections {
  /** By pod ordinal, then `ordinal:index` for a pod's spare connections. */
  private readonly clients = new Map<string, Redis>();
  /** Connections being made: callers that ask meanwhile share one (two would leave one open, keeping the process alive). */
  private readonly connecting = new Map<string, Promise<Redis>>();
  private closed = false;

  /** With `tls`, every pod is reached over TLS and its certificate verified (jobs/redis/tls.ts). */
  constructor(
    private readonly password: string | undefined,
    private readonly tls?: TlsSettings,
  ) {}

  /** A connected client for the pod; a clear error names the pod if it cannot be reached. */
  async connect(pod: Pod, connectTimeoutMs = 5000, key = String(pod.ordinal)): Promise<Redis> {
    if (this.closed) throw new Error('connections are closed: the program is exiting');
    const existing = this.clients.get(key);
    // A client that is (re)connecting is kept: ioredis fails its queued commands after
    // maxRetriesPerRequest reconnects. Replacing it would strand them, and the run would hang.
    if (existing && existing.status !== 'end') return existing;
    if (existing) this.clients.delete(key);
    const inFlight = this.connecting.get(key);
    if (inFlight) return inFlight;
    const connection = this.open(pod, connectTimeoutMs, key).finally(() => this.connecting.delete(key));
    this.connecting.set(key, connection);
    return connection;
  }

  private async open(pod: Pod, connectTimeoutMs: number, key: string): Promise<Redis> {
    const client = new Redis({
      host: pod.ip,
      port: pod.port,
      password: this.password,
      ...(this.tls === undefined ? {} : { tls: tlsOptionsFor(pod, this.tls) }),
      lazyConnect: true,
      connectTimeout: connectTimeoutMs,
      maxRetriesPerRequest: 2,
      // Bounds a command to a pod that stopped answering without closing the connection
      // (its node lost): MIGRATE batches take far less.
      commandTimeout: 120_000,
      enableAutoPipelining: true,
      enableReadyCheck: true,
      // Reconnect within a run (a pod restarting), soon: a command waits through
      // maxRetriesPerRequest reconnects before it fails (0.6 s, then 1.4 s, then 1.5 s each).
      // After about 9 s the client ends; connect() makes a new one when asked.
      retryStrategy: (times) => (times > 20 ? null : Math.min(times * 100, 500)),
    });
    // Errors surface on the commands; keep ioredis from printing unhandled 'error' events,
    // but remember the last one: connect() itself only says "Connection is closed".
    let lastError: unknown;
    client.on('error', (error) => {
      lastError = error;
    });
    try {
      await client.connect();
      // Without a password ioredis connects fine; the first command tells whether auth is needed.
      await client.ping();
    } catch (error) {
      client.disconnect();
      throw connectionError(pod, lastError ?? error, this.tls);
    }
    if (this.closed) {
      // closeAll ran while this one connected: it would outlive the program's end.
      client.disconnect();
      throw new Error('connections are closed: the program is exiting');
    }
    this.clients.set(key, client);
    return client;
  }

  /**
   * Waits (bounded) until every pod answers PING: pods may be starting, or restarting after a
   * failure. A refused password fails at once; the last pod still silent at the deadline fails.
   */
  async waitUntilAnswering(pods: readonly Pod[], timeoutMs: number, log: Log): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (const pod of pods) {
      let lastLog = 0;
      for (;;) {
        try {
          await (await this.connect(pod, 3000)).ping();
          break;
        } catch (error) {
          const failure = connectionError(pod, error, this.tls);
          // A refused password or certificate stays refused: fail at once rather than wait.
          if (failure instanceof Refusal || Date.now() > deadline) throw failure;
          if (Date.now() - lastLog > 10_000) {
            log.info(`waiting for ${pod.name} to answer: ${failure.message}`);
            lastLog = Date.now();
          }
          await sleep(Math.min(2000, Math.max(0, deadline - Date.now())));
        }
      }
    }
  }

  /** The pod's client, connecting if needed. */
  async client(pod: Pod): Promise<Redis> {
    return this.connect(pod);
  }

  /**
   * One of the pod's spare connections (`index` picks it), for commands that block their
   * connection while others could run beside them: Valkey's SETSLOT waits for the replicas.
   */
  async spare(pod: Pod, index: number): Promise<Redis> {
    return this.connect(pod, 5000, `${pod.ordinal}:${index}`);
  }

  async closeAll(): Promise<void> {
    this.closed = true;
    const clients = [...this.clients.values()];
    this.clients.clear();
    await Promise.all(
      clients.map(async (client) => {
        try {
          let timer: NodeJS.Timeout | undefined;
          const giveUp = new Promise((resolve) => (timer = setTimeout(resolve, 1000)));
          await Promise.race([client.quit(), giveUp]).finally(() => clearTimeout(timer));
        } catch {
          // already gone
        }
        client.disconnect();
      }),
    );
  }
}

/** The pod refused the program's password: waiting or retrying cannot help. */
export class AuthenticationError extends Refusal {
  constructor(pod: Pod) {
    super(`authentication failed for ${pod.name}`, "check the password (the Secret / --password-file / REDIS_PASSWORD) matches the pods' requirepass");
    this.name = 'AuthenticationError';
  }
}

/** Why a pod cannot be used, for the operator; `tls` (the program's TLS settings) names the CA file in certificate errors. */
export function connectionError(pod: Pod, error: unknown, tls?: TlsSettings): TopologyError {
  if (error instanceof TopologyError) return error;
  if (isRedisError(error, 'authentication')) return new AuthenticationError(pod);
  const tlsRefusal = tlsFailure(pod, error, tls);
  if (tlsRefusal) return tlsRefusal;
  // A TLS failure does not always say so: a server that wants a client certificate may just drop the
  // connection, and a plaintext server leaves a TLS handshake unanswered until the timeout.
  const tlsHint =
    tls === undefined
      ? '; if the pods serve TLS, give the program their CA (--tls-ca-file)'
      : `; that it serves TLS on port ${pod.port} (TLS is on for the program); ${
          tls.certFile === undefined
            ? 'and, if the pods require client certificates (tls-auth-clients yes), give the program one (--tls-cert-file, --tls-key-file)'
            : 'and, if the pods refused the client certificate (--tls-cert-file), that it is valid now and signed by a CA they trust'
        }`;
  return new TopologyError(`${pod.name} is unreachable: ${describeError(error)}`, `check that the pod is running and the address is right${tlsHint}`);
}
