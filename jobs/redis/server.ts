// Which server a node runs: Redis or Valkey, and its version, from its INFO server section.
// Pure; the migration engines will choose their protocol from it.

export interface ServerIdentity {
  readonly kind: 'redis' | 'valkey';
  /** As the server reports it, e.g. "7.0.15" or "8.0.1". */
  readonly version: string;
  /** [major, minor, patch], for comparisons. */
  readonly versionParts: readonly [number, number, number];
}

/**
 * Valkey reports `valkey_version` (and `server_name:valkey`); it also keeps `redis_version`
 * (7.2.4) for clients that check it, so that one alone does not mean Redis.
 */
export function serverIdentity(info: Readonly<Record<string, string>>): ServerIdentity {
  const valkeyVersion = info.valkey_version;
  const kind = valkeyVersion !== undefined || info.server_name === 'valkey' ? 'valkey' : 'redis';
  const version = (kind === 'valkey' ? valkeyVersion : undefined) ?? info.redis_version ?? '0.0.0';
  const [major = 0, minor = 0, patch = 0] = version.split('.').map((part) => Number.parseInt(part, 10) || 0);
  return { kind, version, versionParts: [major, minor, patch] };
}

export function describeServer(server: ServerIdentity): string {
  return `${server.kind === 'valkey' ? 'Valkey' : 'Redis'} ${server.version}`;
}

/** What a node can do, probed with COMMAND INFO / COMMAND DOCS rather than read from its version. */
export interface ServerCapabilities {
  /**
   * CLUSTER SETSLOT waits for the node's replicas (Valkey 8+, recognised by its TIMEOUT argument):
   * it must not be sent inside MULTI, where a blocking command aborts the server.
   */
  readonly setSlotWaitsForReplicas: boolean;
  /** The server moves slots itself: Valkey's CLUSTER MIGRATESLOTS (9.0+). */
  readonly migrateSlots: boolean;
}

/** The capabilities, from a COMMAND DOCS reply for cluster|setslot and COMMAND INFO for cluster|migrateslots. */
export function capabilitiesFrom(setSlotDocs: unknown, migrateSlotsInfo: unknown): ServerCapabilities {
  const mentionsTimeout = (value: unknown): boolean =>
    Array.isArray(value) ? value.some(mentionsTimeout) : typeof value === 'string' && value.toLowerCase() === 'timeout';
  const known = Array.isArray(migrateSlotsInfo) && migrateSlotsInfo.some((entry) => entry !== null && entry !== undefined);
  return { setSlotWaitsForReplicas: mentionsTimeout(setSlotDocs), migrateSlots: known };
}
