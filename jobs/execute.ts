// Execute: runs a plan's steps against the pods, waiting for the cluster to agree between them.
// Each step checks the live state first, so repeating a step (or a whole run) is safe.
import type { Redis } from 'ioredis';
import type { Connections } from './connections';
import type { Pod } from './discover';
import { TopologyError, describeError } from './errors';
import { describeStep } from './describe';
import type { ClusterView, OpenSlotFix, Plan, Step } from './model';
import { SlotMigrator, defaultTuning, sleep, withRetry, type MigrationTuning } from './migrate';
import { findDisagreements, readPod, type ClusterNodesEntry, type PodReport } from './observe';
import type { Log } from './progress';
import { fixOpenSlot } from './repair';
import { toRanges } from './slots';

export interface ExecutionOptions {
  readonly connections: Connections;
  readonly pods: readonly Pod[];
  readonly password: string | undefined;
  readonly log: Log;
  readonly convergeTimeoutMs: number;
  readonly estimatedKeys: number;
  readonly tuning?: MigrationTuning;
}

async function call(client: Redis, ...args: (string | number)[]): Promise<unknown> {
  return client.call(...(args.map(String) as [string, ...string[]]));
}

export class Executor {
  private readonly members: Set<number>;
  private readonly podById: Map<string, Pod>;
  private masterOrdinals: number[] = [];
  private readonly migrator: SlotMigrator;

  constructor(
    private readonly plan: Plan,
    private readonly view: ClusterView,
    private readonly options: ExecutionOptions,
  ) {
    this.members = new Set(plan.members);
    this.podById = new Map(view.pods.map((node) => [node.id, options.pods[node.ordinal]!]));
    this.masterOrdinals = view.pods.filter((node) => node.role === 'master' && plan.members.includes(node.ordinal)).map((node) => node.ordinal);
    const environment = {
      client: (pod: Pod) => options.connections.client(pod),
      podOf: (id: string) => this.podOf(id),
      masters: () => this.masterOrdinals.map((ordinal) => options.pods[ordinal]!),
      password: options.password,
      log: options.log,
    };
    this.migrator = new SlotMigrator(environment, options.tuning ?? defaultTuning);
  }

  private podOf(id: string): Pod {
    const pod = this.podById.get(id);
    if (!pod) throw new TopologyError(`planner referenced node ${id}, which is no pod`);
    return pod;
  }

  private client(pod: Pod): Promise<Redis> {
    return this.options.connections.client(pod);
  }

  async run(): Promise<void> {
    const steps = this.plan.steps;
    for (let index = 0; index < steps.length;) {
      const step = steps[index]!;
      // Consecutive steps of these kinds run together, then the cluster settles once.
      const batchable = ['fixOpenSlot', 'forget', 'meet', 'replicate', 'removeNode', 'assignSlots'].includes(step.kind);
      let end = index + 1;
      while (batchable && end < steps.length && steps[end]!.kind === step.kind) end++;
      const batch = steps.slice(index, end);
      if (batch.length > 8) {
        this.options.log.info(`steps ${index + 1}-${end}/${steps.length}: ${batch.length} x ${step.kind}, e.g. ${describeStep(step, this.view)}`);
      } else {
        for (const item of batch) {
          const [first, ...rest] = describeStep(item, this.view).split('\n');
          this.options.log.info(`step ${steps.indexOf(item) + 1}/${steps.length}: ${first}`);
          for (const line of rest) this.options.log.info(line);
        }
      }
      await this.runBatch(batch);
      index = end;
    }
  }

  private async runBatch(batch: readonly Step[]): Promise<void> {
    const kind = batch[0]!.kind;
    switch (kind) {
      case 'fixOpenSlot':
        await this.settle(false);
        await this.fixOpenSlots(batch.flatMap((step) => (step.kind === 'fixOpenSlot' ? [step] : [])));
        break;
      case 'forget':
        await Promise.all(batch.map((step) => (step.kind === 'forget' ? this.forgetEverywhere(step.node) : undefined)));
        break;
      case 'failover':
        for (const step of batch) if (step.kind === 'failover') await this.failover(step.replica, step.master);
        break;
      case 'assignSlots':
        for (const step of batch) if (step.kind === 'assignSlots') await this.assignSlots(step.node, step.slots);
        break;
      case 'meet':
        await this.meetAll(batch.flatMap((step) => (step.kind === 'meet' ? [step] : [])));
        break;
      case 'makeEmptyMaster':
        for (const step of batch) if (step.kind === 'makeEmptyMaster') await this.makeEmptyMaster(step.node, step.via);
        break;
      case 'migrate':
        await this.settle(true);
        for (const step of batch) if (step.kind === 'migrate') await this.migrator.run(step.moves, this.options.estimatedKeys);
        break;
      case 'replicate':
        await this.settle(false);
        for (const step of batch) if (step.kind === 'replicate') await this.replicate(step.node, step.master);
        break;
      case 'removeNode':
        await this.removeNodes(batch.flatMap((step) => (step.kind === 'removeNode' ? [step.node] : [])));
        break;
    }
    await this.settle(false);
  }

  /** Open slots are independent: fix several at once. */
  private async fixOpenSlots(fixes: readonly OpenSlotFix[]): Promise<void> {
    const queue = [...fixes];
    const environment = { ...this.environment(), log: this.options.log };
    const worker = async () => {
      for (let fix = queue.shift(); fix; fix = queue.shift()) await fixOpenSlot(fix, environment, this.migrator);
    };
    const results = await Promise.allSettled(Array.from({ length: Math.min(16, queue.length) }, worker));
    const failed = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
    if (failed) throw failed.reason;
  }

  private environment() {
    return {
      client: (pod: Pod) => this.client(pod),
      podOf: (id: string) => this.podOf(id),
      masters: () => this.masterOrdinals.map((ordinal) => this.options.pods[ordinal]!),
    };
  }

  /** Waits (bounded) until every member pod agrees; refreshes which members are masters. */
  async settle(requireStateOk: boolean): Promise<PodReport[]> {
    const deadline = Date.now() + this.options.convergeTimeoutMs;
    let lastLog = Date.now();
    let checks = 0;
    for (;;) {
      const members = [...this.members].sort((a, b) => a - b).map((ordinal) => this.options.pods[ordinal]!);
      const reports = await Promise.all(members.map((pod) => readPod(this.options.connections, pod, false)));
      this.masterOrdinals = reports.filter((report) => !report.self.flags.has('slave')).map((report) => report.pod.ordinal);
      const problems = findDisagreements(reports, requireStateOk);
      if (problems.length === 0) return reports;
      if (Date.now() > deadline) {
        throw new TopologyError(
          `the cluster did not settle within ${Math.round(this.options.convergeTimeoutMs / 1000)}s: ${problems.slice(0, 5).join('; ')}`,
          'check the pods (logs, network between them on the bus port); then run again, it resumes from here',
        );
      }
      if (Date.now() - lastLog > 10_000) {
        this.options.log.info(`waiting for the cluster to agree: ${problems.slice(0, 3).join('; ')}`);
        lastLog = Date.now();
      }
      if (checks++ > 0) await this.nudge(reports);
      await sleep(200);
    }
  }

  /** When each pair of nodes last got a nudge, so a view that stays stale is not nudged more than once a second. */
  private readonly nudged = new Map<string, number>();

  /**
   * A node's role and slots reach another node only in its own cluster-bus messages, which it
   * sends each node about every half node timeout (2.5 s with 5000 ms): after a join, a
   * REPLICATE or a master giving away its last slot, agreement waits for them. Where a node sees
   * another stale, or not at all, a CLUSTER MEET from that other node delivers one message at
   * once (to a node that knows it already, a MEET changes nothing else).
   */
  private async nudge(reports: readonly PodReport[]): Promise<void> {
    const sends: Array<Promise<void>> = [];
    for (const observer of reports) {
      const seen = new Map(observer.entries.map((entry) => [entry.id, entry]));
      for (const subject of reports) {
        if (subject === observer) continue;
        const view = seen.get(subject.self.id);
        if (view && sameConfiguration(view, subject.self)) continue;
        const pair = `${subject.pod.ordinal}>${observer.pod.ordinal}`;
        if (Date.now() - (this.nudged.get(pair) ?? 0) < 1000) continue;
        this.nudged.set(pair, Date.now());
        sends.push(this.bestEffortMeet(subject.pod, observer.pod, false));
      }
    }
    await Promise.all(sends);
  }

  private async self(pod: Pod) {
    return (await readPod(this.options.connections, pod, false)).self;
  }

  private async forgetEverywhere(nodeId: string): Promise<void> {
    await Promise.all(
      [...this.members].map(async (ordinal) => {
        const pod = this.options.pods[ordinal]!;
        try {
          await call(await this.client(pod), 'CLUSTER', 'FORGET', nodeId);
        } catch (error) {
          const message = describeError(error);
          if (/Unknown node/i.test(message)) return;
          throw new TopologyError(`${pod.name}: CLUSTER FORGET ${nodeId} failed: ${message}`);
        }
      }),
    );
  }

  private async failover(replicaId: string, masterId: string): Promise<void> {
    const replica = this.podOf(replicaId);
    const master = this.podOf(masterId);
    if (!(await this.self(replica)).flags.has('slave')) return;
    await this.settle(true);
    for (let attempt = 1; attempt <= 3; attempt++) {
      await withRetry(`${replica.name}: CLUSTER FAILOVER`, async () => {
        await call(await this.client(replica), 'CLUSTER', 'FAILOVER');
      });
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline) {
        const [replicaSelf, masterSelf] = await Promise.all([this.self(replica), this.self(master)]);
        if (!replicaSelf.flags.has('slave') && masterSelf.flags.has('slave')) {
          this.options.log.info(`${replica.name} is now the master, ${master.name} its replica`);
          return;
        }
        await sleep(200);
      }
      this.options.log.warn(`failover of ${master.name} to ${replica.name} has not completed after 30s (attempt ${attempt}/3)`);
    }
    throw new TopologyError(
      `failover of ${master.name} to ${replica.name} did not complete`,
      'check that the replica is in sync (INFO replication on it) and run again',
    );
  }

  private async assignSlots(nodeId: string, slots: readonly number[]): Promise<void> {
    const pod = this.podOf(nodeId);
    const owned = new Set((await this.self(pod)).slots);
    const missing = slots.filter((slot) => !owned.has(slot));
    if (missing.length === 0) return;
    const args = toRanges(missing).flatMap(([start, end]) => [start, end]);
    await withRetry(`${pod.name}: CLUSTER ADDSLOTSRANGE`, async () => {
      await call(await this.client(pod), 'CLUSTER', 'ADDSLOTSRANGE', ...args);
    });
  }

  private async meet(nodeId: string, viaId: string): Promise<void> {
    const pod = this.podOf(nodeId);
    const via = this.podOf(viaId);
    await withRetry(`${via.name}: CLUSTER MEET ${pod.ip} ${pod.port}`, async () => {
      await call(await this.client(via), 'CLUSTER', 'MEET', pod.ip, pod.port);
    });
    this.members.add(via.ordinal);
    this.members.add(pod.ordinal);
  }

  /**
   * Each joining node is met through its `via` (that one must work), then also by every other
   * member and every earlier joiner (best effort): direct handshakes all round, instead of waiting
   * seconds for gossip to introduce the newcomer to each node in turn.
   */
  private async meetAll(steps: ReadonlyArray<{ readonly node: string; readonly via: string }>): Promise<void> {
    for (const step of steps) await this.meet(step.node, step.via);
    const joiners = steps.map((step) => this.podOf(step.node));
    const earlier = new Set(joiners.map((pod) => pod.ordinal));
    await Promise.all(
      joiners.flatMap((joiner) => {
        earlier.delete(joiner.ordinal);
        const senders = [...this.members].filter((ordinal) => ordinal !== joiner.ordinal && !earlier.has(ordinal));
        return senders.map((ordinal) => this.bestEffortMeet(this.options.pods[ordinal]!, joiner));
      }),
    );
  }

  /** CLUSTER MEET from `from` to `to`; a failure only costs speed (gossip carries the same news). */
  private async bestEffortMeet(from: Pod, to: Pod, warn = true): Promise<void> {
    try {
      await call(await this.client(from), 'CLUSTER', 'MEET', to.ip, to.port);
    } catch (error) {
      if (warn) this.options.log.warn(`${from.name}: CLUSTER MEET ${to.ip} ${to.port} failed (gossip will introduce them instead): ${describeError(error)}`);
    }
  }

  private async makeEmptyMaster(nodeId: string, viaId: string): Promise<void> {
    const pod = this.podOf(nodeId);
    const via = this.podOf(viaId);
    const self = await this.self(pod);
    if (self.flags.has('slave') || self.slots.length === 0) {
      if (self.flags.has('slave')) {
        await withRetry(`${pod.name}: CLUSTER RESET SOFT`, async () => {
          await call(await this.client(pod), 'CLUSTER', 'RESET', 'SOFT');
        });
      }
      await withRetry(`${pod.name}: CLUSTER MEET ${via.ip} ${via.port}`, async () => {
        await call(await this.client(pod), 'CLUSTER', 'MEET', via.ip, via.port);
      });
    }
  }

  private async replicate(nodeId: string, masterId: string): Promise<void> {
    const pod = this.podOf(nodeId);
    const self = await this.self(pod);
    if (self.flags.has('slave') && self.masterId === masterId) return;
    if (!self.flags.has('slave') && self.slots.length > 0) {
      throw new TopologyError(`${pod.name} still holds ${self.slots.length} slots and cannot become a replica`, 'run again');
    }
    await withRetry(`${pod.name}: CLUSTER REPLICATE ${this.podOf(masterId).name}`, async () => {
      await call(await this.client(pod), 'CLUSTER', 'REPLICATE', masterId);
    });
  }

  private async removeNodes(nodeIds: readonly string[]): Promise<void> {
    const removed = nodeIds.map((id) => this.podOf(id));
    for (const pod of removed) {
      const self = await this.self(pod);
      if (!self.flags.has('slave') && self.slots.length > 0) {
        throw new TopologyError(`${pod.name} still holds ${self.slots.length} slots; not removing it`, 'run again');
      }
    }
    for (const pod of removed) this.members.delete(pod.ordinal);
    // Reset first (the node forgets everyone), then every survivor forgets it at once,
    // well inside the 60 s ban that keeps gossip from bringing it back. A replica's reset
    // empties its memory but not its AOF, which would bring the old keys back when the pod
    // returns on its kept volume (the next grow would then refuse it): FLUSHALL, now that it
    // is an empty master outside the cluster, is written to the AOF too.
    await Promise.all(
      removed.map((pod) =>
        withRetry(`${pod.name}: CLUSTER RESET HARD and FLUSHALL`, async () => {
          const client = await this.client(pod);
          await call(client, 'CLUSTER', 'RESET', 'HARD');
          await call(client, 'FLUSHALL');
        }),
      ),
    );
    await Promise.all(nodeIds.map((id) => this.forgetEverywhere(id)));
  }
}

/** Whether `view` (one node's line about another) shows what that node says of itself: role, master, slots. */
function sameConfiguration(view: ClusterNodesEntry, self: ClusterNodesEntry): boolean {
  if (view.flags.has('handshake') || view.flags.has('slave') !== self.flags.has('slave')) return false;
  if (self.flags.has('slave')) return view.masterId === self.masterId;
  return view.slots.length === self.slots.length && view.slots.every((slot, index) => slot === self.slots[index]);
}
