import type { ServerKind } from './props';

/** The binaries each server's image holds, which the pods' scripts run (start.sh, probe.sh, pre-stop.sh). */
export const SERVER_BINARIES: Readonly<Record<ServerKind, { readonly server: string; readonly cli: string }>> = {
  redis: { server: 'redis-server', cli: 'redis-cli' },
  valkey: { server: 'valkey-server', cli: 'valkey-cli' },
};

export const SERVER_KINDS = Object.keys(SERVER_BINARIES) as readonly ServerKind[];

/** The name people give each server in messages. */
export const SERVER_TITLES: Readonly<Record<ServerKind, string>> = { redis: 'Redis', valkey: 'Valkey' };

/**
 * An image reference's repository name: its last path segment, without registry, tag or digest
 * (`valkey` for `registry.example.com:5000/mirror/valkey:9.1@sha256:...`).
 */
export function imageRepositoryName(image: string): string {
  const withoutDigest = image.split('@')[0];
  return withoutDigest
    .slice(withoutDigest.lastIndexOf('/') + 1)
    .split(':')[0]
    .toLowerCase();
}

/**
 * The server an image plainly is by its repository name: `valkey` or `valkey-...` (`valkey/valkey`,
 * `valkey/valkey-bundle`, a mirror's `.../valkey`) is Valkey, `redis` or `redis-...` is Redis; any other name
 * says nothing.
 */
export function serverNamedBy(image: unknown): ServerKind | undefined {
  if (typeof image !== 'string') return undefined;
  const name = imageRepositoryName(image);
  return SERVER_KINDS.find((kind) => name === kind || name.startsWith(`${kind}-`));
}
