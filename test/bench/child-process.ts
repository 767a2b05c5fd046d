// Runs redis-cli or the topology program as a child: output lines stamped with the time they
// arrived (to see where the time goes), a hard time limit, and stopped on Ctrl-C.
import { spawn, type ChildProcess } from 'node:child_process';

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
}

const running = new Set<ChildProcess>();

/** Kills every child still running (for the Ctrl-C and failure paths). */
export function killRunningChildren(): void {
  for (const child of running) child.kill('SIGKILL');
}

export function runChild(command: string, args: string[], timeoutMs: number): Promise<ChildResult> {
  const started = performance.now();
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
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
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  return new Promise((resolve, reject) => {
    child.on('error', (error) => {
      clearTimeout(timer);
      running.delete(child);
      reject(error);
    });
    child.on('close', (exitCode, signal) => {
      clearTimeout(timer);
      running.delete(child);
      resolve({ command: [command, ...args].join(' '), exitCode, signal, durationMs: performance.now() - started, lines });
    });
  });
}

/** Throws with the tail of the output unless the child exited 0. */
export function assertSucceeded(result: ChildResult): ChildResult {
  if (result.exitCode === 0) return result;
  const tail = result.lines.slice(-15).map((line) => `  ${line.text}`).join('\n');
  throw new Error(`\`${result.command}\` failed (exit ${result.exitCode ?? result.signal}) after ${(result.durationMs / 1000).toFixed(1)} s:\n${tail}`);
}
