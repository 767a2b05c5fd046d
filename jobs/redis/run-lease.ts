// At most one run changes the cluster at a time. A run holds a connection to pod 0 named
// "topology-run-<started ms>-<random>-<phase>" for as long as it runs; of all such connections
// the oldest holds the lease, and the others wait for it. A run that dies loses its connection,
// and so the lease, without anyone cleaning up (a killed pod's socket is closed by the kernel;
// a vanished host's by TCP keepalive).
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { sleep } from '../clock';
import { Refusal, describeError } from '../errors';
import { formatDuration } from '../format';
import type { Pod } from '../pod';
import type { Log } from '../progress';
import { connectionError } from './connections';
import { tlsOptionsFor, type TlsSettings } from './tls';

const prefix = 'topology-run-';

export interface LeaseHolder {
  readonly name: string;
  readonly startedAt: number;
  /** The holder's address as pod 0 sees it. */
  readonly address: string;
  readonly phase: string;
}

/** The runs named in a CLIENT LIST reply, oldest first (ties broken by the random part). */
export function parseLeaseHolders(clientList: string): LeaseHolder[] {
  const holders: LeaseHolder[] = [];
  for (const line of clientList.split('\n')) {
    const name = /(?:^| )name=(\S*)/.exec(line)?.[1] ?? '';
    const match = new RegExp(`^${prefix}(\\d+)-([0-9a-f]+)-(\\w+)$`).exec(name);
    if (!match) continue;
    holders.push({ name, startedAt: Number(match[1]), address: /(?:^| )addr=(\S*)/.exec(line)?.[1] ?? '?', phase: match[3]! });
  }
  return holders.sort((a, b) => a.startedAt - b.startedAt || a.name.localeCompare(b.name));
}

export class RunLease {
  private constructor(private readonly connection: Redis) {}

  /** Waits (bounded by `timeoutMs`) until this run is the oldest one connected to `pod`. */
  static async acquire(pod: Pod, password: string | undefined, phase: string, log: Log, timeoutMs: number, tls?: TlsSettings): Promise<RunLease> {
    const name = `${prefix}${Date.now()}-${randomBytes(4).toString('hex')}-${phase}`;
    const connection = new Redis({
      host: pod.ip,
      port: pod.port,
      password,
      ...(tls === undefined ? {} : { tls: tlsOptionsFor(pod, tls) }),
      connectionName: name,
      lazyConnect: true,
      connectTimeout: 5000,
      maxRetriesPerRequest: 2,
      keepAlive: 10_000,
      retryStrategy: (times) => (times > 20 ? null : Math.min(times * 200, 2000)),
    });
    // connect() itself only says "Connection is closed"; the event says why (a refused password).
    let lastError: unknown;
    connection.on('error', (error) => {
      lastError = error;
    });
    try {
      await connection.connect();
      const deadline = Date.now() + timeoutMs;
      let lastLog = 0;
      for (;;) {
        const holders = parseLeaseHolders(String(await connection.call('CLIENT', 'LIST', 'TYPE', 'normal')));
        const first = holders[0];
        if (!first || first.name === name) return new RunLease(connection);
        const waited = `another topology run (${first.phase}, started ${formatDuration(Date.now() - first.startedAt)} ago, from ${first.address}) is changing the cluster`;
        if (Date.now() > deadline) {
          throw new Refusal(
            `${waited}; gave up waiting after ${formatDuration(timeoutMs)}`,
            'let it finish (kubectl get jobs), then run again; only one run may change the cluster at a time',
          );
        }
        if (Date.now() - lastLog > 10_000) {
          log.info(`${waited}; waiting for it to finish`);
          lastLog = Date.now();
        }
        await sleep(1000);
      }
    } catch (error) {
      connection.disconnect();
      if (error instanceof Refusal) throw error;
      throw connectionError(pod, lastError ?? error, tls);
    }
  }

  async release(): Promise<void> {
    await this.connection.quit().catch((error: unknown) => describeError(error));
    this.connection.disconnect();
  }
}
