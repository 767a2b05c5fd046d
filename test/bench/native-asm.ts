// The servers' own atomic slot migration issued by hand (Valkey 9): the bench joins the new pods
// with CLUSTER MEET / REPLICATE, sends each source one CLUSTER MIGRATESLOTS for the same moves the
// program plans (grow: each master gives the new one its share from the top of its slots; shrink:
// the leaving master's slots go back in order, evenly), and polls CLUSTER GETSLOTMIGRATIONS until
// every job it started says success. No retries, no fallback, no checks: the reference the
// program's atomic engine is measured against.
import { writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { readClusterNodes, waitForAgreement, withConnection, type ClusterNode } from './cluster-view.js';
import { nodeId, Stopwatch, type Contender, type ContenderRole, type OperationContext, type OperationTiming } from './contenders.js';
import { SLOT_COUNT } from './key-slot.js';

/** One source's slots for one target. */
export interface SlotMoveByHand {
  from: ClusterNode;
  to: ClusterNode;
  slots: number[];
}

/** How often the bench asks each source for its jobs' state. */
const POLL_MS = 20;

function slotsOf(node: ClusterNode): number[] {
  const slots: number[] = [];
  for (const [first, last] of node.slotRanges) for (let slot = first; slot <= last; slot++) slots.push(slot);
  return slots.sort((a, b) => a - b);
}

/** Masters owning slots, in the order of their first slot. */
function mastersBySlot(nodes: ClusterNode[]): ClusterNode[] {
  return nodes.filter((node) => node.role === 'master' && node.slotRanges.length > 0).sort((a, b) => slotsOf(a)[0] - slotsOf(b)[0]);
}

/** Each master's share when `count` masters split the slots: the first ones take the remainder. */
function shares(count: number): number[] {
  return Array.from({ length: count }, (_, index) => Math.floor(SLOT_COUNT / count) + (index < SLOT_COUNT % count ? 1 : 0));
}

/** Grow: every master gives `newMaster` what it holds above its share, from the top of its slots. */
export function growMoves(nodes: ClusterNode[], newMaster: ClusterNode): SlotMoveByHand[] {
  const masters = mastersBySlot(nodes).filter((node) => node.id !== newMaster.id);
  const wanted = shares(masters.length + 1);
  return masters
    .map((master, index) => {
      const slots = slotsOf(master);
      return { from: master, to: newMaster, slots: slots.slice(wanted[index]) };
    })
    .filter((move) => move.slots.length > 0);
}

/** Shrink: the leaving masters' slots, in order, to the survivors in order, each up to its share. */
export function drainMoves(nodes: ClusterNode[], leavingIds: string[]): SlotMoveByHand[] {
  const all = mastersBySlot(nodes);
  const survivors = all.filter((node) => !leavingIds.includes(node.id));
  const wanted = shares(survivors.length);
  const moves: SlotMoveByHand[] = [];
  let survivor = 0;
  let room = wanted[0] - slotsOf(survivors[0]).length;
  for (const leaving of all.filter((node) => leavingIds.includes(node.id))) {
    for (const slot of slotsOf(leaving)) {
      while (room <= 0 && survivor < survivors.length - 1) {
        survivor++;
        room = wanted[survivor] - slotsOf(survivors[survivor]).length;
      }
      const last = moves.at(-1);
      if (last && last.from === leaving && last.to === survivors[survivor]) last.slots.push(slot);
      else moves.push({ from: leaving, to: survivors[survivor], slots: [slot] });
      room--;
    }
  }
  return moves;
}

/** Contiguous ranges as MIGRATESLOTS arguments: start end start end ... */
function rangeArgs(slots: number[]): string[] {
  const args: string[] = [];
  for (let index = 0; index < slots.length; index++) {
    const start = slots[index];
    while (index + 1 < slots.length && slots[index + 1] === slots[index] + 1) index++;
    args.push(String(start), String(slots[index]));
  }
  return args;
}

interface MigrationEntry {
  name: string;
  operation: string;
  slots: number[];
  state: string;
  message: string;
}

function parseMigrations(reply: unknown): MigrationEntry[] {
  if (!Array.isArray(reply)) return [];
  return reply.map((entry) => {
    const fields = new Map<string, string>();
    const values = Array.isArray(entry) ? entry : [];
    for (let index = 0; index + 1 < values.length; index += 2) fields.set(String(values[index]), String(values[index + 1]));
    const slots = (fields.get('slot_ranges') ?? '').split(/[\s,]+/).flatMap((range) => {
      const match = /^(\d+)(?:-(\d+))?$/.exec(range);
      if (!match) return [];
      const start = Number(match[1]);
      return Array.from({ length: Number(match[2] ?? match[1]) - start + 1 }, (_, offset) => start + offset);
    });
    return {
      name: fields.get('name') ?? '',
      operation: fields.get('operation') ?? '',
      slots,
      state: fields.get('state') ?? '',
      message: fields.get('message') ?? '',
    };
  });
}

/**
 * Sends each source one CLUSTER MIGRATESLOTS for all of its moves (all sources at once) and waits
 * until the jobs it created cover every slot with state success; throws on a job that fails or is
 * cancelled, or past the time limit. Returns lines for the operation's log.
 */
export async function migrateByHand(moves: SlotMoveByHand[], timeoutMs: number): Promise<string[]> {
  const started = performance.now();
  const stamp = (text: string) => `${((performance.now() - started) / 1000).toFixed(3).padStart(9)}   ${text}`;
  const lines: string[] = [];
  const bySource = new Map<string, SlotMoveByHand[]>();
  for (const move of moves) bySource.set(move.from.address, [...(bySource.get(move.from.address) ?? []), move]);
  await Promise.all(
    [...bySource].map(([source, sourceMoves]) =>
      withConnection(source, async (client) => {
        const known = new Set(parseMigrations(await client.call('CLUSTER', 'GETSLOTMIGRATIONS')).map((entry) => entry.name));
        const args = sourceMoves.flatMap((move) => ['SLOTSRANGE', ...rangeArgs(move.slots), 'NODE', move.to.id]);
        const expected = new Set(sourceMoves.flatMap((move) => move.slots));
        lines.push(stamp(`${source}: CLUSTER MIGRATESLOTS ${sourceMoves.map((move) => `${move.slots.length} slots to ${move.to.address}`).join(', ')}`));
        const reply = await client.call('CLUSTER', 'MIGRATESLOTS', ...args);
        lines.push(stamp(`${source}: ${String(reply)}`));
        const deadline = performance.now() + timeoutMs;
        let lastState = '';
        for (;;) {
          const ours = parseMigrations(await client.call('CLUSTER', 'GETSLOTMIGRATIONS')).filter(
            (entry) => entry.operation === 'EXPORT' && !known.has(entry.name),
          );
          const ended = ours.find((entry) => entry.state === 'failed' || entry.state === 'cancelled');
          if (ended) throw new Error(`${source}: atomic slot migration of ${ended.slots.length} slots ended ${ended.state}: ${ended.message}`);
          const state = ours.map((entry) => `${entry.slots.length} slots ${entry.state}`).join(', ');
          if (state !== lastState) lines.push(stamp(`${source}: ${state || 'no job yet'}`));
          lastState = state;
          const done = new Set(ours.filter((entry) => entry.state === 'success').flatMap((entry) => entry.slots));
          if ([...expected].every((slot) => done.has(slot))) return;
          if (performance.now() > deadline) {
            await client.call('CLUSTER', 'CANCELSLOTMIGRATIONS', 'ALL').catch(() => undefined);
            throw new Error(`${source}: atomic slot migration did not finish within ${timeoutMs / 1000} s (${state})`);
          }
          await sleep(POLL_MS);
        }
      }),
    ),
  );
  lines.push(stamp('every job: success'));
  return lines;
}

/** Waits (bounded) until every node reports cluster_state:ok. */
async function waitForStateOk(addresses: string[], log: string[], timeoutMs = 60_000): Promise<void> {
  const started = performance.now();
  for (;;) {
    const states = await Promise.all(
      addresses.map((address) => withConnection(address, async (client) => /cluster_state:(\w+)/.exec(String(await client.call('CLUSTER', 'INFO')))?.[1])),
    );
    const notOk = addresses.filter((_, index) => states[index] !== 'ok');
    if (notOk.length === 0) {
      log.push(`cluster_state ok on every node after ${((performance.now() - started) / 1000).toFixed(3)} s`);
      return;
    }
    if (performance.now() - started > timeoutMs) throw new Error(`cluster_state is not ok on ${notOk.join(', ')} after ${timeoutMs / 1000} s`);
    await sleep(POLL_MS);
  }
}

/** The node at this address as the seed sees it. */
function nodeAt(nodes: ClusterNode[], address: string): ClusterNode {
  const node = nodes.find((candidate) => candidate.address === address);
  if (!node) throw new Error(`${address} is not in the cluster`);
  return node;
}

export class NativeAsmContender implements Contender {
  readonly name = 'native asm';
  readonly role: ContenderRole = 'native-asm';

  async grow(context: OperationContext): Promise<OperationTiming> {
    const { pods } = context;
    const addresses = pods.addresses(context.podCount);
    const newMaster = addresses[2 * context.fromMasters];
    const newReplica = addresses[2 * context.fromMasters + 1];
    const log: string[] = [];
    const stopwatch = new Stopwatch();
    // The new node meets every member at once (as the program does), so joining does not wait on gossip.
    const meet = (address: string, members: string[]) =>
      withConnection(address, (client) =>
        Promise.all(
          members.map((member) => {
            const separator = member.lastIndexOf(':');
            return client.call('CLUSTER', 'MEET', member.slice(0, separator), member.slice(separator + 1));
          }),
        ),
      ).then(() => log.push(`${address}: CLUSTER MEET ${members.length} members`));
    try {
      await stopwatch.time('join', () => meet(newMaster, addresses.slice(0, 2 * context.fromMasters)));
      await stopwatch.time('agree', () => waitForAgreement(addresses.slice(0, 2 * context.fromMasters + 1)));
      const masterId = await nodeId(newMaster);
      await stopwatch.time('join', async () => {
        await meet(newReplica, addresses.slice(0, 2 * context.fromMasters + 1));
        await withConnection(newReplica, async (client) => {
          while (!String(await client.call('CLUSTER', 'NODES')).includes(masterId)) await sleep(POLL_MS);
          log.push(`${newReplica}: CLUSTER REPLICATE ${masterId}: ${String(await client.call('CLUSTER', 'REPLICATE', masterId))}`);
        });
        // A MEET from the replica carries its new role to every member now, not at the next gossip round.
        await meet(newReplica, addresses.slice(0, 2 * context.fromMasters + 1));
      });
      const nodes = await stopwatch.time('agree', () => waitForAgreement(addresses));
      // A master that has just joined answers CLUSTERDOWN until its own cluster_state turns ok; slots
      // moved to it before then stall clients (about 1.2 s here), so a careful hand waits, as the program does.
      await stopwatch.time('state ok', () => waitForStateOk(addresses, log));
      const moves = growMoves(nodes, nodeAt(nodes, newMaster));
      log.push(...(await stopwatch.time('migrate', () => migrateByHand(moves, context.timeoutMs))));
      await stopwatch.time('agree', () => waitForAgreement(addresses));
    } finally {
      writeFileSync(context.logFile, `${log.join('\n')}\n`);
    }
    return this.timing(stopwatch, context);
  }

  async shrink(context: OperationContext): Promise<OperationTiming> {
    const { pods } = context;
    const addresses = pods.addresses(context.podCount);
    const survivors = addresses.slice(0, 2 * context.toMasters);
    const leaving = addresses.slice(2 * context.toMasters);
    const log: string[] = [];
    const stopwatch = new Stopwatch();
    try {
      const nodes = await readClusterNodes(addresses[0]);
      const moves = drainMoves(
        nodes,
        leaving.map((address) => nodeAt(nodes, address).id),
      );
      log.push(...(await stopwatch.time('migrate', () => migrateByHand(moves, context.timeoutMs))));
      await stopwatch.time('agree', () => waitForAgreement(addresses));
      // As the program leaves them: every survivor forgets the leaving nodes, which keep running (and
      // redirecting) until their pods stop. The emptied master may be loading a new master's data
      // meanwhile (it turned itself into a replica), so it is not asked anything.
      await stopwatch.time('leave', async () => {
        const ids = leaving.map((address) => nodeAt(nodes, address).id);
        await Promise.all(
          survivors.map((survivor) =>
            withConnection(survivor, async (client) => {
              for (const id of ids) await client.call('CLUSTER', 'FORGET', id);
            }),
          ),
        );
        log.push(`${survivors.length} survivors forgot ${leaving.join(', ')}`);
      });
      await stopwatch.time('agree', () => waitForAgreement(survivors));
    } finally {
      writeFileSync(context.logFile, `${log.join('\n')}\n`);
    }
    return this.timing(stopwatch, context);
  }

  private timing(stopwatch: Stopwatch, context: OperationContext): OperationTiming {
    return {
      totalMs: stopwatch.elapsedMs,
      migrateMs: stopwatch.phases.find((phase) => phase.name === 'migrate')?.ms,
      migrateSource: 'first MIGRATESLOTS to every job success (polled every 20 ms)',
      phases: stopwatch.phases,
      logFile: context.logFile,
    };
  }
}
