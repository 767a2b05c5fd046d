// Executes an open-slot fix decided by the planner, the way redis-cli --cluster fix does.
import type { Redis } from 'ioredis';
import type { Pod } from './discover';
import { describeError } from './errors';
import type { OpenSlotFix } from './model';
import { SlotMigrator, withRetry } from './migrate';
import type { Log } from './progress';

export interface RepairEnvironment {
  client(pod: Pod): Promise<Redis>;
  podOf(nodeId: string): Pod;
  masters(): readonly Pod[];
  readonly log: Log;
}

async function call(client: Redis, ...args: (string | number)[]): Promise<unknown> {
  return client.call(...(args.map(String) as [string, ...string[]]));
}

async function ignoring(pattern: RegExp, operation: () => Promise<unknown>): Promise<void> {
  try {
    await operation();
  } catch (error) {
    if (!pattern.test(describeError(error))) throw error;
  }
}

export async function fixOpenSlot(fix: OpenSlotFix, environment: RepairEnvironment, migrator: SlotMigrator): Promise<void> {
  const { slot } = fix;
  const owner = environment.podOf(fix.owner);
  const ownerClient = await environment.client(owner);

  if (fix.claim) {
    await withRetry(`slot ${slot}: claiming it for ${owner.name}`, async () => {
      await call(ownerClient, 'CLUSTER', 'SETSLOT', slot, 'STABLE');
      await ignoring(/already unassigned|not assigned/i, () => call(ownerClient, 'CLUSTER', 'DELSLOTS', slot));
      await call(ownerClient, 'CLUSTER', 'ADDSLOTS', slot);
      await call(ownerClient, 'CLUSTER', 'BUMPEPOCH');
    });
  }
  for (const id of fix.extraOwners) {
    const pod = environment.podOf(id);
    const client = await environment.client(pod);
    await withRetry(`slot ${slot}: ${pod.name} giving up its claim`, async () => {
      await ignoring(/already unassigned|not assigned/i, () => call(client, 'CLUSTER', 'DELSLOTS', slot));
      await call(client, 'CLUSTER', 'SETSLOT', slot, 'NODE', fix.owner);
      await call(client, 'CLUSTER', 'SETSLOT', slot, 'IMPORTING', fix.owner);
    });
  }

  if (fix.mode === 'complete') {
    await migrator.moveSlot(fix.from[0]!, fix.owner, slot);
  } else if (fix.mode === 'toOwner') {
    for (const id of fix.from) {
      const pod = environment.podOf(id);
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
