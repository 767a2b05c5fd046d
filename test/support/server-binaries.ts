// Where the test servers' binaries are. The one place tests learn them from: .ci/install-servers
// installs or builds Valkey 8 and 9 and Redis 8 into a cache outside the checkout and writes
// <cache>/servers/env.sh (export REDIS7_SERVER=... REDIS8_CLI=...); a variable of the same name in
// the environment wins over the file. Redis 7.0 is Debian's redis-server on PATH unless
// REDIS7_SERVER / REDIS7_CLI say otherwise, so it needs neither the script nor the file.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

export const SERVER_NAMES = ['redis7', 'valkey8', 'valkey9', 'redis8'] as const;
export type ServerName = (typeof SERVER_NAMES)[number];

export interface ServerBinaries {
  name: ServerName;
  /** What INFO server reports: Valkey sets valkey_version (and server_name:valkey), Redis only redis_version. */
  flavor: 'redis' | 'valkey';
  major: number;
  /** The server binary (a path, or a name looked up on PATH). */
  server: string;
  /** The cli of the same build, for --cluster check and the like. */
  cli: string;
  /** Version as recorded by the install script, when known. */
  version?: string;
}

const SERVERS: Record<ServerName, { flavor: 'redis' | 'valkey'; major: number; variable: string; what: string }> = {
  redis7: { flavor: 'redis', major: 7, variable: 'REDIS7', what: "Redis 7.0, Debian 12's redis-server" },
  valkey8: { flavor: 'valkey', major: 8, variable: 'VALKEY8', what: "Valkey 8.0, bookworm-backports' valkey-server" },
  valkey9: { flavor: 'valkey', major: 9, variable: 'VALKEY9', what: "Valkey 9, built from Debian unstable's source package" },
  redis8: { flavor: 'redis', major: 8, variable: 'REDIS8', what: "Redis 8.0, built from Debian unstable's source package" },
};

/** The env file .ci/install-servers writes (REDIS_CLUSTER_GITOPS_CACHE moves the cache, as in .ci/run). */
export function serversEnvFile(): string {
  return path.join(process.env.REDIS_CLUSTER_GITOPS_CACHE || '/var/cache/redis-cluster-gitops', 'servers', 'env.sh');
}

/** `export NAME='value'` lines of the env file; empty when there is no file. */
function readEnvFile(file: string): Map<string, string> {
  const values = new Map<string, string>();
  if (!existsSync(file)) return values;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const match = /^\s*(?:export\s+)?([A-Z0-9_]+)=(?:'([^']*)'|"([^"]*)"|(\S*))\s*$/.exec(line);
    if (match) values.set(match[1], match[2] ?? match[3] ?? match[4]);
  }
  return values;
}

export function isServerName(value: string): value is ServerName {
  return (SERVER_NAMES as readonly string[]).includes(value);
}

/** The server tests run on when they do not choose: TEST_SERVER, else Redis 7.0. */
export function defaultServer(): ServerName {
  const chosen = process.env.TEST_SERVER?.trim();
  if (!chosen) return 'redis7';
  if (!isServerName(chosen)) throw new Error(`TEST_SERVER=${chosen} is not one of ${SERVER_NAMES.join(', ')}`);
  return chosen;
}

/** The binaries of one server; throws, naming the install script, when they are not installed. */
export function serverBinaries(name: ServerName = defaultServer()): ServerBinaries {
  const known = SERVERS[name];
  if (!known) throw new Error(`unknown server '${String(name)}': one of ${SERVER_NAMES.join(', ')}`);
  const file = serversEnvFile();
  const fromFile = readEnvFile(file);
  const lookup = (suffix: string): string | undefined => {
    const variable = `${known.variable}_${suffix}`;
    return process.env[variable] || fromFile.get(variable) || undefined;
  };
  if (name === 'redis7') {
    // Debian's redis-server on PATH, as every test has always used; the env file is not needed.
    return {
      name,
      flavor: known.flavor,
      major: known.major,
      server: process.env.REDIS7_SERVER || 'redis-server',
      cli: process.env.REDIS7_CLI || 'redis-cli',
      version: process.env.REDIS7_VERSION || undefined,
    };
  }
  const server = lookup('SERVER');
  const cli = lookup('CLI');
  const missing: string[] = [];
  if (!server) missing.push(`${known.variable}_SERVER is set neither in the environment nor in ${file}${existsSync(file) ? '' : ' (no such file)'}`);
  if (!cli) missing.push(`${known.variable}_CLI is set neither in the environment nor in ${file}`);
  for (const binary of [server, cli]) if (binary && !existsSync(binary)) missing.push(`${binary} does not exist`);
  if (missing.length > 0) {
    throw new Error(`${name} (${known.what}) is not installed: ${missing.join('; ')}. Run .ci/install-servers (as root) to install and build it.`);
  }
  return { name, flavor: known.flavor, major: known.major, server: server!, cli: cli!, version: lookup('VERSION') };
}
