// The topology program's entry: settings -> pods -> phases -> exit code.
import { desiredPodCount } from './contract';
import { discoverPods, resolveGivenPods } from './discover';
import { TopologyError, UsageError, describeError, registerSecret } from './errors';
import { formatDuration } from './format';
import type { PlanPhase } from './plan/model';
import type { Pod } from './pod';
import { createLog, type Log } from './progress';
import { Connections } from './redis/connections';
import { RunLease } from './redis/run-lease';
import { runPhase } from './run-phase';
import { HelpRequested, parseSettings, usage, type Settings } from './settings';

async function findPods(settings: Settings, connections: Connections, log: Log): Promise<Pod[]> {
  const needed = desiredPodCount(settings);
  if (settings.pods) return resolveGivenPods(settings.pods);
  const waitForAll = settings.phase !== 'pre';
  // pre runs before the StatefulSet changes, on the very first sync before it exists: no pod is then a valid answer.
  const pods = await discoverPods(settings, waitForAll ? needed : 0, settings.podWaitTimeoutMs, (message) => log.info(message));
  if (!waitForAll) return pods;
  // post: the desired pods must also answer PING (bounded wait: they may still be starting).
  await connections.waitUntilAnswering(pods.slice(0, needed), settings.podWaitTimeoutMs, log);
  return pods;
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
    // The error is the log's last line; the usage is one --help away.
    log.error(describeError(error));
    if (error instanceof UsageError && error.hint) log.error(`what to do: ${error.hint}`);
    return 2;
  }
  registerSecret(settings.password);
  const connections = new Connections(settings.password, settings.tls);
  const started = Date.now();
  let lease: RunLease | undefined;
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
    // A dry run changes nothing, so it needs no lease.
    lease = settings.dryRun ? undefined : await RunLease.acquire(pods[0]!, settings.password, settings.phase, log, settings.podWaitTimeoutMs, settings.tls);
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
    await lease?.release();
    await connections.closeAll();
  }
}

/**
 * ioredis listens once for a socket's 'error'. A TLS connection the pod refuses (a client
 * certificate it rejects) can report a second one, a read ECONNRESET, and an 'error' event nobody
 * listens to ends the process. ioredis has acted on the first (the connection is closed, its
 * commands fail and the run says why), so a second reset or broken pipe of a socket is dropped;
 * anything else still ends the run as before.
 */
const socketResetCodes = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED']);
process.on('uncaughtException', (error: NodeJS.ErrnoException) => {
  if (socketResetCodes.has(error?.code ?? '') && (error.syscall === 'read' || error.syscall === 'write')) return;
  process.stderr.write(`${error?.stack ?? describeError(error)}\n`);
  process.exit(1);
});

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
