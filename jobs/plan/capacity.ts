// Checks before anything moves: receivers with maxmemory must have room for what they get
// (with headroom, whatever their maxmemory-policy: an evicting receiver would drop keys to make
// room), and no key may be too big to move without blocking its source past the node timeout.
import { Refusal } from '../errors';
import { formatMegabytes } from '../format';
import { migrationLimits } from './migration-limits';
import type { ClusterView, MoveSurvey, Step } from './model';
import { formatRanges } from './slots';

/**
 * Share of maxmemory a receiver keeps free after the move: fragmentation, replication and client
 * output buffers, and the writes clients go on making meanwhile all need room beyond the data.
 */
export const receiverHeadroom = 0.1;

/**
 * Bytes each target receives: the surveyed MEMORY USAGE of each moving slot, or, for a slot not
 * surveyed, its key count times its source's bytes per key.
 */
export function incomingBytes(view: ClusterView, steps: readonly Step[], survey?: MoveSurvey): Map<string, number> {
  const byId = new Map(view.pods.map((pod) => [pod.id, pod]));
  const incoming = new Map<string, number>();
  for (const step of steps) {
    if (step.kind !== 'migrate') continue;
    for (const move of step.moves) {
      const source = byId.get(move.from);
      if (!source) continue;
      const bytesPerKey = source.keyCount === 0 ? 0 : source.usedMemory / source.keyCount;
      const bytes = move.slots.reduce((sum, slot) => sum + (survey?.slots.get(slot)?.bytes ?? (source.keysBySlot[slot] ?? 0) * bytesPerKey), 0);
      incoming.set(move.to, (incoming.get(move.to) ?? 0) + bytes);
    }
  }
  return incoming;
}

/** Throws a Refusal, before anything moves, if a receiver with maxmemory would run out of room. */
export function checkCapacity(view: ClusterView, steps: readonly Step[], survey?: MoveSurvey): void {
  const byId = new Map(view.pods.map((pod) => [pod.id, pod]));
  const problems: string[] = [];
  for (const [id, bytes] of incomingBytes(view, steps, survey)) {
    const target = byId.get(id);
    if (!target || target.maxMemory === 0 || bytes === 0) continue;
    const after = target.usedMemory + bytes;
    const limit = target.maxMemory * (1 - receiverHeadroom);
    if (after > limit) {
      const evicts = target.maxMemoryPolicy !== 'noeviction';
      problems.push(
        `${target.name} would need ~${formatMegabytes(after)} (uses ${formatMegabytes(target.usedMemory)}, receives ~${formatMegabytes(bytes)}) ` +
          `but maxmemory is ${formatMegabytes(target.maxMemory)} (${Math.round(receiverHeadroom * 100)}% of it is kept free)` +
          (evicts ? `, and its maxmemory-policy ${target.maxMemoryPolicy} would evict keys to make room` : ''),
      );
    }
  }
  if (problems.length > 0) {
    throw new Refusal(
      `not enough memory to move the data; no slot was moved: ${problems.join('; ')}`,
      "raise maxmemory / the pods' memory, keep more masters, or delete data, then run again",
    );
  }
}

/** Keys in the moving slots too big to MIGRATE without blocking their source past half its node timeout: the run refuses. */
export function oversizedKeys(view: ClusterView, steps: readonly Step[], survey: MoveSurvey): string[] {
  const byId = new Map(view.pods.map((pod) => [pod.id, pod]));
  const found: string[] = [];
  for (const step of steps) {
    if (step.kind !== 'migrate') continue;
    for (const move of step.moves) {
      const timeout = survey.nodeTimeoutMs.get(move.from);
      if (timeout === undefined) continue;
      const { maxKeyBytes } = migrationLimits(timeout);
      for (const slot of move.slots) {
        for (const key of survey.slots.get(slot)?.largeKeys ?? []) {
          if (key.bytes > maxKeyBytes) found.push(`${key.name} (~${formatMegabytes(key.bytes)}, slot ${slot} on ${byId.get(move.from)?.name ?? move.from})`);
        }
      }
    }
  }
  return found;
}

/** Throws a Refusal naming the keys, before anything moves, if a moving slot holds a key too big to move safely. */
export function checkKeySizes(view: ClusterView, steps: readonly Step[], survey: MoveSurvey): void {
  const found = oversizedKeys(view, steps, survey);
  if (found.length === 0) return;
  const timeouts = [...new Set(survey.nodeTimeoutMs.values())];
  const limit = migrationLimits(Math.min(...timeouts)).maxKeyBytes;
  throw new Refusal(
    `${found.length} key(s) are too big to move safely; no slot was moved: ${found.slice(0, 10).join('; ')}${found.length > 10 ? '; ...' : ''}. ` +
      `MIGRATE blocks its source until the target has stored the key, and moving one of over ~${formatMegabytes(limit)} ` +
      `could block it past half of cluster-node-timeout (${timeouts.join('/')} ms), which fails the node over`,
    'split or delete the key, or raise cluster-node-timeout on every node (the limit grows with it: CONFIG SET cluster-node-timeout <ms>) for the move, then run again',
  );
}

/** Keys the migrate steps will move, from the observed per-slot counts. */
export function keysToMove(view: ClusterView, steps: readonly Step[]): number {
  const byId = new Map(view.pods.map((pod) => [pod.id, pod]));
  let keys = 0;
  for (const step of steps) {
    if (step.kind !== 'migrate') continue;
    for (const move of step.moves) {
      const source = byId.get(move.from);
      for (const slot of move.slots) keys += source?.keysBySlot[slot] ?? 0;
    }
  }
  return keys;
}

/** Lines naming the large keys of the moving slots (each moves in a MIGRATE of its own), for the plan. */
export function describeLargeKeys(steps: readonly Step[], survey: MoveSurvey): string[] {
  const lines: string[] = [];
  for (const step of steps) {
    if (step.kind !== 'migrate') continue;
    for (const move of step.moves) {
      const keys = move.slots.flatMap((slot) => (survey.slots.get(slot)?.largeKeys ?? []).map((key) => ({ ...key, slot })));
      if (keys.length === 0) continue;
      keys.sort((a, b) => b.bytes - a.bytes);
      lines.push(
        `large keys in slots ${formatRanges(keys.map((key) => key.slot))} (each moves alone): ` +
          keys
            .slice(0, 5)
            .map((key) => `${key.name} ~${formatMegabytes(key.bytes)} (slot ${key.slot})`)
            .join(', ') +
          (keys.length > 5 ? ` and ${keys.length - 5} more` : ''),
      );
    }
  }
  return lines;
}
