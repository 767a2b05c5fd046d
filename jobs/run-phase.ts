// One phase of a run: observe -> plan -> execute, round after round, until the plan is empty
// and the independent shape check passes.
import { sleep } from './clock';
import { desiredPodCount } from './contract';
import { saveConfigs, verify, waitForReplicaSync } from './converge/convergence';
import { TopologyError } from './errors';
import { Executor } from './execute/executor';
import { formatDuration } from './format';
import { defaultTuning } from './migrate/slot-migrator';
import { observe } from './observe/read';
import { checkCapacity, keysToMove } from './plan/capacity';
import { describePlan } from './plan/describe';
import { planPhase } from './plan/index';
import type { PlanPhase } from './plan/model';
import type { Pod } from './pod';
import type { Log } from './progress';
import type { Connections } from './redis/connections';
import { describeServer, type ServerIdentity } from './redis/server';
import type { Settings } from './settings';

/** A plan still not empty after this many rounds means something else keeps changing the cluster. */
const maxRounds = 4;

export async function runPhase(phase: PlanPhase, settings: Settings, pods: readonly Pod[], connections: Connections, log: Log): Promise<void> {
  const started = Date.now();
  const desiredPods = pods.slice(0, desiredPodCount(settings));
  for (let round = 1; ; round++) {
    const observation = await observe(connections, pods, { countKeysPerSlot: true });
    if (round === 1) log.info(`${phase}: servers: ${describeServers(observation.servers)}`);
    const plan = planPhase(observation.view, settings, phase);
    if (plan.steps.length === 0) {
      const problems = await verify(phase, settings, { connections, pods, convergeTimeoutMs: settings.convergeTimeoutMs, dryRun: settings.dryRun });
      if (problems.length === 0) {
        if (phase === 'post' && !settings.dryRun) {
          await waitForReplicaSync(desiredPods, connections, log, settings.replicaSyncTimeoutMs);
          await saveConfigs(desiredPods, connections, log);
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

/** "Redis 7.0.15 on pods 0-5", or each version with its pods when they differ (an upgrade in progress). */
function describeServers(servers: readonly ServerIdentity[]): string {
  const byServer = new Map<string, number[]>();
  servers.forEach((server, ordinal) => byServer.set(describeServer(server), [...(byServer.get(describeServer(server)) ?? []), ordinal]));
  return [...byServer].map(([server, ordinals]) => `${server} on pods ${ordinals.join(',')}`).join('; ');
}
