// Carries out an open-slot repair decided by the planner (plan/open-slots.ts), the way
// redis-cli --cluster fix does.
import type { Redis } from 'ioredis';
import type { SlotMigrator } from '../migrate/slot-migrator';
import type { OpenSlotRepair } from '../plan/model';
import type { Pod } from '../pod';
import type { Log } from '../progress';
import { call, withRetry } from '../redis/command';
import { isRedisError } from '../redis/errors';

export interface RepairEnvironment {
  client(pod: Pod): Promise<Redis>;
  podOf(nodeId: string): Pod;
  masters(): readonly Pod[];
  readonly log: Log;
}

/** DELSLOTS, where a slot that is already unassigned is fine. */
async function dropSlot(client: Redis, slot: number): Promise<void> {
  try {
    await call(client, 'CLUSTER', 'DELSLOTS', slot);
  } catch (error) {
    if (!isRedisError(error, 'slotNotAssigned')) throw error;
  }
}

export async function repairOpenSlot(fix: OpenSlotRepair, environment: RepairEnvironment, migrator: SlotMigrator): Promise<void> {
  const { slot } = fix;
  const owner = environment.podOf(fix.owner);
  const ownerClient = await environment.client(owner);

  if (fix.claim) {
    await withRetry(`slot ${slot}: claiming it for ${owner.name}`, async () => {
      await call(ownerClient, 'CLUSTER', 'SETSLOT', slot, 'STABLE');
      await dropSlot(ownerClient, slot);
      await call(ownerClient, 'CLUSTER', 'ADDSLOTS', slot);
      await call(ownerClient, 'CLUSTER', 'BUMPEPOCH');
    });
  }
  for (const id of fix.extraOwners) {
    const pod = environment.podOf(id);
    const client = await environment.client(pod);
    await withRetry(`slot ${slot}: ${pod.name} giving up its claim`, async () => {
      await dropSlot(client, slot);
      await call(client, 'CLUSTER', 'SETSLOT', slot, 'NODE', fix.owner);
      await call(client, 'CLUSTER', 'SETSLOT', slot, 'IMPORTING', fix.owner);
    });
  }

  if (fix.mode === 'complete') {
    await migrator.moveSlot(fix.from[0]!, fix.owner, slot);
  } else if (fix.mode === 'toOwner') {
    // An owner still MIGRATING the slot (keys going back from a receiver out of memory) answers
    // the keys it lacks with -ASK, RESTORE-ASKING too, so no key could come back: it closes first.
    if (fix.flagged.includes(fix.owner)) {
      await withRetry(`slot ${slot}: closing it on the owner ${owner.name}`, async () => {
        await call(ownerClient, 'CLUSTER', 'SETSLOT', slot, 'STABLE');
      });
    }
    for (const id of fix.from) {
      const pod = environment.podOf(id);
      // A node importing the slot ignores every claim to it but its source's: when that source is
      // no longer a master (it failed over), the node thinks a dead node owns the slot, reports
      // cluster_state:fail and serves no key at all. Naming the owner first lets it serve again
      // (it stays importing, so its keys are still reached with ASKING).
      await withRetry(`slot ${slot}: telling ${pod.name} the owner`, async () => {
        try {
          await call(await environment.client(pod), 'CLUSTER', 'SETSLOT', slot, 'NODE', fix.owner);
        } catch (error) {
          if (!isRedisError(error, 'keysRemain', 'notMaster')) throw error;
        }
      });
      // A node holding keys of a slot it neither owns nor imports (a replica promoted while its
      // master imported the slot: Redis does not pass the flag on) answers MOVED to MIGRATE, even
      // after ASKING: importing the slot from the owner lets its keys be read and moved.
      if (!fix.flagged.includes(id) && !fix.extraOwners.includes(id)) {
        await withRetry(`slot ${slot}: opening it on ${pod.name} to move its keys`, async () => {
          await call(await environment.client(pod), 'CLUSTER', 'SETSLOT', slot, 'IMPORTING', fix.owner);
        });
      }
      await migrator.drainSlot(pod, owner, slot);
      await withRetry(`slot ${slot}: closing it on ${pod.name}`, async () => {
        await call(await environment.client(pod), 'CLUSTER', 'SETSLOT', slot, 'STABLE');
      });
    }
    // The keys moved "cold": make sure every master names the owner.
    await Promise.all(
      environment
        .masters()
        .filter((pod) => pod.ordinal !== owner.ordinal)
        .map((pod) =>
          withRetry(`slot ${slot}: SETSLOT NODE on ${pod.name}`, async () => {
            await call(await environment.client(pod), 'CLUSTER', 'SETSLOT', slot, 'NODE', fix.owner);
          }),
        ),
    );
  }
  // Whatever flags remain (close, or left over) are cleared.
  for (const id of fix.flagged) {
    if (fix.mode === 'complete' && (id === fix.owner || id === fix.from[0])) continue;
    const pod = environment.podOf(id);
    await withRetry(`slot ${slot}: SETSLOT STABLE on ${pod.name}`, async () => {
      await call(await environment.client(pod), 'CLUSTER', 'SETSLOT', slot, 'STABLE');
    });
  }
}
