// withRetry and readFromPod: retry with backoff, and reads that wait out LOADING.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ReplyError, type Redis } from 'ioredis';
import { TopologyError } from '../../jobs/errors';
import type { Pod } from '../../jobs/pod';
import type { Log } from '../../jobs/progress';
import { readFromPod, withRetry } from '../../jobs/redis/command';
import { AuthenticationError } from '../../jobs/redis/connections';

/** An operation that throws the given errors in turn, then returns 'done'; counts its calls. */
function failing(...errors: unknown[]) {
  const operation = async () => {
    operation.calls++;
    if (operation.calls <= errors.length) throw errors[operation.calls - 1];
    return 'done';
  };
  operation.calls = 0;
  return operation;
}

function recordingLog(): Log & { warnings: string[] } {
  const warnings: string[] = [];
  return { warnings, info: () => undefined, warn: (message) => warnings.push(message), error: () => undefined };
}

test('withRetry retries transient errors with growing waits, then succeeds', async () => {
  const log = recordingLog();
  const operation = failing(
    new ReplyError('TRYAGAIN Multiple keys request during rehashing of slot'),
    new ReplyError('CLUSTERDOWN The cluster is down'),
    new ReplyError('IOERR error or timeout writing to target instance'),
  );
  const started = performance.now();
  assert.equal(await withRetry('SETSLOT 5 NODE', operation, { log }), 'done');
  const elapsed = performance.now() - started;
  assert.equal(operation.calls, 4);
  // Waits of 100, 200 and 400 ms.
  assert.ok(elapsed >= 650 && elapsed < 3000, `took ${elapsed.toFixed(0)} ms, expected about 700`);
  // The first two retries are quiet; from the third on, each is logged.
  assert.deepEqual(log.warnings, ['SETSLOT 5 NODE: IOERR error or timeout writing to target instance; retrying (attempt 4/10)']);
});

test('withRetry: a pod that does not answer is tried 3 times, not 10: the round that fails waits for it once', async () => {
  const lost = () => new Error('Reached the max retries per request limit (which is 2). Refer to "maxRetriesPerRequest" option for details.');
  const operation = failing(...Array.from({ length: 10 }, lost));
  await assert.rejects(withRetry('pod 6: SETSLOT 5 IMPORTING', operation), (error: unknown) => {
    assert.ok(error instanceof TopologyError);
    assert.match(error.message, /^pod 6: SETSLOT 5 IMPORTING failed: Reached the max retries per request limit/);
    return true;
  });
  assert.equal(operation.calls, 3);
  // A pod that answers again within those tries is fine.
  assert.equal(await withRetry('PING', failing(lost(), new Error('Connection is closed.'))), 'done');
  // A lower limit still wins.
  const once = failing(lost(), lost());
  await assert.rejects(withRetry('PING', once, { attempts: 1 }));
  assert.equal(once.calls, 1);
});

test('withRetry: LOADING and RetryableError are retried too', async () => {
  const { RetryableError } = await import('../../jobs/redis/errors');
  const operation = failing(new ReplyError('LOADING Redis is loading the dataset in memory'), new RetryableError('the transaction was discarded'));
  assert.equal(await withRetry('EXEC', operation), 'done');
  assert.equal(operation.calls, 3);
});

test('withRetry: an error that is not transient fails at once, as a TopologyError naming what failed', async () => {
  const operation = failing(new ReplyError('ERR Unknown node abc'));
  const started = performance.now();
  await assert.rejects(withRetry('pod 2: CLUSTER FORGET abc', operation), (error: unknown) => {
    assert.ok(error instanceof TopologyError);
    assert.equal(error.message, 'pod 2: CLUSTER FORGET abc failed: ERR Unknown node abc');
    assert.match(error.hint ?? '', /run again/);
    return true;
  });
  assert.equal(operation.calls, 1);
  assert.ok(performance.now() - started < 90, 'no wait before giving up');
});

test('withRetry: a TopologyError thrown inside passes through unchanged, without retrying', async () => {
  const inner = new TopologyError('the source no longer owns the slot', 'run again');
  const operation = failing(inner);
  await assert.rejects(withRetry('SETSLOT MIGRATING', operation), (error: unknown) => error === inner);
  assert.equal(operation.calls, 1);
});

test('withRetry gives up after `attempts`, naming the last error', async () => {
  const operation = failing(...Array.from({ length: 10 }, () => new ReplyError('CLUSTERDOWN The cluster is down')));
  await assert.rejects(withRetry('MIGRATE 100 keys', operation, { attempts: 3 }), /^TopologyError: MIGRATE 100 keys failed: CLUSTERDOWN The cluster is down$/);
  assert.equal(operation.calls, 3);
});

const pod: Pod = { ordinal: 3, host: 'redis-cluster-3.redis-cluster-svc', port: 6379, ip: '10.0.0.4', name: 'pod 3' };

/** A stand-in for an ioredis client whose call() answers from a list (an Error is thrown). */
function client(...answers: unknown[]) {
  const calls: unknown[][] = [];
  const fake = {
    calls,
    call: async (...args: unknown[]) => {
      calls.push(args);
      const answer = answers[Math.min(calls.length, answers.length) - 1];
      if (answer instanceof Error) throw answer;
      return answer;
    },
  };
  return fake as typeof fake & Redis;
}

test('readFromPod waits out LOADING, then answers', async () => {
  const loading = new ReplyError('LOADING Redis is loading the dataset in memory');
  const fake = client(loading, loading, 'cluster_state:ok');
  assert.equal(await readFromPod(fake, pod, 'CLUSTER', 'INFO'), 'cluster_state:ok');
  assert.deepEqual(fake.calls, [
    ['CLUSTER', 'INFO'],
    ['CLUSTER', 'INFO'],
    ['CLUSTER', 'INFO'],
  ]);
});

test('readFromPod: a refused password names the pod; any other failure names the pod and the command', async () => {
  await assert.rejects(readFromPod(client(new ReplyError('NOAUTH Authentication required.')), pod, 'INFO', 'server'), (error: unknown) => {
    assert.ok(error instanceof AuthenticationError);
    assert.equal(error.message, 'authentication failed for pod 3');
    return true;
  });
  await assert.rejects(readFromPod(client(new ReplyError("ERR unknown command 'FOO'")), pod, 'CLUSTER', 'NODES', 'extra'), (error: unknown) => {
    assert.ok(error instanceof TopologyError);
    assert.equal(error.message, "pod 3: CLUSTER NODES failed: ERR unknown command 'FOO'");
    return true;
  });
});
