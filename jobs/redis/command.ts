// Sending commands: the one `call`, retry with backoff, and reads that wait out LOADING.
import type { Redis } from 'ioredis';
import { sleep } from '../clock';
import { TopologyError, describeError } from '../errors';
import type { Pod } from '../pod';
import type { Log } from '../progress';
import { connectionError } from './connections';
import { isRedisError, isRetryable } from './errors';

export type Argument = string | number | Buffer;

/** One command on one node's connection; the reply as ioredis gives it. */
export async function call(client: Redis, command: string, ...args: readonly Argument[]): Promise<unknown> {
  return client.call(command, ...args.map((arg) => (typeof arg === 'number' ? String(arg) : arg)));
}

export interface RetryOptions {
  readonly log?: Log;
  /** @default 10 */
  readonly attempts?: number;
}

/**
 * At most this many tries when the pod itself does not answer (each try already waits out ioredis's own
 * reconnects, about 0.6-1.5 s). A pod that went away is waited for once, by the round that
 * failed (run-phase.ts), and the run re-plans from what it finds: retrying every command
 * against it would hold the run, and the Job, for half a minute before that wait even began.
 */
const connectionAttempts = 3;

/**
 * Runs `operation`, retrying transient failures with backoff (100 ms doubling to 3 s). A failure
 * that is not transient, or the last one, becomes a TopologyError naming `what`; a TopologyError
 * thrown inside passes through unchanged.
 */
export async function withRetry<T>(what: string, operation: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const attempts = options.attempts ?? 10;
  let delay = 100;
  for (let attempt = 1; ; attempt++) {
    try {
      return await operation();
    } catch (error) {
      if (error instanceof TopologyError) throw error;
      const message = describeError(error);
      const limit = isRedisError(error, 'connectionLost') ? Math.min(attempts, connectionAttempts) : attempts;
      if (!isRetryable(error) || attempt >= limit) {
        throw new TopologyError(`${what} failed: ${message}`, 'run again: the program resumes where it stopped');
      }
      if (attempt >= 3) options.log?.warn(`${what}: ${message}; retrying (attempt ${attempt + 1}/${limit})`);
      await sleep(delay);
      delay = Math.min(delay * 2, 3000);
    }
  }
}

/** How long a pod may answer LOADING (a replica loading what its master sent it) before that is an error. */
const loadingTimeoutMs = 600_000;

/**
 * A read of one pod's state: LOADING is waited out (bounded), a refused password names the pod,
 * anything else fails with the pod and the command in the message.
 */
export async function readFromPod(client: Redis, pod: Pod, command: string, ...args: readonly Argument[]): Promise<unknown> {
  const started = Date.now();
  for (;;) {
    try {
      return await call(client, command, ...args);
    } catch (error) {
      if (isRedisError(error, 'authentication')) throw connectionError(pod, error);
      if (isRedisError(error, 'loading') && Date.now() - started < loadingTimeoutMs) {
        await sleep(200);
        continue;
      }
      throw new TopologyError(`${pod.name}: ${[command, ...args.slice(0, 1)].join(' ')} failed: ${describeError(error)}`);
    }
  }
}
