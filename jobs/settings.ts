// Command line and environment -> validated Settings. No I/O besides reading the password file.
// Names, defaults and bounds come from the contract the chart writes the Jobs' env from.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { BOUNDS, DEFAULTS, ENV, MAX_PODS, desiredPodCount, type Bounds, type DesiredShape, MIGRATION_ENGINES, type MigrationEngineChoice } from './contract';
import { UsageError } from './errors';
import type { PodAddress } from './pod';
import { ORDINAL_PLACEHOLDER, type TlsSettings } from './redis/tls';
import { parseTls } from './tls-settings';

export type Phase = 'pre' | 'post' | 'all';

export interface DiscoverySettings {
  readonly statefulSetName: string;
  readonly headlessService: string;
  readonly namespace: string;
  readonly clusterDomain: string;
  readonly port: number;
}

/** How the program reads where pods run (jobs/observe/placement.ts). */
export interface PlacementSettings {
  /** The node label that names the zone. */
  readonly zoneLabel: string;
  /** Whether the node counts as a failure domain (not for pods on virtual nodes). */
  readonly nodes: boolean;
}

export interface Settings extends DesiredShape {
  readonly phase: Phase;
  /** Pods in ordinal order, or null to discover them by DNS. */
  readonly pods: readonly PodAddress[] | null;
  readonly password: string | undefined;
  readonly dryRun: boolean;
  readonly discovery: DiscoverySettings;
  readonly placement: PlacementSettings;
  /** post: how long to wait for the desired pods to resolve and answer PING. */
  readonly podWaitTimeoutMs: number;
  /** How long to wait for all nodes to agree on the configuration after a change. */
  readonly convergeTimeoutMs: number;
  /** post: how long to wait for every replica to finish syncing from its master before calling it done. */
  readonly replicaSyncTimeoutMs: number;
  /** Slots each source/target pair migrates at a time: the speed / client latency trade. */
  readonly slotsInFlight: number;
  /** Keys migrated per second at most, all pairs together; 0 = no limit. */
  readonly maxKeysPerSecond: number;
  /** TLS to every pod, verifying its certificate; undefined = plain TCP. */
  readonly tls: TlsSettings | undefined;
  /** `auto`: the servers' atomic slot migration where both ends have it and no key rate cap is set; `migrate`: always MIGRATE. */
  readonly migrationEngine: MigrationEngineChoice;
}

export const usage = `Usage: topology --phase pre|post|all --masters M --replicas-per-master R
       [--pods HOST:PORT,HOST:PORT,...] [--password-file FILE] [--dry-run]
       [--tls-ca-file FILE [--tls-cert-file FILE [--tls-key-file FILE]] [--tls-server-name NAME]]
       [--slots-in-flight N] [--max-keys-per-second N] [--migration-engine auto|migrate]

Environment equivalents: ${ENV.phase}, ${ENV.masters}, ${ENV.replicasPerMaster}, ${ENV.pods}, ${ENV.passwordFile}, ${ENV.dryRun}=true,
${ENV.slotsInFlight}, ${ENV.maxKeysPerSecond}, ${ENV.tlsCaFile}, ${ENV.tlsCertFile}, ${ENV.tlsKeyFile}, ${ENV.tlsServerName}; a flag wins over its variable.
Password from --password-file, else ${ENV.password}, else none.
Without --pods, pods are found by DNS:
  $${ENV.statefulSetName}-<ordinal>.$${ENV.headlessService}.$${ENV.namespace}.svc.$${ENV.clusterDomain}:$${ENV.port}
  (defaults ${DEFAULTS.statefulSetName}, ${DEFAULTS.headlessService}, ${DEFAULTS.namespace}, ${DEFAULTS.clusterDomain}, ${DEFAULTS.port}).
Where pods run (shards are spread over zones and nodes) is read through the Kubernetes API with the pod's service account
  token, when there is one: each pod's node, and the node's zone from its label ${ENV.zoneLabel} (default ${DEFAULTS.zoneLabel});
  ${ENV.placementNodes}=false counts zones only (pods on virtual nodes). With --pods, or without access, it is unknown.
Timeouts: ${ENV.podWaitTimeoutSeconds} (default ${DEFAULTS.podWaitTimeoutSeconds}), ${ENV.convergeTimeoutSeconds} (default ${DEFAULTS.convergeTimeoutSeconds}),
${ENV.replicaSyncTimeoutSeconds} (default ${DEFAULTS.replicaSyncTimeoutSeconds}).
--masters: ${BOUNDS.masters.min}..${BOUNDS.masters.max}; --replicas-per-master: ${BOUNDS.replicasPerMaster.min}..${BOUNDS.replicasPerMaster.max}; at most ${MAX_PODS} pods in all.
--slots-in-flight: slots each source/target pair migrates at a time, ${BOUNDS.slotsInFlight.min}..${BOUNDS.slotsInFlight.max} (default ${DEFAULTS.slotsInFlight});
  more moves keys faster, fewer keeps client latency on the moving masters lower.
--max-keys-per-second: a cap on keys migrated per second, all pairs together, ${BOUNDS.maxKeysPerSecond.min}..${BOUNDS.maxKeysPerSecond.max}
  (default ${DEFAULTS.maxKeysPerSecond}, no cap); a cap leaves the masters CPU for their clients on a busy machine.
--tls-ca-file: connect over TLS and verify every pod's certificate against this CA (PEM);
--tls-cert-file, --tls-key-file: the client certificate and its key (default: in the certificate's file), for pods
  that require one;
--tls-server-name: the name each pod's certificate must carry, ${ORDINAL_PLACEHOLDER} standing for its ordinal (default: the
  pod's host; needed with --pods as IPs, e.g. redis-cluster-${ORDINAL_PLACEHOLDER}.redis-cluster-svc.default.svc.cluster.local).
--migration-engine (${ENV.migrationEngine}): auto (default) lets the servers move slots themselves where both ends can
  (Valkey 9 atomic slot migration; without a key rate cap, which it cannot honour), else MIGRATE; migrate: always MIGRATE.`;

/** Flags that take a value, and the variable each stands for. */
const valueFlags = {
  phase: ENV.phase,
  masters: ENV.masters,
  'replicas-per-master': ENV.replicasPerMaster,
  pods: ENV.pods,
  'password-file': ENV.passwordFile,
  'slots-in-flight': ENV.slotsInFlight,
  'max-keys-per-second': ENV.maxKeysPerSecond,
  'tls-ca-file': ENV.tlsCaFile,
  'tls-cert-file': ENV.tlsCertFile,
  'tls-key-file': ENV.tlsKeyFile,
  'tls-server-name': ENV.tlsServerName,
  'migration-engine': ENV.migrationEngine,
} as const;

const options = {
  ...(Object.fromEntries(Object.keys(valueFlags).map((name) => [name, { type: 'string' }])) as Record<keyof typeof valueFlags, { type: 'string' }>),
  'dry-run': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Thrown for --help: main prints usage and exits 0. */
export class HelpRequested extends Error {}

type Env = Readonly<Record<string, string | undefined>>;

export function parseSettings(argv: readonly string[], env: Env, readFile: (path: string) => string = (path) => readFileSync(path, 'utf8')): Settings {
  const flags = parseFlags(argv);
  if (flags.help) throw new HelpRequested();
  const setting = (variable: string): string | undefined => {
    const flag = Object.entries(valueFlags).find(([, name]) => name === variable)?.[0] as keyof typeof valueFlags | undefined;
    const value = (flag === undefined ? undefined : flags[flag]) ?? env[variable];
    return value === undefined || value.trim() === '' ? undefined : value.trim();
  };

  const phase = setting(ENV.phase);
  if (phase === undefined) throw new UsageError(`--phase (or ${ENV.phase}) is required: pre, post or all`);
  if (phase !== 'pre' && phase !== 'post' && phase !== 'all') throw new UsageError(`--phase must be pre, post or all, got '${phase}'`);

  const masters = parseInteger(setting(ENV.masters), `--masters (${ENV.masters})`);
  if (masters < BOUNDS.masters.min) {
    throw new UsageError(`--masters must be at least ${BOUNDS.masters.min} (Redis Cluster needs 3 masters to fail over), got ${masters}`);
  }
  if (masters > BOUNDS.masters.max) throw new UsageError(`--masters must be at most ${BOUNDS.masters.max}, got ${masters}`);
  const replicasPerMaster = parseInteger(setting(ENV.replicasPerMaster), `--replicas-per-master (${ENV.replicasPerMaster})`);
  requireWithin(replicasPerMaster, BOUNDS.replicasPerMaster, '--replicas-per-master');
  const pods = desiredPodCount({ masters, replicasPerMaster });
  if (pods > MAX_PODS) {
    throw new UsageError(`--masters ${masters} with --replicas-per-master ${replicasPerMaster} means ${pods} pods; Redis Cluster allows at most ${MAX_PODS}`);
  }

  const podsText = setting(ENV.pods);
  const password = readPassword(setting(ENV.passwordFile), env[ENV.password], readFile);
  const dryRun = flags['dry-run'] === true || parseBoolean(env[ENV.dryRun], ENV.dryRun);

  const slotsInFlight = optionalInteger(setting(ENV.slotsInFlight), DEFAULTS.slotsInFlight, `--slots-in-flight (${ENV.slotsInFlight})`);
  requireWithin(slotsInFlight, BOUNDS.slotsInFlight, `--slots-in-flight (${ENV.slotsInFlight})`);
  const maxKeysPerSecond = optionalInteger(setting(ENV.maxKeysPerSecond), DEFAULTS.maxKeysPerSecond, `--max-keys-per-second (${ENV.maxKeysPerSecond})`);
  requireWithin(maxKeysPerSecond, BOUNDS.maxKeysPerSecond, `--max-keys-per-second (${ENV.maxKeysPerSecond})`, ' (0 = no cap)');
  const migrationEngine = setting(ENV.migrationEngine) ?? DEFAULTS.migrationEngine;
  if (!(MIGRATION_ENGINES as readonly string[]).includes(migrationEngine)) {
    throw new UsageError(`--migration-engine (${ENV.migrationEngine}) must be ${MIGRATION_ENGINES.join(' or ')}, got '${migrationEngine}'`);
  }

  const port = optionalInteger(env[ENV.port]?.trim() || undefined, DEFAULTS.port, ENV.port);
  requireWithin(port, BOUNDS.port, ENV.port, ' (the bus port is +10000)');

  return {
    phase,
    masters,
    replicasPerMaster,
    pods: podsText === undefined ? null : parsePods(podsText),
    password,
    dryRun,
    discovery: {
      statefulSetName: env[ENV.statefulSetName]?.trim() || DEFAULTS.statefulSetName,
      headlessService: env[ENV.headlessService]?.trim() || DEFAULTS.headlessService,
      namespace: env[ENV.namespace]?.trim() || DEFAULTS.namespace,
      clusterDomain: env[ENV.clusterDomain]?.trim() || DEFAULTS.clusterDomain,
      port,
    },
    placement: parsePlacement(env),
    podWaitTimeoutMs: parseSeconds(env[ENV.podWaitTimeoutSeconds], DEFAULTS.podWaitTimeoutSeconds, ENV.podWaitTimeoutSeconds),
    convergeTimeoutMs: parseSeconds(env[ENV.convergeTimeoutSeconds], DEFAULTS.convergeTimeoutSeconds, ENV.convergeTimeoutSeconds),
    replicaSyncTimeoutMs: parseSeconds(env[ENV.replicaSyncTimeoutSeconds], DEFAULTS.replicaSyncTimeoutSeconds, ENV.replicaSyncTimeoutSeconds),
    slotsInFlight,
    maxKeysPerSecond,
    tls: parseTls(setting),
    migrationEngine: migrationEngine as MigrationEngineChoice,
  };
}

/** util.parseArgs, with its errors turned into one UsageError naming the flag. */
function parseFlags(argv: readonly string[]) {
  // A value that starts with '-' (a negative number) after its flag is still that flag's value,
  // so that "--replicas-per-master -1" is refused for its value rather than as ambiguous.
  const joined: string[] = [];
  for (let index = 0; index < argv.length; index++) {
    const argument = argv[index]!;
    const next = argv[index + 1];
    const name = argument.startsWith('--') ? argument.slice(2) : '';
    if (name in valueFlags && next !== undefined && /^-\d/.test(next)) {
      joined.push(`${argument}=${next}`);
      index++;
    } else joined.push(argument);
  }
  try {
    return parseArgs({ args: joined, options, strict: true, allowPositionals: false }).values;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const message = (error as Error).message;
    const flag = /'(-[^' ]+)/.exec(message)?.[1] ?? '';
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') throw new UsageError(`unknown argument '${flag}'`);
    if (code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') throw new UsageError(`unexpected argument '${/'([^']+)'/.exec(message)?.[1] ?? ''}'`);
    if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
      const named = /--[a-z-]+/.exec(message)?.[0] ?? flag;
      throw new UsageError(named === '--dry-run' || named === '--help' ? `${named} takes no value` : `${named} needs a value`);
    }
    throw new UsageError(message);
  }
}

function readPassword(passwordFile: string | undefined, fromEnv: string | undefined, readFile: (path: string) => string): string | undefined {
  if (passwordFile === undefined) return fromEnv === undefined || fromEnv === '' ? undefined : fromEnv;
  let password: string;
  try {
    password = readFile(passwordFile).replace(/\r?\n$/, '');
  } catch (error) {
    throw new UsageError(`cannot read the password file ${passwordFile} (${(error as NodeJS.ErrnoException).code ?? 'unreadable'})`);
  }
  if (password === '') throw new UsageError(`the password file ${passwordFile} is empty`);
  return password;
}

export function parsePods(text: string): PodAddress[] {
  const entries = text.split(',').map((entry) => entry.trim());
  if (entries.some((entry) => entry === '')) throw new UsageError(`--pods has an empty entry: '${text}'`);
  const pods = entries.map(parseHostPort);
  const seen = new Set<string>();
  for (const pod of pods) {
    const key = `${pod.host}:${pod.port}`;
    if (seen.has(key)) throw new UsageError(`--pods lists ${key} twice`);
    seen.add(key);
  }
  return pods;
}

export function parseHostPort(entry: string): PodAddress {
  const match = /^\[([^\]]+)\]:(\d+)$/.exec(entry) ?? /^([^:\s]+):(\d+)$/.exec(entry);
  if (!match) throw new UsageError(`--pods entry '${entry}' is not HOST:PORT`);
  const port = Number(match[2]);
  if (!Number.isInteger(port) || port < BOUNDS.port.min || port > BOUNDS.port.max) {
    throw new UsageError(`--pods entry '${entry}' has port ${match[2]}; expected ${BOUNDS.port.min}..${BOUNDS.port.max} (the bus port is +10000)`);
  }
  return { host: match[1]!, port };
}

function parseInteger(text: string | undefined, name: string): number {
  if (text === undefined) throw new UsageError(`${name} is required`);
  if (!/^-?\d+$/.test(text)) throw new UsageError(`${name} must be an integer, got '${text}'`);
  return Number(text);
}

function optionalInteger(text: string | undefined, fallback: number, name: string): number {
  return text === undefined ? fallback : parseInteger(text, name);
}

function requireWithin(value: number, bounds: Bounds, name: string, note = ''): void {
  if (value < bounds.min || value > bounds.max) {
    throw new UsageError(`${name} must be an integer from ${bounds.min} to ${bounds.max}${note}, got ${value}`);
  }
}

function parseBoolean(text: string | undefined, name: string): boolean {
  if (text === undefined || text.trim() === '') return false;
  const normalized = text.trim().toLowerCase();
  if (['true', '1', 'yes'].includes(normalized)) return true;
  if (['false', '0', 'no'].includes(normalized)) return false;
  throw new UsageError(`${name} must be true or false, got '${text}'`);
}

function parseSeconds(text: string | undefined, fallback: number, name: string): number {
  if (text === undefined || text.trim() === '') return fallback * 1000;
  if (!/^\d+$/.test(text.trim())) throw new UsageError(`${name} must be a whole number of seconds, got '${text}'`);
  return Number(text.trim()) * 1000;
}

/** A label key: an optional DNS subdomain and '/', then a name of at most 63 characters. */
const LABEL_KEY = /^(([a-z0-9]([-a-z0-9]*[a-z0-9])?)(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;

function parsePlacement(env: Env): PlacementSettings {
  const zoneLabel = env[ENV.zoneLabel]?.trim() || DEFAULTS.zoneLabel;
  if (!LABEL_KEY.test(zoneLabel) || zoneLabel.length > 317) {
    throw new UsageError(`${ENV.zoneLabel} must be a node label key such as ${DEFAULTS.zoneLabel}, got '${zoneLabel}'`);
  }
  const nodes = env[ENV.placementNodes]?.trim() ? parseBoolean(env[ENV.placementNodes], ENV.placementNodes) : DEFAULTS.placementNodes;
  return { zoneLabel, nodes };
}
