// Redis replies and connection failures classified once, on the messages real servers send
// (Redis 7.0.15; Valkey 8 words them the same).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ReplyError } from 'ioredis';
import { RetryableError, isRedisError, isRetryable, redisErrorKind, type RedisErrorKind } from '../../jobs/redis/errors';

const replies: ReadonlyArray<readonly [string, RedisErrorKind]> = [
  ["ERR I'm already the owner of hash slot 5", 'alreadyOwner'],
  ["ERR I'm not the owner of hash slot 5", 'notOwner'],
  ["ERR Can't assign hashslot 5 to a different node while I still hold keys for this hash slot.", 'keysRemain'],
  ['ERR Please use SETSLOT only with masters.', 'notMaster'],
  ['ERR Unknown node abc', 'unknownNode'],
  ['ERR Slot 5 is already unassigned', 'slotNotAssigned'],
  ['ERR The user can assign a config epoch only when the node does not know any other node.', 'configEpochRefused'],
  ['ERR Node config epoch is already non-zero', 'configEpochRefused'],
  ["OOM command not allowed when used memory > 'maxmemory'.", 'outOfMemory'],
  // MIGRATE relays the target's refusal.
  ["ERR Target instance replied with error: OOM command not allowed when used memory > 'maxmemory'.", 'outOfMemory'],
  ["ERR unknown command 'FOO', with args beginning with: ", 'unknownCommand'],
  ["ERR unknown subcommand 'FOO'. Try CLUSTER HELP.", 'unknownCommand'],
  ['EXECABORT Transaction discarded because of previous errors.', 'transactionAborted'],
  ['WRONGPASS invalid username-password pair or user is disabled.', 'authentication'],
  ['NOAUTH Authentication required.', 'authentication'],
  ['ERR Target instance replied with error: NOAUTH Authentication required.', 'authentication'],
  ['LOADING Redis is loading the dataset in memory', 'loading'],
  ['TRYAGAIN Multiple keys request during rehashing of slot', 'transient'],
  ['CLUSTERDOWN The cluster is down', 'transient'],
  ['CLUSTERDOWN Hash slot not served', 'transient'],
  ["MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.", 'transient'],
  ['BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSCRIPT.', 'transient'],
  ['IOERR error or timeout reading to target instance', 'transient'],
  ['BUSYKEY Target key name already exists.', 'other'],
  ["ERR wrong number of arguments for 'set' command", 'other'],
  ['ERR I can only replicate a master, not a replica.', 'other'],
];

test('each server reply is classified as its kind', () => {
  for (const [message, kind] of replies) assert.equal(redisErrorKind(new ReplyError(message)), kind, message);
});

test('EXECABORT is out of memory when ioredis says a queued command was refused for memory', () => {
  const aborted = () => new ReplyError('EXECABORT Transaction discarded because of previous errors.');
  const withCauses = (...causes: Error[]) => Object.assign(aborted(), { previousErrors: causes });
  assert.equal(redisErrorKind(withCauses(new ReplyError("OOM command not allowed when used memory > 'maxmemory'."))), 'outOfMemory');
  assert.equal(redisErrorKind(withCauses(new ReplyError("ERR wrong number of arguments for 'set' command"))), 'transactionAborted');
  assert.equal(redisErrorKind(aborted()), 'transactionAborted');
});

test('dropped, refused and timed-out connections are a lost connection, and retryable', () => {
  const reset = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET', errno: -104, syscall: 'read' });
  const refused = Object.assign(new Error('connect ECONNREFUSED 10.0.0.1:6379'), { code: 'ECONNREFUSED' });
  for (const error of [
    reset,
    refused,
    new Error('Connection is closed.'),
    new Error('Command timed out'),
    new Error('connect ETIMEDOUT'),
    new Error('write EPIPE'),
    new Error('Reached the max retries per request limit (which is 2). Refer to "maxRetriesPerRequest" option for details.'),
  ]) {
    assert.equal(redisErrorKind(error), 'connectionLost', error.message);
    assert.equal(isRetryable(error), true, error.message);
  }
});

test('an error whose code says the connection dropped is a lost connection whatever its message', () => {
  assert.equal(redisErrorKind(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })), 'connectionLost');
});

test('a transaction failed by a dropped connection lists its own error among the earlier ones: classified, not followed forever', () => {
  // ioredis fails every queued command and EXEC with one error object, then puts the commands' errors on EXEC's.
  const closed = new Error('Connection is closed.') as Error & { previousErrors?: unknown[] };
  closed.previousErrors = [closed, closed];
  assert.equal(redisErrorKind(closed), 'connectionLost');
  assert.equal(isRetryable(closed), true);
});

test("the program's own RetryableError is transient; anything unknown is other", () => {
  assert.equal(redisErrorKind(new RetryableError('keys appeared in the slot during the migration')), 'transient');
  assert.equal(redisErrorKind(new Error('something else')), 'other');
  assert.equal(redisErrorKind('a thrown string'), 'other');
  assert.equal(redisErrorKind(undefined), 'other');
});

test('isRedisError asks for one or several kinds; isRetryable is transient or loading', () => {
  const loading = new ReplyError('LOADING Redis is loading the dataset in memory');
  assert.equal(isRedisError(loading, 'loading'), true);
  assert.equal(isRedisError(loading, 'authentication', 'loading'), true);
  assert.equal(isRedisError(loading, 'transient'), false);
  assert.equal(isRetryable(loading), true);
  assert.equal(isRetryable(new ReplyError('NOAUTH Authentication required.')), false);
  assert.equal(isRetryable(new ReplyError("OOM command not allowed when used memory > 'maxmemory'.")), false);
});
