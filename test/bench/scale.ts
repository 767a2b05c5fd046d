// `npm run bench -- --scale 6,20,50,100,200 --keys 500000`: what the program costs as the cluster
// grows. For each size N (N/2 masters with one replica each, every pod a server on loopback with a
// small maxmemory) it times the program's bootstrap of N empty pods, then (with the keys loaded)
// a grow by one master on two new pods, the shrink back (pre, the pods removed, post on the
// survivors) and a no-op post, each with the program's CPU seconds and peak RSS (GNU time).
// Every key is read back and the cli's --cluster check judges the end state. Sizes run one after
// another on the same addresses; every server is stopped before the next size starts.
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LocalRedisPods } from '../support/redis-pods.js';
import type { ServerName } from '../support/server-binaries.js';
import { countKeysInSlots, slotMapOf, slotsWhoseKeysMoved, waitForAgreement, waitForReplication, withConnection } from './cluster-view.js';
import { ProgramContender, type ProgramRun } from './contenders.js';
import { Dataset } from './dataset.js';
import { table } from './report.js';

export interface ScaleOptions {
  sizes: number[];
  server: ServerName;
  keys: number;
  valueSize: number;
  bundle: string;
  programArgs: string[];
  timeoutMs: number;
  subnet: number;
  logDir: string;
  /** maxmemory of every pod. */
  maxmemory: string;
  json?: string;
  log: (message: string) => void;
  /** Pod sets alive now, which the bench stops on Ctrl-C or failure. */
  livePodSets: Set<LocalRedisPods>;
}

type Step = 'bootstrap' | 'grow' | 'shrink pre' | 'shrink post' | 'no-op post';

interface ScaleRow {
  nodes: number;
  masters: number;
  runs: Record<Step, ProgramRun>;
  keysMovedGrow: number;
  keysMovedShrink: number;
  lostKeys: number;
  checkOk: boolean;
  /** Wall time of the whole size, servers started to servers stopped. */
  wallMs: number;
}

/** The Jobs' default memory limit (charts/resolved-props.ts), the bound peak RSS is read against. */
const JOB_MEMORY_LIMIT_MIB = 512;

export async function runScaleSeries(options: ScaleOptions): Promise<void> {
  const { log } = options;
  const program = new ProgramContender(options.bundle, options.programArgs);
  log(`indexing ${options.keys} keys by slot`);
  const dataset = new Dataset(options.keys, options.valueSize);
  const rows: ScaleRow[] = [];
  const startedAt = new Date().toISOString();
  let failure: string | undefined;
  for (const nodes of options.sizes) {
    const masters = nodes / 2;
    const started = performance.now();
    const pods = new LocalRedisPods({ subnet: options.subnet, server: options.server, maxmemory: options.maxmemory });
    options.livePodSets.add(pods);
    try {
      const context = (step: string) => ({ timeoutMs: options.timeoutMs, logFile: path.join(options.logDir, `scale-${nodes}-${step.replace(/ /g, '-')}.log`) });
      log(`${nodes} nodes: starting ${nodes} ${options.server} servers (maxmemory ${options.maxmemory})`);
      await pods.startMany(nodes);
      const runs = {} as Record<Step, ProgramRun>;
      const timed = async (step: Step, phase: 'pre' | 'post', wanted: number, podCount: number) => {
        runs[step] = await program.timedRun(phase, wanted, pods.addresses(podCount), context(step));
        const run = runs[step];
        log(
          `${nodes} nodes: ${step} ${(run.ms / 1000).toFixed(2)} s` +
            `${run.migrateMs === undefined ? '' : ` (moving slots ${(run.migrateMs / 1000).toFixed(2)} s)`}, cpu ${((run.cpuMs ?? 0) / 1000).toFixed(2)} s, ` +
            `peak ${((run.maxRssKiB ?? 0) / 1024).toFixed(0)} MiB`,
        );
      };
      await timed('bootstrap', 'post', masters, nodes);
      const bootstrapped = await waitForAgreement(pods.addresses(nodes));
      const loadStarted = performance.now();
      await dataset.load(slotMapOf(bootstrapped));
      await waitForReplication(bootstrapped);
      log(`${nodes} nodes: ${options.keys} keys loaded in ${((performance.now() - loadStarted) / 1000).toFixed(1)} s`);
      const before = slotMapOf(bootstrapped);
      await pods.startMany(2, nodes);
      await timed('grow', 'post', masters + 1, nodes + 2);
      const grown = slotMapOf(await waitForAgreement(pods.addresses(nodes + 2)));
      const keysMovedGrow = await countKeysInSlots(slotsWhoseKeysMoved(before, grown), grown);
      await timed('shrink pre', 'pre', masters, nodes + 2);
      const shrunk = slotMapOf(await waitForAgreement(pods.addresses(nodes)));
      const keysMovedShrink = await countKeysInSlots(slotsWhoseKeysMoved(grown, shrunk), shrunk);
      for (const ordinal of [nodes, nodes + 1]) await pods.remove(ordinal);
      await timed('shrink post', 'post', masters, nodes);
      await timed('no-op post', 'post', masters, nodes);
      const after = slotMapOf(await waitForAgreement(pods.addresses(nodes)));
      const verify = await dataset.verify(after);
      const check = await pods.clusterCheck(0);
      const shapeOk = after.masters.length === masters && after.masters.every((master) => (after.replicasOf.get(master.id) ?? []).length === 1);
      rows.push({
        nodes,
        masters,
        runs,
        keysMovedGrow,
        keysMovedShrink,
        lostKeys: verify.missing + verify.wrong,
        checkOk: check.ok && shapeOk,
        wallMs: performance.now() - started,
      });
    } catch (error) {
      // Report the sizes that finished; a larger one would fail the same way, or worse. Each pod's
      // view goes to the log directory first, for whoever looks into it.
      failure = `${nodes} nodes: ${(error as Error).message}`;
      log(failure);
      const views = await Promise.all(
        [...pods.pods.values()].map((pod) =>
          withConnection(pod.address, async (client) => `# pod ${pod.ordinal} ${pod.address}\n${String(await client.call('CLUSTER', 'NODES'))}`).catch(
            (viewError: unknown) => `# pod ${pod.ordinal} ${pod.address}: ${String(viewError)}\n`,
          ),
        ),
      );
      const file = path.join(options.logDir, `scale-${nodes}-cluster-nodes-at-failure.txt`);
      writeFileSync(file, views.join('\n'));
      log(`every pod's CLUSTER NODES: ${file}`);
      break;
    } finally {
      await pods.destroy();
      options.livePodSets.delete(pods);
    }
  }
  const steps: Step[] = ['bootstrap', 'grow', 'shrink pre', 'shrink post', 'no-op post'];
  const seconds = (ms: number | undefined) => (ms === undefined ? '-' : (ms / 1000).toFixed(2));
  const mib = (kib: number | undefined) => (kib === undefined ? '-' : (kib / 1024).toFixed(0));
  const header = ['nodes', ...steps.map((step) => `${step} s`), 'keys moved grow/shrink', 'lost', 'check'];
  const summary = rows.map((row) => [
    String(row.nodes),
    ...steps.map((step) => seconds(row.runs[step].ms)),
    `${row.keysMovedGrow}/${row.keysMovedShrink}`,
    String(row.lostKeys),
    row.checkOk ? 'ok' : 'FAIL',
  ]);
  const detail = rows.flatMap((row) =>
    steps.map((step) => {
      const run = row.runs[step];
      return [String(row.nodes), step, seconds(run.ms), seconds(run.untilPlanMs), seconds(run.migrateMs), seconds(run.cpuMs), mib(run.maxRssKiB)];
    }),
  );
  const cores = os.cpus().length;
  console.log(
    [
      `Scale series: the program on N pods (N/2 masters x 1 replica), ${options.keys.toLocaleString('en-US')} keys x ${options.valueSize} B loaded after the bootstrap, ` +
        `${options.server}, maxmemory ${options.maxmemory}; ${cores} x ${os.cpus()[0]?.model ?? 'unknown'}, load ${os
          .loadavg()
          .map((load) => load.toFixed(2))
          .join(' ')}`,
      '',
      table(header, summary),
      '',
      `each run: wall s, until its plan s, moving slots s, program cpu s, program peak RSS MiB (the Jobs' default memory limit is ${JOB_MEMORY_LIMIT_MIB} MiB):`,
      table(['nodes', 'run', 'wall s', 'until plan s', 'migrate s', 'cpu s', 'peak MiB'], detail),
      '',
      `command output of each run: ${options.logDir}`,
    ].join('\n'),
  );
  if (options.json) {
    writeFileSync(
      options.json,
      `${JSON.stringify({ startedAt, finishedAt: new Date().toISOString(), options: { ...options, log: undefined, livePodSets: undefined }, rows, failure }, null, 2)}\n`,
    );
    console.log(`JSON: ${path.resolve(options.json)}`);
  }
  const failed = [
    ...rows.filter((row) => row.lostKeys > 0 || !row.checkOk).map((row) => `${row.nodes} nodes: lost keys or check failed`),
    ...(failure ? [failure] : []),
  ];
  if (failed.length > 0) {
    console.error(`\nFAILED: ${failed.join('; ')}`);
    process.exitCode = 1;
  }
}
