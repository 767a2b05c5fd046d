// Memory check before moving data: receivers with maxmemory must have room for what they get.
import { TopologyError } from '../errors';
import type { ClusterView, Step } from './model';
import { formatMegabytes } from '../format';

/** Estimated bytes each target receives (per-slot key counts x the source's bytes per key). */
export function incomingBytes(view: ClusterView, steps: readonly Step[]): Map<string, number> {
  const byId = new Map(view.pods.map((pod) => [pod.id, pod]));
  const incoming = new Map<string, number>();
  for (const step of steps) {
    if (step.kind !== 'migrate') continue;
    for (const move of step.moves) {
      const source = byId.get(move.from);
      if (!source || source.keyCount === 0) continue;
      const bytesPerKey = source.usedMemory / source.keyCount;
      const keys = move.slots.reduce((sum, slot) => sum + (source.keysBySlot[slot] ?? 0), 0);
      incoming.set(move.to, (incoming.get(move.to) ?? 0) + keys * bytesPerKey);
    }
  }
  return incoming;
}

/** Throws, before anything moves, if a receiver with maxmemory would run out of room. */
export function checkCapacity(view: ClusterView, steps: readonly Step[]): void {
  const byId = new Map(view.pods.map((pod) => [pod.id, pod]));
  const problems: string[] = [];
  for (const [id, bytes] of incomingBytes(view, steps)) {
    const target = byId.get(id);
    if (!target || target.maxMemory === 0) continue;
    const after = target.usedMemory + bytes;
    if (after > target.maxMemory) {
      problems.push(
        `${target.name} would need ~${formatMegabytes(after)} (uses ${formatMegabytes(target.usedMemory)}, receives ~${formatMegabytes(bytes)}) but maxmemory is ${formatMegabytes(target.maxMemory)}`,
      );
    }
  }
  if (problems.length > 0) {
    throw new TopologyError(
      `not enough memory to move the data; nothing was changed: ${problems.join('; ')}`,
      "raise maxmemory / the pods' memory, keep more masters, or delete data, then run again",
    );
  }
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
