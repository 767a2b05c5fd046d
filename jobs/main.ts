// The topology program's entry: settings -> pods -> per phase: observe, plan, execute, verify.
import { checkCapacity, keysToMove } from './capacity';
import { HelpRequested, parseSettings, usage, type Settings } from './cli';
import { Connections, connectionError } from './connections';
import { describePlan } from './describe';
import { discoverPods, resolveGivenPods, type Pod } from './discover';
import { TopologyError, UsageError, describeError, registerSecret } from './errors';
import { Executor } from './execute';
import { desiredPodCount, type DesiredShape } from './model';
import { findDisagreements, observe, parseInfo, readPod } from './observe';
import { planPhase, type PlanPhase } from './plan';
import { createLog, formatDuration, formatMegabytes, type Log } from './progress';
import { shapeProblems } from './shape';
import { defaultTuning, sleep } from './migrate';

const maxRounds = 4;

async function findPods(settings: Settings, connections: Connections, log: Log): Promise<Pod[]> {
  const needed = desiredPodCount(settings);
  if (settings.pods) return resolveGivenPods(settings.pods);
  const waitForAll = settings.phase !== 'pre';
  // pre runs before the StatefulSet changes, on the very first sync before it exists: no pod is then a valid answer.
  const pods = await discoverPods(settings, waitForAll ? needed : 0, settings.podWaitTimeoutMs, (message) => log.info(message));
  if (!waitForAll) return pods;
  // post: the desired pods must also answer PING (bounded wait: they may still be starting).
  const deadline = Date.now() + settings.podWaitTimeoutMs;
  for (const pod of pods.slice(0, needed)) {
    let lastLog = 0;
    for (;;) {
      try {
        await (await connections.connect(pod, 3000)).ping();
        break;
      } catch (error) {
        const failure = error instanceof TopologyError ? error : connectionError(pod, error);
        if (/authentication failed/.test(failure.message) || Date.now() > deadline) throw failure;
        if (Date.now() - lastLog > 10_000) {
          log.info(`waiting for ${pod.name} to answer: ${failure.message}`);
          lastLog = Date.now();
        }
        await sleep(2000);
      }
    }
  }
  return pods;
}

async function runPhase(phase: PlanPhase, settings: Settings, pods: readonly Pod[], connections: Connections, log: Log): Promise<void> {
  const desired: DesiredShape = settings;
  const started = Date.now();
  for (let round = 1; ; round++) {
    const observation = await observe(connections, pods);
    const plan = planPhase(observation.view, desired, phase);
    if (plan.steps.length === 0) {
      const problems = await verify(phase, desired, pods, connections, settings);
      if (problems.length === 0) {
        if (phase === 'post' && !settings.dryRun) {
          await waitForReplicaSync(pods.slice(0, desiredPodCount(desired)), connections, log, settings.replicaSyncTimeoutMs);
          await saveConfigs(pods.slice(0, desiredPodCount(desired)), connections, log);
        }
        log.info(
          round === 1
            ? `${phase}: cluster already has the desired shape (${settings.masters} masters x ${settings.replicasPerMaster} replicas)`
            : `${phase}: done in ${formatDuration(Date.now() - started)}: ${settings.masters} masters x ${settings.replicasPerMaster} replicas`,
        );
        return;
      }
      if (round > maxRounds || settings.dryRun) {
        throw new TopologyError(
          `${phase}: the cluster does not have the desired shape: ${problems.join('; ')}`,
          'run again; if this persists, inspect with redis-cli --cluster check',
        );
      }
      log.info(`${phase}: nothing left to plan, waiting for the cluster to settle: ${problems.slice(0, 3).join('; ')}`);
      await sleep(1000);
      continue;
    }
    if (round > maxRounds) {
      throw new TopologyError(
        `${phase}: still ${plan.steps.length} steps to do after ${maxRounds} rounds`,
        'the cluster keeps changing under the program (another operator or failovers?); run again when it is quiet',
      );
    }
    const lines = describePlan(plan, observation.view);
    log.info(`${phase}: plan${settings.dryRun ? ' (dry run, nothing is changed)' : ''}, ${plan.steps.length} steps:`);
    for (const line of lines) for (const part of line.split('\n')) log.info(`  ${part}`);
    if (settings.dryRun) return;
    checkCapacity(observation.view, plan.steps);
    const executor = new Executor(plan, observation.view, {
      connections,
      pods,
      password: settings.password,
      log,
      convergeTimeoutMs: settings.convergeTimeoutMs,
      estimatedKeys: keysToMove(observation.view, plan.steps),
      tuning: { ...defaultTuning, slotsInFlight: settings.slotsInFlight, maxKeysPerSecond: settings.maxKeysPerSecond },
    });
    await executor.run();
  }
}

/**
 * The shape alone is not redundancy: a replica just attached (a new shard's, or one moved to
 * another master) serves as a failover target only once its first sync is done, and a master
 * lost before then takes the keys it alone holds with it. So post is done when every replica's
 * link to its master is up (bounded wait, with progress in the log).
 */
async function waitForReplicaSync(pods: readonly Pod[], connections: Connections, log: Log, timeoutMs: number): Promise<void> {
  const started = Date.now();
  let lastLog = started;
  for (;;) {
    const syncing: string[] = [];
    for (const pod of pods) {
      const info = parseInfo(String(await (await connections.client(pod)).call('INFO', 'replication')));
      if (info.role !== 'slave' || info.master_link_status === 'up') continue;
      const total = Number(info.master_sync_total_bytes ?? 0);
      const read = Number(info.master_sync_read_bytes ?? 0);
      const progress = info.master_sync_in_progress === '1' && total > 0 ? `, ${Math.floor((100 * read) / total)}% of ${formatMegabytes(total)} received` : '';
      syncing.push(`${pod.name}${progress}`);
    }
    if (syncing.length === 0) return;
    if (Date.now() - started > timeoutMs) {
      throw new TopologyError(
        `replicas still syncing from their masters after ${formatDuration(timeoutMs)}: ${syncing.join('; ')}`,
        'the cluster has its shape; check the replicas (INFO replication, their logs) and run again, or raise REPLICA_SYNC_TIMEOUT_SECONDS',
      );
    }
    if (Date.now() - lastLog > 10_000) {
      log.info(`waiting for replicas to finish their sync from their masters: ${syncing.join('; ')}`);
      lastLog = Date.now();
    }
    await sleep(200);
  }
}

/**
 * Redis writes nodes.conf on topology events, not when it learns a peer's hostname; the pods'
 * start script repairs addresses from those hostnames, so once every node shows every peer's
 * hostname (bounded wait) each node saves its config.
 */
async function saveConfigs(pods: readonly Pod[], connections: Connections, log: Log): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const reports = await Promise.all(pods.map((pod) => readPod(connections, pod, false)));
    const announcing = reports.some((report) => report.self.hostname !== '');
    const missing = reports.filter((report) => report.entries.some((entry) => entry.hostname === ''));
    if (!announcing || missing.length === 0 || Date.now() > deadline) {
      if (announcing && missing.length > 0)
        log.warn(`pods ${missing.map((report) => report.pod.ordinal).join(',')} do not show every peer's hostname yet; saving nodes.conf anyway`);
      break;
    }
    await sleep(500);
  }
  await Promise.all(pods.map(async (pod) => (await connections.client(pod)).call('CLUSTER', 'SAVECONFIG')));
}

async function verify(phase: PlanPhase, desired: DesiredShape, pods: readonly Pod[], connections: Connections, settings: Settings): Promise<string[]> {
  const deadline = Date.now() + Math.min(settings.convergeTimeoutMs, 60_000);
  for (;;) {
    const observation = await observe(connections, pods, false);
    const problems = shapeProblems(observation.view, desired, phase);
    if (phase === 'post') {
      const members = observation.reports.filter((report) => report.pod.ordinal < desiredPodCount(desired));
      problems.push(...findDisagreements(members, true));
    }
    if (problems.length === 0 || settings.dryRun || Date.now() > deadline) return problems;
    await sleep(250);
  }
}

export async function main(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  const log = createLog();
  let settings: Settings;
  try {
    settings = parseSettings(argv, env);
  } catch (error) {
    if (error instanceof HelpRequested) {
      process.stdout.write(`${usage}\n`);
      return 0;
    }
    log.error(describeError(error));
    if (error instanceof UsageError) process.stderr.write(`${usage}\n`);
    return 2;
  }
  registerSecret(settings.password);
  const connections = new Connections(settings.password);
  const started = Date.now();
  try {
    log.info(
      `topology ${settings.phase}${settings.dryRun ? ' (dry run)' : ''}: want ${settings.masters} masters x ${settings.replicasPerMaster} replicas = ${desiredPodCount(settings)} pods`,
    );
    const pods = await findPods(settings, connections, log);
    if (pods.length === 0) {
      log.info(`${settings.phase}: no pods exist yet (first sync): nothing to remove`);
      return 0;
    }
    log.info(`pods: ${pods.map((pod) => `${pod.ordinal}=${pod.host}:${pod.port}${pod.ip !== pod.host ? ` (${pod.ip})` : ''}`).join(', ')}`);
    const phases: PlanPhase[] = settings.phase === 'all' ? ['pre', 'post'] : [settings.phase];
    for (const phase of phases) {
      await runPhase(phase, settings, pods, connections, log);
    }
    log.info(`finished in ${formatDuration(Date.now() - started)}`);
    return 0;
  } catch (error) {
    log.error(describeError(error));
    if (error instanceof TopologyError && error.hint) log.error(`what to do: ${error.hint}`);
    else if (!(error instanceof TopologyError) && error instanceof Error && error.stack) log.error(describeError({ message: error.stack }));
    return 1;
  } finally {
    await connections.closeAll();
  }
}

main(process.argv.slice(2), process.env).then(
  (code) => {
    process.exitCode = code;
    // Every connection is closed; should a stray handle remain, do not hang the Job.
    setTimeout(() => process.exit(code), 3000).unref();
  },
  (error: unknown) => {
    process.stderr.write(`${describeError(error)}\n`);
    process.exitCode = 1;
  },
);
