// Command line and environment -> validated Settings. No I/O besides reading the password file.
import { readFileSync } from 'node:fs';
import { UsageError } from './errors';
import { defaultSlotsInFlight } from './migrate';

export type Phase = 'pre' | 'post' | 'all';

export interface PodAddress {
  /** Host name or IP as given (or as discovered). */
  readonly host: string;
  readonly port: number;
}

export interface DiscoverySettings {
  readonly statefulSetName: string;
  readonly headlessService: string;
  readonly namespace: string;
  readonly clusterDomain: string;
  readonly port: number;
}

export interface Settings {
  readonly phase: Phase;
  readonly masters: number;
  readonly replicasPerMaster: number;
  /** Pods in ordinal order, or null to discover them by DNS. */
  readonly pods: readonly PodAddress[] | null;
  readonly password: string | undefined;
  readonly dryRun: boolean;
  readonly discovery: DiscoverySettings;
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
}

export const usage = `Usage: topology --phase pre|post|all --masters M --replicas-per-master R
       [--pods HOST:PORT,HOST:PORT,...] [--password-file FILE] [--dry-run]
       [--slots-in-flight N] [--max-keys-per-second N]

Environment equivalents: PHASE, MASTERS, REPLICAS_PER_MASTER, PODS, PASSWORD_FILE, DRY_RUN=true,
MIGRATION_SLOTS_IN_FLIGHT, MIGRATION_MAX_KEYS_PER_SECOND;
password from --password-file, else REDIS_PASSWORD, else none.
Without --pods, pods are found by DNS:
  \${STATEFULSET_NAME}-<ordinal>.\${HEADLESS_SERVICE}.\${POD_NAMESPACE}.svc.\${CLUSTER_DOMAIN}:\${REDIS_PORT}
  (defaults redis-cluster, redis-cluster-svc, default, cluster.local, 6379).
Timeouts: POD_WAIT_TIMEOUT_SECONDS (default 600), CONVERGE_TIMEOUT_SECONDS (default 120),
REPLICA_SYNC_TIMEOUT_SECONDS (default 1800).
--slots-in-flight: slots each source/target pair migrates at a time, 1..1024 (default \${defaultSlotsInFlight});
  more moves keys faster, fewer keeps client latency on the moving masters lower.
--max-keys-per-second: a cap on keys migrated per second, all pairs together, 0..1000000000
  (default 0, no cap); a cap leaves the masters CPU for their clients on a busy machine.`;

const flagNames: Record<string, string> = {
  '--phase': 'PHASE',
  '--masters': 'MASTERS',
  '--replicas-per-master': 'REPLICAS_PER_MASTER',
  '--pods': 'PODS',
  '--password-file': 'PASSWORD_FILE',
  '--slots-in-flight': 'MIGRATION_SLOTS_IN_FLIGHT',
  '--max-keys-per-second': 'MIGRATION_MAX_KEYS_PER_SECOND',
};

/** Thrown for --help: main prints usage and exits 0. */
export class HelpRequested extends Error {}

type Env = Readonly<Record<string, string | undefined>>;

export function parseSettings(argv: readonly string[], env: Env, readFile: (path: string) => string = (path) => readFileSync(path, 'utf8')): Settings {
  const values: Record<string, string | undefined> = {};
  let dryRunFlag = false;
  for (let index = 0; index < argv.length; index++) {
    const argument = argv[index]!;
    if (argument === '--help' || argument === '-h') throw new HelpRequested();
    if (argument === '--dry-run') {
      dryRunFlag = true;
      continue;
    }
    const [flag, inlineValue] = argument.includes('=') ? splitOnce(argument, '=') : [argument, undefined];
    const key = flagNames[flag];
    if (!key) throw new UsageError(`unknown argument '${argument}'`);
    const value = inlineValue ?? argv[++index];
    if (value === undefined || (inlineValue === undefined && value.startsWith('--'))) {
      throw new UsageError(`${flag} needs a value`);
    }
    values[key] = value;
  }
  const setting = (key: string): string | undefined => {
    const value = values[key] ?? env[key];
    return value === undefined || value.trim() === '' ? undefined : value.trim();
  };

  const phaseText = setting('PHASE');
  if (phaseText === undefined) throw new UsageError('--phase (or PHASE) is required: pre, post or all');
  if (phaseText !== 'pre' && phaseText !== 'post' && phaseText !== 'all') {
    throw new UsageError(`--phase must be pre, post or all, got '${phaseText}'`);
  }

  const masters = parseInteger(setting('MASTERS'), '--masters (MASTERS)');
  if (masters < 3) {
    throw new UsageError(`--masters must be at least 3 (Redis Cluster needs 3 masters to fail over), got ${masters}`);
  }
  if (masters > 16384) throw new UsageError(`--masters must be at most 16384, got ${masters}`);
  const replicasPerMaster = parseInteger(setting('REPLICAS_PER_MASTER'), '--replicas-per-master (REPLICAS_PER_MASTER)');
  if (replicasPerMaster < 0 || replicasPerMaster > 5) {
    throw new UsageError(`--replicas-per-master must be an integer from 0 to 5, got ${replicasPerMaster}`);
  }

  const podsText = setting('PODS');
  const pods = podsText === undefined ? null : parsePods(podsText);

  const passwordFile = setting('PASSWORD_FILE');
  let password: string | undefined;
  if (passwordFile !== undefined) {
    try {
      password = readFile(passwordFile).replace(/\r?\n$/, '');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
      throw new UsageError(`cannot read the password file ${passwordFile} (${code})`);
    }
    if (password === '') throw new UsageError(`the password file ${passwordFile} is empty`);
  } else {
    const fromEnv = env.REDIS_PASSWORD;
    password = fromEnv === undefined || fromEnv === '' ? undefined : fromEnv;
  }

  const dryRunText = values.DRY_RUN ?? env.DRY_RUN;
  const dryRun = dryRunFlag || parseBoolean(dryRunText, 'DRY_RUN');

  const slotsInFlightText = setting('MIGRATION_SLOTS_IN_FLIGHT');
  const slotsInFlight =
    slotsInFlightText === undefined ? defaultSlotsInFlight : parseInteger(slotsInFlightText, '--slots-in-flight (MIGRATION_SLOTS_IN_FLIGHT)');
  if (slotsInFlight < 1 || slotsInFlight > 1024) {
    throw new UsageError(`--slots-in-flight (MIGRATION_SLOTS_IN_FLIGHT) must be an integer from 1 to 1024, got ${slotsInFlight}`);
  }

  const maxKeysText = setting('MIGRATION_MAX_KEYS_PER_SECOND');
  const maxKeysPerSecond = maxKeysText === undefined ? 0 : parseInteger(maxKeysText, '--max-keys-per-second (MIGRATION_MAX_KEYS_PER_SECOND)');
  if (maxKeysPerSecond < 0 || maxKeysPerSecond > 1_000_000_000) {
    throw new UsageError(`--max-keys-per-second (MIGRATION_MAX_KEYS_PER_SECOND) must be an integer from 0 (no cap) to 1000000000, got ${maxKeysPerSecond}`);
  }

  const port = parseInteger(env.REDIS_PORT?.trim() || '6379', 'REDIS_PORT');
  if (port < 1 || port > 55535) throw new UsageError(`REDIS_PORT must be 1..55535 (the bus port is +10000), got ${port}`);

  return {
    phase: phaseText,
    masters,
    replicasPerMaster,
    pods,
    password,
    dryRun,
    discovery: {
      statefulSetName: env.STATEFULSET_NAME?.trim() || 'redis-cluster',
      headlessService: env.HEADLESS_SERVICE?.trim() || 'redis-cluster-svc',
      namespace: env.POD_NAMESPACE?.trim() || 'default',
      clusterDomain: env.CLUSTER_DOMAIN?.trim() || 'cluster.local',
      port,
    },
    podWaitTimeoutMs: parseSeconds(env.POD_WAIT_TIMEOUT_SECONDS, 600, 'POD_WAIT_TIMEOUT_SECONDS'),
    convergeTimeoutMs: parseSeconds(env.CONVERGE_TIMEOUT_SECONDS, 120, 'CONVERGE_TIMEOUT_SECONDS'),
    replicaSyncTimeoutMs: parseSeconds(env.REPLICA_SYNC_TIMEOUT_SECONDS, 1800, 'REPLICA_SYNC_TIMEOUT_SECONDS'),
    slotsInFlight,
    maxKeysPerSecond,
  };
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
  if (!Number.isInteger(port) || port < 1 || port > 55535) {
    throw new UsageError(`--pods entry '${entry}' has port ${match[2]}; expected 1..55535 (the bus port is +10000)`);
  }
  return { host: match[1]!, port };
}

function parseInteger(text: string | undefined, name: string): number {
  if (text === undefined) throw new UsageError(`${name} is required`);
  if (!/^-?\d+$/.test(text)) throw new UsageError(`${name} must be an integer, got '${text}'`);
  return Number(text);
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

function splitOnce(text: string, separator: string): [string, string] {
  const index = text.indexOf(separator);
  return [text.slice(0, index), text.slice(index + 1)];
}
