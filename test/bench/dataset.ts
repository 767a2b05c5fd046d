// The benchmark's keys: N deterministic keys and values, indexed by hash slot so they can be
// loaded with one MSET per slot and verified with one MGET per slot, pipelined per node.
import type Redis from 'ioredis';
import { keySlot, SLOT_COUNT } from './key-slot.js';
import { withConnection, type SlotMap } from './cluster-view.js';

/** Commands per pipeline round trip when loading and verifying. */
const PIPELINE_BATCH = 256;

export class Dataset {
  readonly keyCount: number;
  readonly valueSize: number;
  /** Key numbers sorted by slot; slot s holds keysBySlot[slotStart[s] .. slotStart[s+1]). */
  private readonly keysBySlot: Int32Array;
  private readonly slotStart: Int32Array;
  private readonly filler: string;

  constructor(keyCount: number, valueSize: number) {
    this.keyCount = keyCount;
    this.valueSize = valueSize;
    this.filler = 'v'.repeat(valueSize);
    const slotOfKey = new Uint16Array(keyCount);
    const counts = new Int32Array(SLOT_COUNT + 1);
    for (let number = 0; number < keyCount; number++) {
      slotOfKey[number] = keySlot(this.key(number));
      counts[slotOfKey[number] + 1]++;
    }
    this.slotStart = new Int32Array(SLOT_COUNT + 1);
    for (let slot = 0; slot < SLOT_COUNT; slot++) this.slotStart[slot + 1] = this.slotStart[slot] + counts[slot + 1];
    const next = this.slotStart.slice(0, SLOT_COUNT);
    this.keysBySlot = new Int32Array(keyCount);
    for (let number = 0; number < keyCount; number++) this.keysBySlot[next[slotOfKey[number]]++] = number;
  }

  key(number: number): string {
    return `bench:${number}`;
  }

  /** valueSize bytes that say which key they belong to, so a misplaced value is caught. */
  value(number: number): string {
    const prefix = `${number}:`;
    return prefix + this.filler.slice(prefix.length);
  }

  keyNumbersInSlot(slot: number): Int32Array {
    return this.keysBySlot.subarray(this.slotStart[slot], this.slotStart[slot + 1]);
  }

  randomKeyNumber(): number {
    return Math.floor(Math.random() * this.keyCount);
  }

  /** Writes every key to the master that owns its slot: one MSET per slot, pipelined. */
  async load(map: SlotMap): Promise<void> {
    await Promise.all(
      map.masters.map((master) =>
        withConnection(master.address, async (client) => {
          await this.forSlotBatches(
            map,
            master.id,
            client,
            (pipeline, slot) => {
              const keys = this.keyNumbersInSlot(slot);
              if (keys.length === 0) return false;
              const args: string[] = [];
              for (const number of keys) args.push(this.key(number), this.value(number));
              pipeline.call('MSET', ...args);
              return true;
            },
            (reply) => {
              if (reply !== 'OK') throw new Error(`MSET answered ${String(reply)}`);
            },
          );
        }),
      ),
    );
  }

  /** Reads every key back from its slot's owner (MGET per slot) and counts what is absent or wrong. */
  async verify(map: SlotMap): Promise<{ checked: number; missing: number; wrong: number; examples: string[] }> {
    const result = { checked: 0, missing: 0, wrong: 0, examples: [] as string[] };
    const uncovered = map.owners.filter((owner) => owner === '').length;
    if (uncovered > 0) result.examples.push(`${uncovered} slots have no owner`);
    await Promise.all(
      map.masters.map((master) =>
        withConnection(master.address, async (client) => {
          const slotsInBatch: number[] = [];
          await this.forSlotBatches(
            map,
            master.id,
            client,
            (pipeline, slot) => {
              const keys = this.keyNumbersInSlot(slot);
              if (keys.length === 0) return false;
              pipeline.call('MGET', ...Array.from(keys, (number) => this.key(number)));
              slotsInBatch.push(slot);
              return true;
            },
            (reply) => {
              const slot = slotsInBatch.shift()!;
              const keys = this.keyNumbersInSlot(slot);
              const values = reply as Array<string | null>;
              keys.forEach((number, index) => {
                result.checked++;
                if (values[index] === null) {
                  result.missing++;
                  if (result.examples.length < 5) result.examples.push(`${this.key(number)} (slot ${slot}) missing on ${master.address}`);
                } else if (values[index] !== this.value(number)) {
                  result.wrong++;
                  if (result.examples.length < 5) result.examples.push(`${this.key(number)} (slot ${slot}) has a wrong value`);
                }
              });
            },
          );
        }),
      ),
    );
    // Keys in slots that nobody owns were not read at all.
    result.missing += this.keyCount - result.checked;
    return result;
  }

  /** Runs one command per slot owned by masterId, PIPELINE_BATCH commands per round trip. */
  private async forSlotBatches(
    map: SlotMap,
    masterId: string,
    client: Redis,
    add: (pipeline: ReturnType<Redis['pipeline']>, slot: number) => boolean,
    check: (reply: unknown) => void,
  ): Promise<void> {
    let pipeline = client.pipeline();
    let queued = 0;
    const flush = async () => {
      for (const [error, reply] of (await pipeline.exec()) ?? []) {
        if (error) throw error;
        check(reply);
      }
      pipeline = client.pipeline();
      queued = 0;
    };
    for (let slot = 0; slot < SLOT_COUNT; slot++) {
      if (map.owners[slot] !== masterId) continue;
      if (add(pipeline, slot)) queued++;
      if (queued >= PIPELINE_BATCH) await flush();
    }
    if (queued > 0) await flush();
  }
}
