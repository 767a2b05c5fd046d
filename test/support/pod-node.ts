// A PodNode of the planner's view for unit tests: an empty, healthy master unless told otherwise.
import type { PodNode } from '../../jobs/plan/model';

export function podNode(ordinal: number, fields: Partial<PodNode> = {}): PodNode {
  return {
    ordinal,
    name: `pod ${ordinal}`,
    ip: `10.0.0.${ordinal + 1}`,
    port: 6379,
    id: `node${ordinal}`,
    role: 'master',
    masterId: null,
    slots: [],
    migrating: {},
    importing: {},
    knows: [],
    failing: [],
    handshakes: 0,
    keyCount: 0,
    keysBySlot: {},
    usedMemory: 0,
    maxMemory: 0,
    maxMemoryPolicy: 'noeviction',
    evictedKeys: 0,
    ...fields,
  };
}
