// What the slots that are about to move hold: keys, bytes (MEMORY USAGE), and the large keys by
// name. Read before anything moves, so that the capacity check uses the real bytes per slot,
// the plan names the big keys, and the migrator sizes its MIGRATE batches by bytes.
import type { Redis } from 'ioredis';
import { TopologyError, describeError } from '../errors';
import { migrationLimits } from '../plan/migration-limits';
import type { ClusterView, MoveSurvey, SlotContents, Step } from '../plan/model';
import type { Pod } from '../pod';
import { call } from '../redis/command';
import { connectionError, type Connections } from '../redis/connections';
import { isRedisError } from '../redis/errors';

/** A slot's contents, with the large keys' names as the server has them (binary safe). */
export interface SurveyedSlot extends SlotContents {
  readonly largeKeyNames: readonly Buffer[];
}

/**
 * Keys measured per slot at most: each slot is measured by one script, which blocks its node
 * for about a microsecond per key; a slot with more keys is sampled (its first keys measured,
 * the total scaled).
 */
export const maxKeysMeasuredPerSlot = 10_000;

/**
 * Slots surveyed per round trip. A server runs every command it has read before it serves
 * another client: one pipeline of all a source's slots (a thousand scripts) held its clients up
 * for 10-20 ms at a time, doubling their p99 during a migration's first second.
 */
const surveySlotsPerRequest = 16;

/**
 * One slot per script (a script may only touch keys of one slot): its first keys, their total
 * MEMORY USAGE, and those of at least ARGV[3] bytes by name.
 */
const surveyScript = `local keys = redis.call('CLUSTER', 'GETKEYSINSLOT', ARGV[1], ARGV[2])
local large = tonumber(ARGV[3])
local result = {#keys, 0}
local total = 0
for _, key in ipairs(keys) do
  local bytes = redis.call('MEMORY', 'USAGE', key) or 0
  total = total + bytes
  if bytes >= large then
    result[#result + 1] = key
    result[#result + 1] = bytes
  end
end
result[2] = total
return result`;

/** Shows a key name in the log: printable ASCII as is, anything else escaped, long names cut. */
export function displayKeyName(name: Buffer): string {
  let text = '';
  for (const byte of name.subarray(0, 80))
    text += byte >= 0x20 && byte < 0x7f && byte !== 0x22 ? String.fromCharCode(byte) : `\\x${byte.toString(16).padStart(2, '0')}`;
  return `"${text}"${name.length > 80 ? `... (${name.length} bytes)` : ''}`;
}

/**
 * Surveys `slots` on `pod` (which holds them), `keysBySlot` giving each slot's key count.
 * Keys of at least `largeKeyBytes` are named.
 */
export async function surveySlots(client: Redis, pod: Pod, keysBySlot: ReadonlyMap<number, number>, largeKeyBytes: number): Promise<Map<number, SurveyedSlot>> {
  const slots = [...keysBySlot].filter(([, keys]) => keys > 0);
  if (slots.length === 0) return new Map();
  const sha = String(await call(client, 'SCRIPT', 'LOAD', surveyScript));
  const results: Array<[Error | null, unknown]> = [];
  for (let start = 0; start < slots.length; start += surveySlotsPerRequest) {
    const pipeline = client.pipeline();
    // ASKING before each script: a node still importing a slot (a repair) lets it read its keys then.
    for (const [slot, keys] of slots.slice(start, start + surveySlotsPerRequest)) {
      pipeline.call('ASKING');
      pipeline.callBuffer('EVALSHA', sha, '0', String(slot), String(Math.min(keys, maxKeysMeasuredPerSlot)), String(Math.max(1, Math.floor(largeKeyBytes))));
    }
    results.push(...((await pipeline.exec()) ?? []).filter((_, index) => index % 2 === 1));
  }
  const survey = new Map<number, SurveyedSlot>();
  results.forEach(([error, reply], index) => {
    const [slot, keys] = slots[index]!;
    if (error) {
      if (isRedisError(error, 'authentication')) throw connectionError(pod, error);
      // Keys in a slot this node neither owns nor imports (stranded ones) cannot be read by a
      // script: the slot is moved unmeasured, in batches that shrink if one takes too long.
      if (isRedisError(error, 'keyNotLocal', 'transient', 'connectionLost')) {
        survey.set(slot, { keys, measuredKeys: 0, bytes: 0, largeKeys: [], largeKeyNames: [] });
        return;
      }
      throw new TopologyError(`${pod.name}: measuring the keys of slot ${slot} failed: ${describeError(error)}`);
    }
    const values = reply as Array<number | Buffer>;
    const measuredKeys = Number(values[0]);
    const measuredBytes = Number(values[1]);
    const largeKeys: Array<{ name: string; bytes: number }> = [];
    const largeKeyNames: Buffer[] = [];
    for (let at = 2; at + 1 < values.length; at += 2) {
      const name = values[at] as Buffer;
      largeKeyNames.push(name);
      largeKeys.push({ name: displayKeyName(name), bytes: Number(values[at + 1]) });
    }
    const scale = measuredKeys > 0 && keys > measuredKeys ? keys / measuredKeys : 1;
    survey.set(slot, { keys, measuredKeys, bytes: Math.round(measuredBytes * scale), largeKeys, largeKeyNames });
  });
  return survey;
}

/** The node's cluster-node-timeout in ms (the failure detection the migration must stay under). */
export async function nodeTimeoutMs(client: Redis): Promise<number> {
  // CONFIG renamed or refused: assume Redis's default.
  return (await readNodeTimeoutMs(client)) ?? 15_000;
}

/** The node's cluster-node-timeout in ms; undefined when CONFIG is refused or renamed. */
export async function readNodeTimeoutMs(client: Redis): Promise<number | undefined> {
  try {
    const reply = (await call(client, 'CONFIG', 'GET', 'cluster-node-timeout')) as string[];
    const value = Number(reply[1]);
    return Number.isFinite(value) && value > 0 ? value : undefined;
  } catch {
    return undefined;
  }
}

/** The survey of every slot the plan's migrate steps move, each measured on its source. */
export interface Survey extends MoveSurvey {
  readonly slots: ReadonlyMap<number, SurveyedSlot>;
}

export async function surveyMoves(connections: Connections, pods: readonly Pod[], view: ClusterView, steps: readonly Step[]): Promise<Survey> {
  const bySource = new Map<string, number[]>();
  for (const step of steps) {
    if (step.kind !== 'migrate') continue;
    for (const move of step.moves) bySource.set(move.from, [...(bySource.get(move.from) ?? []), ...move.slots]);
  }
  const slots = new Map<number, SurveyedSlot>();
  const timeouts = new Map<string, number>();
  await Promise.all(
    [...bySource].map(async ([id, moving]) => {
      const node = view.pods.find((candidate) => candidate.id === id);
      if (!node) return;
      const pod = pods[node.ordinal]!;
      const client = await connections.client(pod);
      const timeout = await nodeTimeoutMs(client);
      timeouts.set(id, timeout);
      const keys = new Map(moving.map((slot) => [slot, node.keysBySlot[slot] ?? 0]));
      for (const [slot, contents] of await surveySlots(client, pod, keys, migrationLimits(timeout).largeKeyBytes)) slots.set(slot, contents);
    }),
  );
  return { slots, nodeTimeoutMs: timeouts };
}
