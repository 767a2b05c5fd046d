// The chart's preStop hook (charts/scripts/pre-stop.sh), run against a test pod as the kubelet
// runs it before stopping a Redis container: a pod the cluster no longer lists resets itself.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { LocalRedisPods } from './redis-pods.js';

const execFileAsync = promisify(execFile);
const script = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'charts', 'scripts', 'pre-stop.sh');

/** Runs pre-stop.sh for the pod with the pods' own cli; returns what it printed (it logs to stderr). */
export async function runPreStop(pods: LocalRedisPods, ordinal: number, password?: string): Promise<string> {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    REDIS_CLI: pods.binaries.cli,
    REDIS_PROBE_HOST: pods.hostOf(ordinal),
    REDIS_PORT: String(pods.port),
    FAILOVER_WAIT_SECONDS: '30',
  };
  if (password) env.REDIS_PASSWORD = password;
  const { stdout, stderr } = await execFileAsync('sh', [script], { env, timeout: 60_000 });
  return stdout + stderr;
}
