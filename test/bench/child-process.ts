// Runs redis-cli or the topology program as a child: output lines stamped with the time they
// arrived (to see where the time goes), a hard time limit, and stopped on Ctrl-C.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface StampedLine {
  /** Milliseconds since the child started. */
  atMs: number;
  stream: 'stdout' | 'stderr';
  text: string;
}

export interface ChildResult {
  command: string;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  durationMs: number;
  lines: StampedLine[];
  /** CPU time (user + system) of the child, if GNU time is installed to measure it. */
  cpuMs?: number;
  /** Peak resident set size of the child in KiB, if GNU time is installed to measure it. */
  maxRssKiB?: number;
}

const running = new Set<ChildProcess>();

/** Each child leads its own process group (GNU time runs the real command under it): kill the group. */
function killGroup(child: ChildProcess): void {
  try {
    process.kill(-child.pid!, 'SIGKILL');
  } catch {
    child.kill('SIGKILL');
  }
}

/** Kills every child still running (for the Ctrl-C and failure paths). */
export function killRunningChildren(): void {
  for (const child of running) killGroup(child);
}

const gnuTime = '/usr/bin/time';
const cpuDir = mkdtempSync(path.join(tmpdir(), 'bench-cpu-'));
process.on('exit', () => rmSync(cpuDir, { recursive: true, force: true }));
let cpuFiles = 0;

export function runChild(command: string, args: string[], timeoutMs: number): Promise<ChildResult> {
  const started = performance.now();
  const cpuFile = existsSync(gnuTime) ? path.join(cpuDir, `${cpuFiles++}`) : undefined;
  const child = cpuFile
    ? spawn(gnuTime, ['-f', '%U %S %M', '-o', cpuFile, command, ...args], { stdio: ['ignore', 'pipe', 'pipe'], detached: true })
    : spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  running.add(child);
  const lines: StampedLine[] = [];
  const collect = (stream: 'stdout' | 'stderr') => {
    let partial = '';
    child[stream]!.setEncoding('utf8');
    child[stream]!.on('data', (chunk: string) => {
      const atMs = performance.now() - started;
      const parts = (partial + chunk).split('\n');
      partial = parts.pop()!;
      for (const text of parts) lines.push({ atMs, stream, text });
    });
    child[stream]!.on('end', () => {
      if (partial) lines.push({ atMs: performance.now() - started, stream, text: partial });
    });
  };
  collect('stdout');
  collect('stderr');
  const timer = setTimeout(() => killGroup(child), timeoutMs);
  return new Promise((resolve, reject) => {
    child.on('error', (error) => {
      clearTimeout(timer);
      running.delete(child);
      reject(error);
    });
    child.on('close', (exitCode, signal) => {
      clearTimeout(timer);
      running.delete(child);
      let cpuMs: number | undefined;
      let maxRssKiB: number | undefined;
      if (cpuFile && existsSync(cpuFile)) {
        // GNU time writes "Command exited with non-zero status N" before the figures on failure.
        const figures = readFileSync(cpuFile, 'utf8').trim().split('\n').at(-1)!.split(' ').map(Number);
        if (figures.length === 3 && figures.every(Number.isFinite)) {
          cpuMs = (figures[0] + figures[1]) * 1000;
          maxRssKiB = figures[2];
        }
        rmSync(cpuFile, { force: true });
      }
      resolve({ command: [command, ...args].join(' '), exitCode, signal, durationMs: performance.now() - started, lines, cpuMs, maxRssKiB });
    });
  });
}

/** Throws with the tail of the output unless the child exited 0. */
export function assertSucceeded(result: ChildResult): ChildResult {
  if (result.exitCode === 0) return result;
  const tail = result.lines
    .slice(-15)
    .map((line) => `  ${line.text}`)
    .join('\n');
  throw new Error(`\`${result.command}\` failed (exit ${result.exitCode ?? result.signal}) after ${(result.durationMs / 1000).toFixed(1)} s:\n${tail}`);
}
