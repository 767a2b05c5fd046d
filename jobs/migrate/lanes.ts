// How many MIGRATEs each pod has outstanding, as source or as target.
import type { Pod } from '../pod';

/**
 * MIGRATE blocks its source until the target has stored every key, and the target stores a
 * batch in one go; MIGRATEs queued on a pod run back to back and stall its other clients for
 * all of them. So per pod, as source or target, only `width` are outstanding (the migrator uses
 * 1 per 16 slots in flight, at least 1): clients are served in between, and fewer slots in
 * flight mean shorter stalls. Lanes are taken in ordinal order, so two pairs never wait on each other.
 */
export class MigrateLanes {
  /** Per pod, the MIGRATEs it sends or receives that are not yet answered, and those waiting their turn. */
  private readonly lanes = new Map<number, { running: number; waiting: Array<() => void> }>();

  constructor(private readonly width: number) {}

  async run<T>(source: Pod, target: Pod, operation: () => Promise<T>): Promise<T> {
    const pods = [source, target].sort((a, b) => a.ordinal - b.ordinal);
    for (const pod of pods) await this.enter(pod);
    try {
      return await operation();
    } finally {
      for (const pod of pods) this.leave(pod);
    }
  }

  private async enter(pod: Pod): Promise<void> {
    let lane = this.lanes.get(pod.ordinal);
    if (!lane) this.lanes.set(pod.ordinal, (lane = { running: 0, waiting: [] }));
    const current = lane;
    if (current.running < this.width) current.running++;
    else await new Promise<void>((resolve) => current.waiting.push(resolve));
  }

  private leave(pod: Pod): void {
    const lane = this.lanes.get(pod.ordinal)!;
    const next = lane.waiting.shift();
    if (next) next();
    else lane.running--;
  }
}
