// The slot moves a run would make, read from its --dry-run plan (lines such as
// "1365 slots 15019-16383: pod 2 (127.a.b.3:6379) -> pod 6 (127.a.b.7:6379)"), so a test can put
// data in slots that are about to move. Only the ranges the plan prints are returned.
import { describeRun, runTopology } from './topology-cli.js';

export interface PlannedMove {
  from: number;
  to: number;
  /** How many slots the plan moves from `from` to `to`. */
  count: number;
  /** The slots the plan names (a long list of ranges is cut after five). */
  slots: number[];
}

export function parsePlannedMoves(output: string): PlannedMove[] {
  const moves: PlannedMove[] = [];
  const pattern = /(\d+) slots ([\d,-]+?)(?:,\.\.\. \(\d+ ranges\))?: pod (\d+) \([^)]*\) -> pod (\d+) /g;
  for (const match of output.matchAll(pattern)) {
    const slots: number[] = [];
    for (const range of match[2].split(',')) {
      const [first, last] = range.split('-').map(Number);
      for (let slot = first; slot <= (last ?? first); slot++) slots.push(slot);
    }
    moves.push({ count: Number(match[1]), slots, from: Number(match[3]), to: Number(match[4]) });
  }
  return moves;
}

/** Runs the program with --dry-run added and returns the moves its plan prints (throws if none). */
export async function dryRunMoves(args: string[]): Promise<PlannedMove[]> {
  const run = await runTopology([...args, '--dry-run'], { timeoutMs: 60_000 });
  const moves = parsePlannedMoves(run.stdout + run.stderr);
  if (moves.length === 0) throw new Error(`the dry run planned no slot moves: ${describeRun(run)}`);
  return moves;
}
