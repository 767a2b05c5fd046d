// `npm run bench`: grows a Redis Cluster 3 -> 4 masters and shrinks it back, once per contender
// (the server's cli --cluster; on Valkey 9 also the cli with atomic slot migration and the
// servers' atomic slot migration issued by hand; the topology program, on Valkey 9 also forced to
// MIGRATE), each from the same freshly built starting point, under a concurrent client; verifies
// every key; prints one table with the ratios and optionally writes it as JSON. `--server` picks
// Redis 7 or 8 or Valkey 8 or 9; `--scale` runs the scale series instead (scale.ts). See
// docs/performance.md.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import Redis from 'ioredis';
import { LocalRedisPods } from '../support/redis-pods.js';
import { isServerName, SERVER_NAMES, serverBinaries, type ServerBinaries, type ServerName } from '../support/server-binaries.js';
import { assertSucceeded, killRunningChildren, runChild } from './child-process.js';
import { countKeysInSlots, slotMapOf, slotsWhoseKeysMoved, waitForAgreement, waitForReplication, withConnection, type SlotMap } from './cluster-view.js';
import { CliContender, defaultBundle, ProgramContender, type Contender, type OperationContext } from './contenders.js';
import { Dataset } from './dataset.js';
import { activeFloorPods, measureFloor, type FloorResult } from './floor.js';
import { NativeAsmContender } from './native-asm.js';
import { formatReport, ratios, type OperationResult } from './report.js';
import { runScaleSeries } from './scale.js';
import { Traffic } from './traffic.js';
import { readCommandStats, subtractStats } from './command-stats.js';
import { cpuDuring, serverCpuMs } from './cpu.js';

const usage = `npm run bench -- [options]
  --server NAME          the pods' server, and whose cli is the contender: ${SERVER_NAMES.join('|')} (default redis7)
  --keys N               keys in the data set (default 1000000)
  --value-size BYTES     bytes per value (default 100)
  --masters M            masters at the start; grows to M+1 and back (default 3)
  --client-rate OPS      concurrent client's reads+writes per second during each operation (default 500; 0 = none)
  --json FILE            also write the results as JSON
  --skip-cli             not the server's cli (--skip-redis-cli is the same)
  --skip-cli-asm         not the cli with --cluster-use-atomic-slot-migration (run where the cli has it)
  --skip-native-asm      not CLUSTER MIGRATESLOTS issued by the bench (run on Valkey 9)
  --skip-program         not the program with its default engine
  --skip-program-migrate not the program with --migration-engine migrate (run where the default engine is ASM)
  --skip-floor           do not measure the plain-MIGRATE floor
  --noop-runs N          no-op post runs on the grown cluster, for the program's fixed cost (default 3)
  --new-pods-age SECONDS how long the two new pods run before the grow starts (default 0: it starts at once)
  --redis-cli-pipeline N the cli's --cluster-pipeline, keys per MIGRATE (default: the cli's own, 10)
  --floor-batch N        keys per MIGRATE for the large-batch floor (default 1000)
  --program-args "..."   extra arguments for the topology program (e.g. a rate setting)
  --program-retries N    run the program again after a failure, up to N times, as a Job would (default 0; failures are reported)
  --bundle FILE          the topology program (default jobs/bundle/topology.cjs)
  --timeout SECONDS      limit per operation (default 1800)
  --subnet K             third address octet: cli K, program K+1, floor K+2, native ASM K+3, cli ASM K+4,
                         program migrate K+5 (default 240)
  --log-dir DIR          where each operation's command output goes (default: a new temp directory)

  --scale N,N,...        instead: the scale series, for each N pods (N/2 masters, 1 replica each) the program's
                         bootstrap, grow by one master, shrink back and a no-op, with its CPU and peak memory
                         (uses --keys, --value-size, --server, --bundle, --timeout, --subnet, --json, --program-args)
  --maxmemory SIZE       the scale series' maxmemory per pod (default 64mb)`;

const { values: flags } = parseArgs({
  options: {
    keys: { type: 'string', default: '1000000' },
    'value-size': { type: 'string', default: '100' },
    masters: { type: 'string', default: '3' },
    'client-rate': { type: 'string', default: '500' },
    json: { type: 'string' },
    server: { type: 'string', default: 'redis7' },
    'skip-cli': { type: 'boolean', default: false },
    'skip-redis-cli': { type: 'boolean', default: false },
    'skip-cli-asm': { type: 'boolean', default: false },
    'skip-native-asm': { type: 'boolean', default: false },
    'skip-program': { type: 'boolean', default: false },
    'skip-program-migrate': { type: 'boolean', default: false },
    'noop-runs': { type: 'string', default: '3' },
    'new-pods-age': { type: 'string', default: '0' },
    scale: { type: 'string' },
    maxmemory: { type: 'string', default: '64mb' },
    'skip-floor': { type: 'boolean', default: false },
    'redis-cli-pipeline': { type: 'string' },
    'floor-batch': { type: 'string', default: '1000' },
    'program-args': { type: 'string', default: '' },
    'program-retries': { type: 'string', default: '0' },
    bundle: { type: 'string', default: defaultBundle },
    timeout: { type: 'string', default: '1800' },
    subnet: { type: 'string', default: '240' },
    'log-dir': { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});

function integer(name: string, text: string | undefined, minimum: number, maximum = Number.MAX_SAFE_INTEGER): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < minimum || value > maximum) {
    console.error(`--${name} must be an integer from ${minimum} to ${maximum}, got ${JSON.stringify(text)}\n\n${usage}`);
    process.exit(2);
  }
  return value;
}

if (flags.help) {
  console.log(usage);
  process.exit(0);
}

if (!isServerName(flags.server!)) {
  console.error(`--server must be one of ${SERVER_NAMES.join(', ')}, got ${JSON.stringify(flags.server)}\n\n${usage}`);
  process.exit(2);
}
const server: ServerName = flags.server;
const scaleSizes = flags.scale?.split(',').map((size) => integer('scale', size.trim(), 6, 250));
if (scaleSizes?.some((size) => size % 2 !== 0)) {
  console.error(`--scale sizes must be even (N/2 masters with one replica each), got ${flags.scale}`);
  process.exit(2);
}

const options = {
  server,
  keys: integer('keys', flags.keys, 1),
  valueSize: integer('value-size', flags['value-size'], 16),
  masters: integer('masters', flags.masters, 3, 100),
  clientRate: integer('client-rate', flags['client-rate'], 0, 100_000),
  redisCliPipeline: flags['redis-cli-pipeline'] === undefined ? undefined : integer('redis-cli-pipeline', flags['redis-cli-pipeline'], 1),
  floorBatch: integer('floor-batch', flags['floor-batch'], 1),
  programArgs: flags['program-args']!.split(' ').filter(Boolean),
  programRetries: integer('program-retries', flags['program-retries'], 0, 10),
  bundle: path.resolve(flags.bundle!),
  timeoutMs: integer('timeout', flags.timeout, 1) * 1000,
  subnet: integer('subnet', flags.subnet, 0, 248),
  noopRuns: integer('noop-runs', flags['noop-runs'], 0, 20),
  newPodsAgeMs: integer('new-pods-age', flags['new-pods-age'], 0, 600) * 1000,
  logDir: flags['log-dir'] ? path.resolve(flags['log-dir']) : path.join(os.tmpdir(), `redis-bench-${process.pid}`),
};
mkdirSync(options.logDir, { recursive: true });

const log = (message: string) => console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}`);

// Every pod set alive right now, so Ctrl-C and failures stop them all.
const livePodSets = new Set<LocalRedisPods>();
let cleaningUp = false;
async function cleanUp(): Promise<void> {
  killRunningChildren();
  const sets = [...livePodSets, ...(activeFloorPods ? [activeFloorPods] : [])];
  await Promise.allSettled(sets.map((pods) => pods.destroy()));
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (cleaningUp) return;
    cleaningUp = true;
    log(`${signal}: stopping every process this bench started`);
    void cleanUp().finally(() => process.exit(130));
  });
}

function clusterClientFor(addresses: string[]): InstanceType<typeof Redis.Cluster> {
  const seeds = addresses.map((address) => ({ host: address.slice(0, address.lastIndexOf(':')), port: Number(address.slice(address.lastIndexOf(':') + 1)) }));
  const client = new Redis.Cluster(seeds, {
    slotsRefreshTimeout: 2000,
    retryDelayOnMoved: 0,
    retryDelayOnTryAgain: 100,
    retryDelayOnClusterDown: 200,
    maxRedirections: 32,
  });
  client.on('error', () => {});
  return client;
}

/** Masters on even ordinals, each with its replica on the next odd ordinal, then the data set. */
async function buildStartingPoint(pods: LocalRedisPods, dataset: Dataset): Promise<{ buildMs: number; loadMs: number }> {
  const started = performance.now();
  const masters = options.masters;
  const addresses = pods.addresses(2 * masters);
  await pods.startMany(2 * masters);
  const masterAddresses = addresses.filter((_, ordinal) => ordinal % 2 === 0);
  // The cli's own replica placement would pair replicas with other masters; join them by hand.
  assertSucceeded(await runChild(pods.binaries.cli, ['--cluster', 'create', ...masterAddresses, '--cluster-yes'], 120_000));
  const masterIds = await Promise.all(
    masterAddresses.map((address) => withConnection(address, async (client) => String(await client.call('CLUSTER', 'MYID')))),
  );
  await Promise.all(
    masterIds.map((masterId, index) =>
      withConnection(addresses[2 * index + 1], async (client) => {
        const [host, port] = [pods.hostOf(0), String(pods.port)];
        await client.call('CLUSTER', 'MEET', host, port);
        for (let attempt = 0; ; attempt++) {
          if (String(await client.call('CLUSTER', 'NODES')).includes(masterId)) break;
          if (attempt > 300) throw new Error(`${addresses[2 * index + 1]} did not learn of master ${masterId}`);
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        await client.call('CLUSTER', 'REPLICATE', masterId);
      }),
    ),
  );
  const nodes = await waitForAgreement(addresses);
  const buildMs = performance.now() - started;
  const loadStarted = performance.now();
  await dataset.load(slotMapOf(nodes));
  const loadMs = performance.now() - loadStarted;
  await waitForReplication(nodes);
  let stored = 0;
  for (const address of masterAddresses) stored += await withConnection(address, async (client) => Number(await client.dbsize()));
  if (stored !== dataset.keyCount) throw new Error(`loaded ${dataset.keyCount} keys but the masters hold ${stored}`);
  return { buildMs, loadMs };
}

interface MeasureInput {
  contender: Contender;
  operation: 'grow' | 'shrink';
  pods: LocalRedisPods;
  dataset: Dataset;
  fromMasters: number;
  toMasters: number;
}

async function measure({ contender, operation, pods, dataset, fromMasters, toMasters }: MeasureInput, previousClients: Traffic[]): Promise<OperationResult> {
  const podCount = 2 * Math.max(fromMasters, toMasters);
  const membersBefore = pods.addresses(2 * fromMasters);
  const membersAfter = pods.addresses(2 * toMasters);
  const before: SlotMap = slotMapOf(await waitForAgreement(membersBefore));
  const cluster = clusterClientFor(membersBefore);
  const label = `${contender.name.replace(/ /g, '-')}-${operation}`;
  const traffic = new Traffic(cluster, dataset, options.clientRate, label, options.timeoutMs / 1000);
  const context: OperationContext = {
    pods,
    fromMasters,
    toMasters,
    podCount,
    timeoutMs: options.timeoutMs,
    logFile: path.join(options.logDir, `${label}.log`),
  };
  log(`${label}: ${fromMasters} -> ${toMasters} masters with ${contender.name} (output: ${context.logFile})`);
  await cluster.get('warm-up');
  const statsBefore = await readCommandStats(pods.addresses(podCount));
  const serverCpuBefore = serverCpuMs(pods);
  const benchCpuBefore = process.cpuUsage();
  traffic.start();
  const operationRun = operation === 'grow' ? contender.grow(context) : contender.shrink(context);
  // The client runs exactly as long as the operation, whether it succeeds or not.
  await operationRun.catch(() => {});
  const client = await traffic.stop();
  const cpu = cpuDuring(serverCpuBefore, serverCpuMs(pods), process.cpuUsage(benchCpuBefore), undefined);
  const timing = await operationRun;
  cpu.toolMs = timing.toolCpuMs;
  const wire = subtractStats(await readCommandStats(pods.addresses(podCount)), statsBefore);
  let postAfterScaleDownMs: number | undefined;
  if (operation === 'shrink') {
    // The StatefulSet scales down: the leaving pods and their volumes go.
    for (let ordinal = 2 * toMasters; ordinal < podCount; ordinal++) await pods.remove(ordinal);
    if (contender instanceof ProgramContender) {
      const post = await contender.postAfterScaleDown({ ...context, logFile: path.join(options.logDir, `${label}-post.log`) });
      postAfterScaleDownMs = post.ms;
    }
  }
  const failedAttempts =
    contender instanceof ProgramContender
      ? [...contender.failedAttempts.entries()].filter(([file]) => file.startsWith(path.join(options.logDir, label))).flatMap(([, failures]) => failures)
      : [];
  const afterNodes = await waitForAgreement(membersAfter);
  const after = slotMapOf(afterNodes);
  const moved = slotsWhoseKeysMoved(before, after);
  const keysMoved = await countKeysInSlots(moved, after);
  log(`${label}: ${(timing.totalMs / 1000).toFixed(2)} s, ${moved.length} slots and ${keysMoved} keys moved; verifying every key`);
  const verify = await dataset.verify(after);
  client.lostWrites = 0;
  for (const earlier of [...previousClients, traffic]) client.lostWrites += await earlier.verifyWrites(cluster);
  await cluster.quit().catch(() => cluster.disconnect());
  const check = await pods.clusterCheck(0);
  const replicaCounts = after.masters.map((master) => (after.replicasOf.get(master.id) ?? []).length);
  const shapeOk = after.masters.length === toMasters && replicaCounts.every((count) => count === 1) && afterNodes.length === 2 * toMasters;
  previousClients.push(traffic);
  return {
    contender: contender.name,
    role: contender.role,
    operation,
    fromMasters,
    toMasters,
    totalMs: timing.totalMs,
    migrateMs: timing.migrateMs,
    migrateSource: timing.migrateSource,
    phases: timing.phases,
    slotsMoved: moved.length,
    keysMoved,
    keysPerSecondMigrate: timing.migrateMs === undefined ? undefined : keysMoved / (timing.migrateMs / 1000),
    keysPerSecondTotal: keysMoved / (timing.totalMs / 1000),
    client,
    verify,
    clusterCheckOk: check.ok,
    shapeOk,
    shape: `${after.masters.length} masters with ${replicaCounts.join('/')} replicas, ${afterNodes.length} nodes`,
    logFile: timing.logFile,
    postAfterScaleDownMs,
    beforeMigration: timing.beforeMigration,
    stoppedRounds: timing.stoppedRounds,
    failedAttempts,
    wire,
    cpu,
  };
}

async function runContender(contender: Contender, subnet: number, dataset: Dataset, setups: Record<string, unknown>): Promise<OperationResult[]> {
  const pods = new LocalRedisPods({ subnet, server: options.server });
  livePodSets.add(pods);
  try {
    log(`${contender.name}: building ${options.masters} masters + ${options.masters} replicas on ${pods.hostOf(0)}.. and loading ${dataset.keyCount} keys`);
    const setup = await buildStartingPoint(pods, dataset);
    setups[contender.name] = setup;
    log(
      `${contender.name}: cluster built in ${(setup.buildMs / 1000).toFixed(1)} s, keys loaded in ${(setup.loadMs / 1000).toFixed(1)} s (${Math.round(dataset.keyCount / (setup.loadMs / 1000))} keys/s)`,
    );
    // The StatefulSet scales up: two new, empty pods.
    await pods.startMany(2, 2 * options.masters);
    // Kubernetes starts the post Job only once they are ready; how long they have run decides how
    // long a new master waits before its cluster_state turns ok (see docs/performance.md).
    if (options.newPodsAgeMs > 0) await new Promise((resolve) => setTimeout(resolve, options.newPodsAgeMs));
    const clients: Traffic[] = [];
    const results: OperationResult[] = [];
    try {
      await growAndShrink(contender, pods, dataset, clients, results);
    } catch (error) {
      // One contender failing (e.g. a cluster that never agrees again) is a result, not the end of the bench.
      const operation = results.length === 0 ? 'grow' : 'shrink';
      failures.push({ contender: contender.name, operation, error: (error as Error).message });
      log(`${contender.name} ${operation} FAILED: ${(error as Error).message}`);
    }
    return results;
  } finally {
    await pods.destroy();
    livePodSets.delete(pods);
  }
}

/** Operations that failed outright (no result to show), by contender. */
const failures: Array<{ contender: string; operation: 'grow' | 'shrink'; error: string }> = [];

async function growAndShrink(contender: Contender, pods: LocalRedisPods, dataset: Dataset, clients: Traffic[], results: OperationResult[]): Promise<void> {
  const grow = await measure({ contender, operation: 'grow', pods, dataset, fromMasters: options.masters, toMasters: options.masters + 1 }, clients);
  results.push(grow);
  if (contender instanceof ProgramContender && options.noopRuns > 0) {
    // The program's fixed cost: post again on the cluster that already has the shape.
    grow.noOpPostMs = [];
    for (let run = 0; run < options.noopRuns; run++) {
      const noOp = await contender.timedRun('post', options.masters + 1, pods.addresses(2 * (options.masters + 1)), {
        timeoutMs: options.timeoutMs,
        logFile: path.join(options.logDir, `${contender.name.replace(/ /g, '-')}-noop-${run + 1}.log`),
      });
      grow.noOpPostMs.push(noOp.ms);
    }
    log(`${contender.name}: no-op post ${grow.noOpPostMs.map((ms) => (ms / 1000).toFixed(2)).join(', ')} s`);
  }
  results.push(await measure({ contender, operation: 'shrink', pods, dataset, fromMasters: options.masters + 1, toMasters: options.masters }, clients));
}

function machine(binaries: ServerBinaries) {
  let redisVersion = 'unknown';
  try {
    redisVersion = execFileSync(binaries.server, ['--version'], { encoding: 'utf8' }).trim();
  } catch {
    // reported as unknown
  }
  return {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    loadAverage: os.loadavg().map((load) => Number(load.toFixed(2))),
    node: process.version,
    redis: redisVersion,
    os: `${os.type()} ${os.release()}`,
  };
}

/** Whether this cli has --cluster-use-atomic-slot-migration (valkey-cli 9.1 has it, though its --cluster help does not say so). */
function cliHasAtomicSlotMigration(cli: string): boolean {
  return spawnSync(cli, ['--cluster-use-atomic-slot-migration', '--version'], { stdio: 'ignore' }).status === 0;
}

async function main(): Promise<void> {
  const binaries = serverBinaries(options.server);
  const nativeAsm = binaries.flavor === 'valkey' && binaries.major >= 9;
  const cliAsm = cliHasAtomicSlotMigration(binaries.cli);
  const contenders: Array<[Contender, number]> = [];
  if (!flags['skip-cli'] && !flags['skip-redis-cli']) contenders.push([new CliContender(binaries, false, options.redisCliPipeline), options.subnet]);
  if (!flags['skip-cli-asm'] && cliAsm) contenders.push([new CliContender(binaries, true, options.redisCliPipeline), options.subnet + 4]);
  if (!flags['skip-native-asm'] && nativeAsm) contenders.push([new NativeAsmContender(), options.subnet + 3]);
  if (!flags['skip-program'] || (!flags['skip-program-migrate'] && nativeAsm)) {
    if (!existsSync(options.bundle)) throw new Error(`${options.bundle} does not exist; run npm run bundle`);
  }
  if (!flags['skip-program']) contenders.push([new ProgramContender(options.bundle, options.programArgs, options.programRetries), options.subnet + 1]);
  if (!flags['skip-program-migrate'] && nativeAsm) {
    contenders.push([
      new ProgramContender(
        options.bundle,
        [...options.programArgs, '--migration-engine', 'migrate'],
        options.programRetries,
        'program migrate',
        'program-migrate',
      ),
      options.subnet + 5,
    ]);
  }
  log(
    `${binaries.name} (${binaries.server}): ${contenders.map(([contender]) => contender.name).join(', ')}` +
      `${cliAsm ? '' : `; ${path.basename(binaries.cli)} has no --cluster-use-atomic-slot-migration`}${nativeAsm ? '' : '; no atomic slot migration on this server'}`,
  );
  const startedAt = new Date().toISOString();
  const hostBefore = machine(binaries);
  log(`indexing ${options.keys} keys by slot`);
  const dataset = new Dataset(options.keys, options.valueSize);
  const setups: Record<string, unknown> = {};
  const results: OperationResult[] = [];
  for (const [contender, subnet] of contenders) results.push(...(await runContender(contender, subnet, dataset, setups)));
  let floor: FloorResult | undefined;
  if (!flags['skip-floor']) {
    const floorKeys = results.find((result) => result.operation === 'grow')?.keysMoved ?? Math.round(options.keys / (options.masters + 1));
    log(`floor: moving ${floorKeys} keys between two plain servers`);
    floor = await measureFloor(dataset, floorKeys, options.subnet + 2, options.floorBatch, options.server);
  }
  const heading =
    `Slot migration benchmark: ${options.keys.toLocaleString('en-US')} keys x ${options.valueSize} B, ${options.masters} -> ${options.masters + 1} -> ${options.masters} masters (1 replica each), ` +
    `client ${options.clientRate} ops/s${options.newPodsAgeMs > 0 ? `, new pods up ${options.newPodsAgeMs / 1000} s before the grow` : ''}; ${hostBefore.cpus} x ${hostBefore.cpuModel}, load ${hostBefore.loadAverage.join(' ')}; ${hostBefore.redis.split(' ').slice(0, 3).join(' ')} (${binaries.name})`;
  console.log(formatReport(results, floor, heading));
  for (const failure of failures) console.log(`\nFAILED, no result: ${failure.operation} with ${failure.contender}: ${failure.error}`);
  console.log(`\ncommand output of each operation: ${options.logDir}`);
  if (flags.json) {
    const report = {
      startedAt,
      finishedAt: new Date().toISOString(),
      machine: hostBefore,
      loadAverageAfter: os.loadavg(),
      options,
      setups,
      results,
      ratios: ratios(results),
      failures,
      floor,
    };
    writeFileSync(flags.json, `${JSON.stringify(report, null, 2)}\n`);
    console.log(`JSON: ${path.resolve(flags.json)}`);
  }
  const failed = results.filter(
    (result) => result.verify.missing + result.verify.wrong > 0 || !result.clusterCheckOk || !result.shapeOk || (result.client.lostWrites ?? 0) > 0,
  );
  if (failures.length > 0) process.exitCode = 1;
  if (failed.length > 0) {
    console.error(
      `\nFAILED: ${failed.map((result) => `${result.operation} ${result.contender} (${result.shape}, check ${result.clusterCheckOk ? 'ok' : 'failed'})`).join('; ')}`,
    );
    process.exitCode = 1;
  }
}

try {
  if (scaleSizes) {
    await runScaleSeries({
      sizes: scaleSizes,
      server: options.server,
      keys: options.keys,
      valueSize: options.valueSize,
      bundle: options.bundle,
      programArgs: options.programArgs,
      timeoutMs: options.timeoutMs,
      subnet: options.subnet,
      logDir: options.logDir,
      maxmemory: flags.maxmemory!,
      json: flags.json,
      log,
      livePodSets,
    });
  } else await main();
} catch (error) {
  console.error(`bench failed: ${(error as Error).stack ?? String(error)}`);
  process.exitCode = 1;
} finally {
  await cleanUp();
}
// ioredis or a stray timer must not keep a finished bench alive.
process.exit(process.exitCode ?? 0);
