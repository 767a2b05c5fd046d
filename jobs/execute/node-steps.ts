// The steps that change membership and roles: forget, fail over, add slots, join, make a replica
// an empty master, replicate, remove. Each checks the live state first, so repeating one is safe.
import type { Redis } from 'ioredis';
import { sleep } from '../clock';
import { nudgesPerObserver, type Convergence, type SettleOptions } from '../converge/convergence';
import { REMOVED_MARK_USER } from '../contract';
import { TopologyError, describeError } from '../errors';
import { readPod } from '../observe/read';
import { toRanges } from '../plan/slots';
import type { Pod } from '../pod';
import type { Log } from '../progress';
import { call, withRetry } from '../redis/command';
import type { Connections } from '../redis/connections';
import { isRedisError } from '../redis/errors';
import { JoinNodeTimeouts } from './join-node-timeout';

export interface NodeStepsEnvironment {
  readonly connections: Connections;
  readonly convergence: Convergence;
  readonly log: Log;
  client(pod: Pod): Promise<Redis>;
  podOf(nodeId: string): Pod;
  /** Waits for agreement (and takes the masters of that moment). */
  settle(options: SettleOptions): Promise<void>;
}

export class NodeSteps {
  private readonly joinTimeouts: JoinNodeTimeouts;

  constructor(private readonly environment: NodeStepsEnvironment) {
    this.joinTimeouts = new JoinNodeTimeouts(environment);
  }

  /** Masters that joined get their cluster's node timeout back (see join-node-timeout.ts): once they report ok, or at the end. */
  restoreJoinTimeouts(): Promise<void> {
    return this.joinTimeouts.restore();
  }

  private async self(pod: Pod) {
    return (await readPod(this.environment.connections, pod, { withInfo: false })).self;
  }

  async forgetEverywhere(nodeId: string): Promise<void> {
    await Promise.all(
      this.environment.convergence.members().map((pod) =>
        withRetry(`${pod.name}: CLUSTER FORGET ${nodeId}`, async () => {
          try {
            await call(await this.environment.client(pod), 'CLUSTER', 'FORGET', nodeId);
          } catch (error) {
            if (!isRedisError(error, 'unknownNode')) throw error;
          }
        }),
      ),
    );
  }

  async failover(replicaId: string, masterId: string): Promise<void> {
    const replica = this.environment.podOf(replicaId);
    const master = this.environment.podOf(masterId);
    if (!(await this.self(replica)).flags.has('slave')) return;
    await this.environment.settle({ requireStateOk: true });
    for (let attempt = 1; attempt <= 3; attempt++) {
      await withRetry(`${replica.name}: CLUSTER FAILOVER`, async () => {
        await call(await this.environment.client(replica), 'CLUSTER', 'FAILOVER');
      });
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline) {
        const [replicaSelf, masterSelf] = await Promise.all([this.self(replica), this.self(master)]);
        if (!replicaSelf.flags.has('slave') && masterSelf.flags.has('slave')) {
          this.environment.log.info(`${replica.name} is now the master, ${master.name} its replica`);
          return;
        }
        await sleep(200);
      }
      this.environment.log.warn(`failover of ${master.name} to ${replica.name} has not completed after 30s (attempt ${attempt}/3)`);
    }
    throw new TopologyError(
      `failover of ${master.name} to ${replica.name} did not complete`,
      'check that the replica is in sync (INFO replication on it) and run again',
    );
  }

  /**
   * Slots no master claims, given to one. The receiver's own table may still name an old owner
   * (one that handed the slots on and no longer claims them): ADDSLOTS refuses those as busy, so
   * they are dropped from its table first, and its epoch is bumped so its claim outranks the
   * stale entries elsewhere.
   */
  async addSlots(nodeId: string, slots: readonly number[]): Promise<void> {
    const pod = this.environment.podOf(nodeId);
    const report = await readPod(this.environment.connections, pod, { withInfo: false });
    const owned = new Set(report.self.slots);
    const missing = slots.filter((slot) => !owned.has(slot));
    if (missing.length === 0) return;
    const namedElsewhere = new Set(report.entries.filter((entry) => entry !== report.self).flatMap((entry) => entry.slots));
    const stale = missing.filter((slot) => namedElsewhere.has(slot));
    const ranges = (list: readonly number[]) => toRanges(list).flatMap(([start, end]) => [start, end]);
    await withRetry(`${pod.name}: CLUSTER ADDSLOTSRANGE`, async () => {
      const client = await this.environment.client(pod);
      if (stale.length > 0) {
        try {
          await call(client, 'CLUSTER', 'DELSLOTSRANGE', ...ranges(stale));
        } catch (error) {
          if (!isRedisError(error, 'slotNotAssigned')) throw error;
        }
      }
      await call(client, 'CLUSTER', 'ADDSLOTSRANGE', ...ranges(missing));
      if (stale.length > 0) await call(client, 'CLUSTER', 'BUMPEPOCH');
    });
  }

  /**
   * A new cluster's masters all start at config epoch 0, and the servers then tell them apart
   * one collision at a time (the lower node id takes the next epoch): with dozens of masters
   * that goes on for many seconds after the bootstrap, and a source master that takes a new
   * epoch above a target that just claimed a window wins the window back; the target then
   * deletes the window's keys. As redis-cli --cluster create does, every pod of a new cluster
   * that still knows no other node gets a distinct epoch (its ordinal + 1) before any MEET.
   * Returns whether the steps form a new cluster (false: they join an existing one).
   */
  private async distinctEpochsForNewCluster(steps: ReadonlyArray<{ readonly node: string; readonly via: string }>): Promise<boolean> {
    const vias = [...new Set(steps.map((step) => step.via))].map((id) => this.environment.podOf(id));
    const viaReports = await Promise.all(vias.map((pod) => readPod(this.environment.connections, pod, { withInfo: false })));
    // A via that knows others or owns slots: an existing cluster, whose epochs are left alone.
    if (viaReports.some((report) => report.entries.length > 1 || report.self.slots.length > 0)) return false;
    const joiners = steps.map((step) => this.environment.podOf(step.node)).filter((pod) => !vias.includes(pod));
    const reports = [...viaReports, ...(await Promise.all(joiners.map((pod) => readPod(this.environment.connections, pod, { withInfo: false }))))];
    await Promise.all(
      reports.map(async ({ pod, entries, self }) => {
        if (entries.length > 1 || self.configEpoch !== 0) return;
        await withRetry(`${pod.name}: CLUSTER SET-CONFIG-EPOCH ${pod.ordinal + 1}`, async () => {
          try {
            await call(await this.environment.client(pod), 'CLUSTER', 'SET-CONFIG-EPOCH', pod.ordinal + 1);
          } catch (error) {
            // It met a node (or took an epoch) since it was read: the servers sort that one out.
            if (!isRedisError(error, 'configEpochRefused')) throw error;
          }
        });
      }),
    );
    return true;
  }

  private async meet(nodeId: string, viaId: string): Promise<void> {
    const pod = this.environment.podOf(nodeId);
    const via = this.environment.podOf(viaId);
    await withRetry(`${via.name}: CLUSTER MEET ${pod.ip} ${pod.port}`, async () => {
      await call(await this.environment.client(via), 'CLUSTER', 'MEET', pod.ip, pod.port);
    });
    this.environment.convergence.add(via);
    this.environment.convergence.add(pod);
  }

  /**
   * Each joining node is met through its `via` (that one must work), then also by up to
   * `nudgesPerObserver` other members and earlier joiners (best effort): direct handshakes,
   * instead of waiting seconds for gossip to introduce the newcomer to each node in turn. All of
   * them in a small cluster; in a large one gossip and the settle's nudges do the rest, so the
   * MEETs stay linear in the pods.
   */
  async meetAll(steps: ReadonlyArray<{ readonly node: string; readonly via: string }>): Promise<void> {
    if (!(await this.distinctEpochsForNewCluster(steps))) {
      // Joining an existing cluster: each joiner, a master until told otherwise, with a short rejoin delay.
      await Promise.all(steps.map((step) => this.joinTimeouts.shorten(this.environment.podOf(step.node), this.environment.podOf(step.via))));
    }
    for (const step of steps) await this.meet(step.node, step.via);
    const joiners = steps.map((step) => this.environment.podOf(step.node));
    const earlier = new Set(joiners.map((pod) => pod.ordinal));
    await Promise.all(
      joiners.flatMap((joiner, index) => {
        earlier.delete(joiner.ordinal);
        const via = this.environment.podOf(steps[index]!.via);
        const senders = this.environment.convergence
          .members()
          .filter((pod) => pod.ordinal !== joiner.ordinal && pod.ordinal !== via.ordinal && !earlier.has(pod.ordinal));
        // Spread over the cluster: the senders nearest below the joiner, so each member meets a few joiners.
        const below = senders.filter((pod) => pod.ordinal < joiner.ordinal).reverse();
        const chosen = [...below, ...senders.filter((pod) => pod.ordinal > joiner.ordinal)].slice(0, nudgesPerObserver);
        return chosen.map((sender) => this.environment.convergence.meet(sender, joiner, { warn: true }));
      }),
    );
  }

  async makeEmptyMaster(nodeId: string, viaId: string): Promise<void> {
    const pod = this.environment.podOf(nodeId);
    const via = this.environment.podOf(viaId);
    const self = await this.self(pod);
    if (self.flags.has('slave') || self.slots.length === 0) {
      if (self.flags.has('slave')) {
        // RESET empties a replica's memory, but not its append-only file: FLUSHALL, now that it
        // is an empty master, goes there too, so a restart cannot bring the old keys back.
        await withRetry(`${pod.name}: CLUSTER RESET SOFT and FLUSHALL`, async () => {
          const client = await this.environment.client(pod);
          await call(client, 'CLUSTER', 'RESET', 'SOFT');
          await call(client, 'FLUSHALL');
        });
      }
      await this.joinTimeouts.shorten(pod, via);
      await withRetry(`${pod.name}: CLUSTER MEET ${via.ip} ${via.port}`, async () => {
        await call(await this.environment.client(pod), 'CLUSTER', 'MEET', via.ip, via.port);
      });
    }
  }

  /**
   * A pod the cluster forgot takes a new id (RESET HARD, which also empties a replica; FLUSHALL
   * then empties its append-only file too), every member forgets the old id (one it learned again
   * from the pod), and it is met as a new node. Run again after the reset, only the rest repeats.
   */
  async rejoinAsNew(nodeId: string, viaId: string): Promise<void> {
    const pod = this.environment.podOf(nodeId);
    const self = await this.self(pod);
    if (self.id === nodeId) {
      if (!self.flags.has('slave') && self.slots.length > 0) {
        throw new TopologyError(`${pod.name} claims ${self.slots.length} slots again; not resetting it`, 'run again');
      }
      await withRetry(`${pod.name}: CLUSTER RESET HARD and FLUSHALL`, async () => {
        const client = await this.environment.client(pod);
        await call(client, 'CLUSTER', 'RESET', 'HARD');
        await call(client, 'FLUSHALL');
      });
      this.environment.log.info(`${pod.name}: reset, now node ${(await this.self(pod)).id.slice(0, 8)} (was ${nodeId.slice(0, 8)})`);
    }
    await this.forgetEverywhere(nodeId);
    await this.joinTimeouts.shorten(pod, this.environment.podOf(viaId));
    await this.meet(nodeId, viaId);
  }

  async replicate(nodeId: string, masterId: string): Promise<void> {
    const pod = this.environment.podOf(nodeId);
    const self = await this.self(pod);
    if (self.flags.has('slave') && self.masterId === masterId) return;
    if (!self.flags.has('slave') && self.slots.length > 0) {
      throw new TopologyError(`${pod.name} still holds ${self.slots.length} slots and cannot become a replica`, 'run again');
    }
    await withRetry(`${pod.name}: CLUSTER REPLICATE ${this.environment.podOf(masterId).name}`, async () => {
      await call(await this.environment.client(pod), 'CLUSTER', 'REPLICATE', masterId);
    });
  }

  async removeNodes(nodeIds: readonly string[]): Promise<void> {
    const removed = nodeIds.map((id) => this.environment.podOf(id));
    for (const pod of removed) {
      const self = await this.self(pod);
      if (!self.flags.has('slave') && self.slots.length > 0) {
        throw new TopologyError(`${pod.name} still holds ${self.slots.length} slots; not removing it`, 'run again');
      }
    }
    // Marked first (REMOVED_MARK_USER): its pod's preStop hook resets it and deletes its data, so
    // its volume brings no old keys back. A mark that cannot be set leaves the hook its other sign,
    // the cluster no longer listing the node (which Valkey 8+ undoes by meeting its peers again).
    await Promise.all(
      removed.map(async (pod) => {
        try {
          await call(await this.environment.client(pod), 'ACL', 'SETUSER', REMOVED_MARK_USER, 'off');
        } catch (error) {
          this.environment.log.warn(`${pod.name}: could not mark it as removed for its preStop hook (ACL SETUSER): ${describeError(error)}`);
        }
      }),
    );
    for (const pod of removed) this.environment.convergence.remove(pod);
    // Every pod that stays forgets it at once (well inside the 60 s ban that keeps gossip from
    // bringing it back). The removed node itself is left as it is: until its pod stops it still
    // knows every slot's owner, so clients that route by an old slot map get MOVED, not
    // CLUSTERDOWN.
    await Promise.all(nodeIds.map((id) => this.forgetEverywhere(id)));
  }
}
