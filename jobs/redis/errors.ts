// Redis replies and connection failures, classified once: callers ask for a kind, never match text.
import { describeError } from '../errors';

export type RedisErrorKind =
  /** The server wants a (different) password: NOAUTH, WRONGPASS. */
  | 'authentication'
  /** The server is loading its data set (a replica after its first sync, a restart). */
  | 'loading'
  /** A reply worth another try: TRYAGAIN, CLUSTERDOWN, BUSY, MASTERDOWN, IOERR (MIGRATE's target). */
  | 'transient'
  /** The pod itself did not answer: connection refused, dropped or timed out, or ioredis gave up reconnecting. */
  | 'connectionLost'
  /** CLUSTER SETSLOT IMPORTING on the node that already owns the slot. */
  | 'alreadyOwner'
  /** CLUSTER SETSLOT MIGRATING on a node that does not own the slot. */
  | 'notOwner'
  /** CLUSTER SETSLOT NODE on a node that still holds keys of the slot. */
  | 'keysRemain'
  /** A command only masters (or only for masters) take, sent to or naming a replica. */
  | 'notMaster'
  /** A script touched a key of a slot the node neither owns nor imports. */
  | 'keyNotLocal'
  /** CLUSTER FORGET of a node the server does not know. */
  | 'unknownNode'
  /** CLUSTER DELSLOTS of a slot nobody is assigned. */
  | 'slotNotAssigned'
  /** CLUSTER SET-CONFIG-EPOCH on a node that knows others or has an epoch already. */
  | 'configEpochRefused'
  /** maxmemory reached under noeviction. */
  | 'outOfMemory'
  /** The server does not have the command (an older or other server). */
  | 'unknownCommand'
  /** EXEC refused because a queued command was refused. */
  | 'transactionAborted'
  | 'other';

/** First match wins; the order puts specific replies before the broad transient ones. */
const patterns: ReadonlyArray<readonly [RedisErrorKind, RegExp]> = [
  ['authentication', /WRONGPASS|NOAUTH|invalid password|invalid username-password|Authentication required/i],
  ['loading', /\bLOADING\b/],
  ['outOfMemory', /^OOM\b|\bOOM command not allowed/],
  ['transactionAborted', /EXECABORT/],
  ['alreadyOwner', /already the owner/i],
  ['notOwner', /not the owner/i],
  ['keysRemain', /still hold keys/i],
  ['notMaster', /only with masters|not a master|Target node is not a master/i],
  ['unknownNode', /Unknown node/i],
  ['keyNotLocal', /non local key/i],
  ['configEpochRefused', /assign a config epoch only|config epoch is already non-zero/i],
  ['slotNotAssigned', /already unassigned|not assigned/i],
  ['unknownCommand', /unknown command|unknown subcommand|Unknown CLUSTER subcommand/i],
  ['transient', /TRYAGAIN|IOERR|CLUSTERDOWN|BUSY |MASTERDOWN/i],
  ['connectionLost', /ETIMEDOUT|ECONNRESET|ECONNREFUSED|EPIPE|EHOSTUNREACH|Connection is closed|Command timed out|Reached the max retries/i],
];

/** Error codes of a connection that dropped or timed out. */
const connectionCodes = new Set(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNABORTED']);

/**
 * A condition the program found itself that is worth another try (keys appeared in a slot being
 * moved, a transaction came back empty): retried like a transient server reply.
 */
export class RetryableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RetryableError';
  }
}

export function redisErrorKind(error: unknown): RedisErrorKind {
  if (error instanceof RetryableError) return 'transient';
  // EXECABORT hides why: ioredis keeps the queued commands' own errors beside it. Only those are
  // looked at, not theirs: when the connection drops, ioredis fails the queued commands and the
  // transaction with one error object, which then lists itself (following it overflowed the stack).
  const previous = (error as { previousErrors?: unknown[] } | null)?.previousErrors;
  if (Array.isArray(previous) && previous.some((cause) => cause !== error && replyKind(cause) === 'outOfMemory')) return 'outOfMemory';
  return replyKind(error);
}

/** The kind by the message (or the connection error code) alone. */
function replyKind(error: unknown): RedisErrorKind {
  const message = describeError(error);
  for (const [kind, pattern] of patterns) if (pattern.test(message)) return kind;
  // Node names a dropped connection by its code whatever the message says ("socket hang up", TLS errors).
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && connectionCodes.has(code)) return 'connectionLost';
  return 'other';
}

export function isRedisError(error: unknown, ...kinds: readonly RedisErrorKind[]): boolean {
  return kinds.includes(redisErrorKind(error));
}

/** Whether another try may succeed: transient replies, a lost connection, a server still loading its data. */
export function isRetryable(error: unknown): boolean {
  return isRedisError(error, 'transient', 'connectionLost', 'loading');
}
