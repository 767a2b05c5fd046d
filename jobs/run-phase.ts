// One phase of a run: observe -> plan -> check -> execute, round after round, until the plan is
// empty and the independent shape check passes. A round that fails for a reason a new look at
// the cluster can fix (a node failed over, a pod restarted) is followed by another; a run that
// stops for good first closes the slots it left open.
import { sleep } from './clock';
import { desiredPodCount } from './contract';
import { clearRemovalMarks, saveConfigs, verify, waitForReplicaSync } from './converge/convergence';
import { Refusal, TopologyError, describeError } from './errors';
import { Executor } from './execute/executor';
import { formatDuration } from './format';
import { waitForServerMigrations } from './migrate/atomic-slot-migrator';
import { defaultTuning } from './migrate/tuning';
import { withPlacement } from './observe/placement';
import { observe } from './observe/read';
import { surveyMoves, type Survey } from './observe/slot-survey';
import { checkCapacity, checkKeySizes, describeLargeKeys, keysToMove } from './plan/capacity';
import { describePlan } from './plan/describe';
import { planPhase } from './plan/index';
import type { ClusterView, Plan, PlanPhase } from './plan/model';
import type { Pod } from './pod';
import type { Log } from './progress';
import type { Connections } from './redis/connections';
import { describeServer, type ServerCapabilities, type ServerIdentity } from './redis/server';
import type { Settings } from './settings';
import { restoreLeftJoinTimeouts } from './execute/join-node-timeout';

/** A plan still not empty after this many rounds means something else keeps changing the cluster. */
const maxRounds = 4;

/** After a failed round, how long pods may take to answer again (a restarted container) before the run gives up. */
const recoveryWaitMs = 30_000;

interface PhaseContext {
  readonly phase: PlanPhase;
  readonly settings: Settings;
  readonly pods: readonly Pod[];
  readonly connections: Connections;
  readonly log: Log;
}

export async function runPhase(phase: PlanPhase, settings: Settings, pods: readonly Pod[], connections: Connections, log: Log): Promise<void> {
  const context: PhaseContext = { phase, settings, pods, connections, log };
  /** Masters that received keys this run, with their evicted_keys when the run began. */
  const receivers = new Map<string, number>();
  try {
    await runRounds(context, receivers);
  } catch (error) {
    throw await withEvictions(context, receivers, error);
  }
}

async function runRounds(context: PhaseContext, receivers: Map<string, number>): Promise<void> {
  const { phase, settings, pods, connections, log } = context;
  const started = Date.now();
  const desiredPods = pods.slice(0, desiredPodCount(settings));
  let firstView: ClusterView | undefined;
  await restoreLeftJoinTimeouts(pods, connections, log, settings.dryRun);
  for (let round = 1; ; round++) {
    let observation = await observe(connections, pods, { countKeysPerSlot: true });
    // Slots the servers are still moving for an earlier run (killed, or a round that failed) must
    // not be planned again: wait for those jobs, then look again.
    const capable = pods.filter((_, ordinal) => observation.capabilities[ordinal]?.migrateSlots && observation.view.pods[ordinal]?.role === 'master');
    if (capable.length > 0 && !settings.dryRun && (await waitForServerMigrations(capable, (pod) => connections.client(pod), log, settings.podWaitTimeoutMs))) {
      observation = await observe(connections, pods, { countKeysPerSlot: true });
    }
    firstView ??= observation.view;
    if (round === 1) log.info(`${phase}: servers: ${describeServers(observation.servers)}`);
    const plan = planPhase(await withPlacement(observation.view, settings, log), settings, phase);
    if (plan.steps.length === 0) {
      const problems = await verify(phase, settings, { connections, pods, convergeTimeoutMs: settings.convergeTimeoutMs, dryRun: settings.dryRun });
      if (problems.length === 0) {
        checkNoEvictions(receivers, observation.view);
        if (phase === 'post' && !settings.dryRun) {
          await waitForReplicaSync(desiredPods, connections, log, settings.replicaSyncTimeoutMs);
          await saveConfigs(desiredPods, connections, log);
          await clearRemovalMarks(desiredPods, connections, log);
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
    log.info(`${phase}: plan${settings.dryRun ? ' (dry run, nothing is changed)' : ''}, ${plan.steps.length} steps:`);
    for (const line of describePlan(plan, observation.view)) for (const part of line.split('\n')) log.info(`  ${part}`);
    const survey = plan.steps.some((step) => step.kind === 'migrate') ? await surveyMoves(connections, pods, observation.view, plan.steps) : undefined;
    if (survey) for (const line of describeLargeKeys(plan.steps, survey)) log.info(`  ${line}`);
    try {
      if (survey) checkKeySizes(observation.view, plan.steps, survey);
      checkCapacity(observation.view, plan.steps, survey);
    } catch (refusal) {
      // Open slots are closed whatever else is refused, so a refusal never leaves them open.
      if (!settings.dryRun) await executeRepairsOnly(context, plan, observation.view, observation.capabilities);
      throw refusal;
    }
    if (settings.dryRun) return;
    for (const step of plan.steps) {
      if (step.kind !== 'migrate') continue;
      for (const move of step.moves) {
        if (!receivers.has(move.to)) receivers.set(move.to, firstView.pods.find((pod) => pod.id === move.to)?.evictedKeys ?? 0);
      }
    }
    try {
      await execute(context, plan, observation.view, observation.capabilities, survey);
    } catch (error) {
      if (error instanceof Refusal || !(error instanceof TopologyError) || round >= maxRounds) {
        await closeOpenSlots(context);
        throw error;
      }
      // A node failed over or restarted under the run: read the cluster again and plan from there.
      log.warn(`${phase}: round ${round} stopped: ${describeError(error)}; reading the cluster again`);
      await connections.waitUntilAnswering(pods, Math.min(settings.convergeTimeoutMs, recoveryWaitMs), log).catch((silent: unknown) => {
        // Which pod is gone, and what it stopped: both, so the operator knows where to look.
        throw new TopologyError(`${describeError(error)}; ${describeError(silent)}`, silent instanceof TopologyError ? silent.hint : error.hint);
      });
    }
  }
}

function execute(context: PhaseContext, plan: Plan, view: ClusterView, capabilities: readonly ServerCapabilities[], survey: Survey | undefined): Promise<void> {
  const { settings, pods, connections, log } = context;
  const executor = new Executor(plan, view, {
    connections,
    pods,
    password: settings.password,
    log,
    convergeTimeoutMs: settings.convergeTimeoutMs,
    estimatedKeys: keysToMove(view, plan.steps),
    tuning: { ...defaultTuning, slotsInFlight: settings.slotsInFlight, maxKeysPerSecond: settings.maxKeysPerSecond },
    survey: survey?.slots,
    capabilities,
    migrationEngine: settings.migrationEngine,
  });
  return executor.run();
}

/**
 * Runs only the plan's open-slot repairs (they come first): the masters' slots, and a replica's
 * its master has closed (Valkey), so that a run that stops leaves no node showing a slot open.
 */
async function executeRepairsOnly(context: PhaseContext, plan: Plan, view: ClusterView, capabilities: readonly ServerCapabilities[]): Promise<void> {
  const repairs = plan.steps.filter((step) => step.kind === 'repairOpenSlot' || step.kind === 'clearReplicaSlotFlags');
  if (repairs.length === 0) return;
  context.log.info(`${context.phase}: closing open slots first (${repairs.length} step(s))`);
  await execute(context, { ...plan, steps: repairs }, view, capabilities, undefined);
}

/**
 * After a failure that ends the run: close whatever slots it left open (best effort; the next
 * run starts with the same repairs anyway), so the cluster is not left with MIGRATING/IMPORTING
 * slots until then.
 */
async function closeOpenSlots(context: PhaseContext): Promise<void> {
  try {
    const observation = await observe(context.connections, context.pods, { countKeysPerSlot: true });
    await executeRepairsOnly(context, planPhase(observation.view, context.settings, context.phase), observation.view, observation.capabilities);
  } catch (error) {
    context.log.warn(`${context.phase}: could not close the open slots now (${describeError(error)}); the next run closes them first`);
  }
}

/**
 * A run that fails for another reason (a receiver out of memory, a pod gone) may have lost keys
 * to eviction on the way: that is said first, since raising memory and running again cannot
 * bring them back. Best effort: if the cluster cannot be read now, the first error stands.
 */
async function withEvictions(context: PhaseContext, receivers: ReadonlyMap<string, number>, error: unknown): Promise<unknown> {
  if (receivers.size === 0 || error instanceof KeysEvicted) return error;
  try {
    checkNoEvictions(receivers, (await observe(context.connections, context.pods, { countKeysPerSlot: false })).view);
  } catch (evicted) {
    if (evicted instanceof KeysEvicted) {
      return new KeysEvicted(
        `${evicted.message}; the run also stopped: ${describeError(error)}`,
        'check the data (evicted keys cannot be brought back); raise maxmemory or add masters, then run again: open slots are closed first',
      );
    }
  }
  return error;
}

/** Keys evicted on masters that received keys during the run. */
class KeysEvicted extends Refusal {
  constructor(message: string, hint = 'the cluster has its shape; raise maxmemory or add masters, and check the data (evicted keys cannot be brought back)') {
    super(message, hint);
    this.name = 'KeysEvicted';
  }
}

/** Keys evicted on a master that received keys this run: some may be the moved ones, so the run fails. */
function checkNoEvictions(receivers: ReadonlyMap<string, number>, view: ClusterView): void {
  const evicting = [...receivers].flatMap(([id, before]) => {
    const pod = view.pods.find((candidate) => candidate.id === id);
    return pod && pod.evictedKeys > before ? [`${pod.name} evicted ${pod.evictedKeys - before} keys (maxmemory-policy ${pod.maxMemoryPolicy})`] : [];
  });
  if (evicting.length > 0) {
    throw new KeysEvicted(`keys were evicted on masters that received slots during the run, so some data may be lost: ${evicting.join('; ')}`);
  }
}

/** "Redis 7.0.15 on pods 0,1,2", or each version with its pods when they differ (an upgrade in progress). */
function describeServers(servers: readonly ServerIdentity[]): string {
  const byServer = new Map<string, number[]>();
  servers.forEach((server, ordinal) => byServer.set(describeServer(server), [...(byServer.get(describeServer(server)) ?? []), ordinal]));
  return [...byServer].map(([server, ordinals]) => `${server} on pods ${ordinals.join(',')}`).join('; ');
}
