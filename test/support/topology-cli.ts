// Runs the topology program the way the Jobs do: the one-file bundle on plain `node`, as a
// child process, judged only by its exit code and output.
import { ENV_NAMES } from '../../jobs/contract';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const jobsDir = path.join(repoRoot, 'jobs');
/**
 * The bundle the tests run: jobs/bundle/topology.cjs, or TOPOLOGY_BUNDLE=/path/topology.cjs to
 * run the same tests against another build (e.g. an older program, to see a test fail on it).
 */
const bundleOverride = process.env.TOPOLOGY_BUNDLE ? path.resolve(process.env.TOPOLOGY_BUNDLE) : undefined;
export const bundlePath = bundleOverride ?? path.join(jobsDir, 'bundle', 'topology.cjs');

/**
 * Settings the program also reads from the environment (the contract's names): never inherited
 * from the test's own, except the engine a server matrix run asks for (TEST_MIGRATION_ENGINE).
 */
const CONTRACT_ENV = ENV_NAMES;

function newestSourceTime(directory: string): number {
  let newest = 0;
  for (const entry of readdirSync(directory, { withFileTypes: true })) {
    if (entry.name === 'bundle' || entry.name === 'node_modules') continue;
    const full = path.join(directory, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSourceTime(full));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(full).mtimeMs);
  }
  return newest;
}

/** Rebuilds jobs/bundle/topology.cjs when it is missing or older than a source under jobs/ (TOPOLOGY_BUNDLE is used as it is). */
export function ensureBundle(): void {
  if (bundleOverride) {
    if (!existsSync(bundleOverride)) throw new Error(`TOPOLOGY_BUNDLE=${bundleOverride} does not exist`);
    return;
  }
  if (existsSync(bundlePath) && statSync(bundlePath).mtimeMs >= newestSourceTime(jobsDir)) return;
  execFileSync('npm', ['run', '-s', 'bundle'], { cwd: repoRoot, stdio: 'inherit', timeout: 120_000 });
}

export interface TopologyOptions {
  phase: 'pre' | 'post' | 'all';
  masters: number | string;
  replicasPerMaster: number | string;
  pods?: string[];
  passwordFile?: string;
  dryRun?: boolean;
}

export function topologyArgs(options: TopologyOptions): string[] {
  const args = ['--phase', options.phase, '--masters', String(options.masters), '--replicas-per-master', String(options.replicasPerMaster)];
  if (options.pods) args.push('--pods', options.pods.join(','));
  if (options.passwordFile) args.push('--password-file', options.passwordFile);
  if (options.dryRun) args.push('--dry-run');
  return args;
}

export interface TopologyRun {
  args: string[];
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  durationMs: number;
  timedOut: boolean;
}

export interface RunOptions {
  /** Extra environment (e.g. REDIS_PASSWORD); the contract's variables are otherwise unset. */
  env?: Record<string, string>;
  /** SIGKILL after this long and report timedOut. @default 90 s */
  timeoutMs?: number;
  /** Called with stdout and stderr as they arrive (e.g. to act when a log line appears). */
  onOutput?: (chunk: string) => void;
}

/** TOPOLOGY_LOG_DIR=/dir keeps every run's whole output there (assertion messages show only the tail). */
const logDirectory = process.env.TOPOLOGY_LOG_DIR ? path.resolve(process.env.TOPOLOGY_LOG_DIR) : undefined;
let runsLogged = 0;

function keepLog(run: TopologyRun): void {
  if (!logDirectory) return;
  mkdirSync(logDirectory, { recursive: true });
  const file = path.join(logDirectory, `${process.pid}-${String(++runsLogged).padStart(3, '0')}-${run.args[1] ?? 'run'}.log`);
  writeFileSync(file, `topology ${run.args.join(' ')}: exit ${run.code}, signal ${run.signal}, ${run.durationMs} ms\n${run.stdout}${run.stderr}`);
}

export interface RunningTopology {
  child: ChildProcess;
  result: Promise<TopologyRun>;
}

export function startTopology(args: string[], options: RunOptions = {}): RunningTopology {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of CONTRACT_ENV) delete env[name];
  if (process.env.TEST_MIGRATION_ENGINE) env.MIGRATION_ENGINE = process.env.TEST_MIGRATION_ENGINE;
  Object.assign(env, options.env);
  const startedAt = Date.now();
  const child = spawn(process.execPath, [bundlePath, ...args], { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    options.onOutput?.(chunk);
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
    options.onOutput?.(chunk);
  });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, options.timeoutMs ?? 90_000);
  const result = new Promise<TopologyRun>((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const run: TopologyRun = { args, code, signal, stdout, stderr, durationMs: Date.now() - startedAt, timedOut };
      keepLog(run);
      resolve(run);
    });
  });
  return { child, result };
}

export function runTopology(args: string[], options: RunOptions = {}): Promise<TopologyRun> {
  return startTopology(args, options).result;
}

/** The run's output, trimmed to its tail, for assertion messages. */
export function describeRun(run: TopologyRun, tailLines = 40): string {
  const lines = `${run.stdout}${run.stderr}`.trimEnd().split('\n');
  const shown = lines.length > tailLines ? ['...', ...lines.slice(-tailLines)] : lines;
  const how = run.timedOut ? 'timed out' : run.signal ? `killed by ${run.signal}` : `exit ${run.code}`;
  return `topology ${run.args.join(' ')} -> ${how} after ${run.durationMs} ms\n${shown.join('\n')}`;
}

/** Runs the program and throws (with its output) unless it exits 0. */
export async function runTopologyOk(args: string[], options: RunOptions = {}): Promise<TopologyRun> {
  const run = await runTopology(args, options);
  if (run.code !== 0) throw new Error(`expected exit 0: ${describeRun(run)}`);
  return run;
}
