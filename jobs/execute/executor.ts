// Execute: runs a plan's steps against the pods, waiting for the cluster to agree between them.
// Each step checks the live state first, so repeating a step (or a whole run) is safe.
import type { Redis } from 'ioredis';
import { sleep } from '../clock';
import { Convergence, type SettleOptions } from '../converge/convergence';
import { TopologyError } from '../errors';
import { SlotMigrator } from '../migrate/slot-migrator';
import type { MigrationTuning } from '../migrate/tuning';
import { readPod } from '../observe/read';
import type { SurveyedSlot } from '../observe/slot-survey';
import type { ServerCapabilities } from '../redis/server';
import { describeStep } from '../plan/describe';
import type { MigrationEngineChoice } from '../contract';
import { AtomicSlotMigrator, waitForServerMigrations } from '../migrate/atomic-slot-migrator';
import type { ClusterView, OpenSlotRepair, Plan, SlotMove, Step } from '../plan/model';
import { toRanges } from '../plan/slots';
import type { Pod } from '../pod';
import type { Log } from '../progress';
import { call, withRetry } from '../redis/command';
import type { Connections } from '../redis/connections';
import { isRedisError } from '../redis/errors';
import { repairOpenSlot } from './open-slot-repair';

export interface ExecutionOptions {
  readonly connections: Connections;
  readonly pods: readonly Pod[];
  readonly password: string | undefined;
  readonly log: Log;
  readonly convergeTimeoutMs: number;
  readonly estimatedKeys: number;
  readonly tuning: MigrationTuning;
  /** What the moving slots hold, measured before the run. */
  readonly survey?: ReadonlyMap<number, SurveyedSlot>;
  /** Each pod's server capabilities, index = ordinal. */
  readonly capabilities: readonly ServerCapabilities[];
  readonly migrationEngine: MigrationEngineChoice;
}

export class Executor {
  private readonly podById: Map<string, Pod>;
  private readonly convergence: Convergence;
  /**
   * The members that were masters when the cluster last settled: the migrator tells them about
   * new slot owners. Set at the start and after every settle, nowhere else.
   */
  private masters: Pod[];
  private readonly migrator: SlotMigrator;

  constructor(
    private readonly plan: Plan,
    private readonly view: ClusterView,
    private readonly options: ExecutionOptions,
  ) {
    this.podById = new Map(view.pods.map((node) => [node.id, options.pods[node.ordinal]!]));
    this.convergence = new Convergence(options, plan.clusterOrdinals);
    this.masters = view.pods.filter((node) => node.role === 'master' && plan.clusterOrdinals.includes(node.ordinal)).map((node) => options.pods[node.ordinal]!);
    this.migrator = new SlotMigrator(
      {
        client: (pod: Pod) => options.connections.client(pod),
        podOf: (id: string) => this.podOf(id),
        masters: () => this.masters,
        capabilities: (pod: Pod) => options.capabilities[pod.ordinal] ?? { setSlotWaitsForReplicas: false, migrateSlots: false },
        password: options.password,
        log: options.log,
      },
      options.tuning,
    );
    if (options.survey) this.migrator.remember(options.survey);
  }

  /** Waits for agreement, then takes the masters of that moment. */
  private async settle(settleOptions: SettleOptions): Promise<void> {
    const reports = await this.convergence.settle(settleOptions);
    this.masters = reports.filter((report) => !report.self.flags.has('slave')).map((report) => report.pod);
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
      const batchable = ['repairOpenSlot', 'forget', 'meet', 'replicate', 'removeNode', 'addSlots'].includes(step.kind);
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
      case 'repairOpenSlot':
        // No wait for agreement first: an open slot can itself keep the nodes from agreeing (a
        // target importing from a node that is no longer a master never learns the owner).
        await this.repairOpenSlots(batch.flatMap((step) => (step.kind === 'repairOpenSlot' ? [step] : [])));
        break;
      case 'forget':
        await Promise.all(batch.map((step) => (step.kind === 'forget' ? this.forgetEverywhere(step.node) : undefined)));
        break;
      case 'failover':
        for (const step of batch) if (step.kind === 'failover') await this.failover(step.replica, step.master);
        break;
      case 'addSlots':
        for (const step of batch) if (step.kind === 'addSlots') await this.addSlots(step.node, step.slots);
        break;
      case 'clearReplicaSlotFlags':
        for (const step of batch) {
          if (step.kind !== 'clearReplicaSlotFlags') continue;
          const master = this.podOf(step.master);
          const client = await this.client(master);
          await withRetry(`${master.name}: SETSLOT NODE for its replica's open slots`, () =>
            Promise.all(Object.entries(step.owners).map(([slot, owner]) => call(client, 'CLUSTER', 'SETSLOT', slot, 'NODE', owner))),
          );
        }
        break;
      case 'meet':
        await this.meetAll(batch.flatMap((step) => (step.kind === 'meet' ? [step] : [])));
        break;
      case 'makeEmptyMaster':
        for (const step of batch) if (step.kind === 'makeEmptyMaster') await this.makeEmptyMaster(step.node, step.via);
        break;
      case 'migrate':
        await this.settle({ requireStateOk: true });
        for (const step of batch) if (step.kind === 'migrate') await this.migrate(step.moves);
        break;
      case 'replicate':
        await this.settle({ requireStateOk: false });
        for (const step of batch) if (step.kind === 'replicate') await this.replicate(step.node, step.master);
        break;
      case 'removeNode':
        await this.removeNodes(batch.flatMap((step) => (step.kind === 'removeNode' ? [step.node] : [])));
        break;
    }
    await this.settle({ requireStateOk: false });
  }

  /**
   * The servers move the slots themselves (atomic slot migration) where both ends of every pair
   * can and no key rate cap is set (it has no rate setting to honour one); else MIGRATE.
   */
  private async migrate(moves: readonly SlotMove[]): Promise<void> {
    const { capabilities, tuning, log, estimatedKeys, survey, migrationEngine } = this.options;
    const capable = (id: string) => capabilities[this.podOf(id).ordinal]?.migrateSlots === true;
    const atomic = moves.every((move) => capable(move.from) && capable(move.to));
    if (!atomic || migrationEngine === 'migrate' || tuning.maxKeysPerSecond > 0) {
      if (atomic && migrationEngine === 'auto')
        log.info('a key rate cap is set: moving slots with MIGRATE, which the cap paces (atomic slot migration has no rate setting)');
      await this.migrator.run(moves, estimatedKeys);
      return;
    }
    const keys = new Map<number, number>();
    for (const move of moves) {
      const source = this.view.pods.find((pod) => pod.id === move.from);
      for (const slot of move.slots) keys.set(slot, source?.keysBySlot[slot] ?? 0);
    }
    await new AtomicSlotMigrator({
      client: (pod) => this.client(pod),
      podOf: (id) => this.podOf(id),
      log,
      bytesOf: (slot) => survey?.get(slot)?.bytes ?? 0,
      keysOf: (slot) => keys.get(slot) ?? 0,
      fallback: async (fallbackMoves, fallbackKeys) => {
        // Failed imports are cleaned up on the target and its replicas before MIGRATE touches those slots.
        await waitForServerMigrations(this.convergence.members(), (pod) => this.client(pod), log, this.options.convergeTimeoutMs);
        await this.settle({ requireStateOk: true });
        await this.migrator.run(fallbackMoves, fallbackKeys);
      },
    }).run(moves, estimatedKeys);
  }

  /** Open slots are independent: repair several at once. */
  private async repairOpenSlots(repairs: readonly OpenSlotRepair[]): Promise<void> {
    const queue = [...repairs];
    const environment = {
      client: (pod: Pod) => this.client(pod),
      podOf: (id: string) => this.podOf(id),
      masters: () => this.masters,
      log: this.options.log,
    };
    const worker = async () => {
      for (let repair = queue.shift(); repair; repair = queue.shift()) await repairOpenSlot(repair, environment, this.migrator);
    };
    const results = await Promise.allSettled(Array.from({ length: Math.min(16, queue.length) }, worker));
    const failed = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
    if (failed) throw failed.reason;
  }

  private async self(pod: Pod) {
    return (await readPod(this.options.connections, pod, { withInfo: false })).self;
  }

  private async forgetEverywhere(nodeId: string): Promise<void> {
    await Promise.all(
      this.convergence.members().map((pod) =>
        withRetry(`${pod.name}: CLUSTER FORGET ${nodeId}`, async () => {
          try {
            await call(await this.client(pod), 'CLUSTER', 'FORGET', nodeId);
          } catch (error) {
            if (!isRedisError(error, 'unknownNode')) throw error;
          }
        }),
      ),
    );
  }

  private async failover(replicaId: string, masterId: string): Promise<void> {
    const replica = this.podOf(replicaId);
    const master = this.podOf(masterId);
    if (!(await this.self(replica)).flags.has('slave')) return;
    await this.settle({ requireStateOk: true });
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

  private async addSlots(nodeId: string, slots: readonly number[]): Promise<void> {
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
    this.convergence.add(via);
    this.convergence.add(pod);
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
        const senders = this.convergence.members().filter((pod) => pod.ordinal !== joiner.ordinal && !earlier.has(pod.ordinal));
        return senders.map((sender) => this.convergence.meet(sender, joiner, { warn: true }));
      }),
    );
  }

  private async makeEmptyMaster(nodeId: string, viaId: string): Promise<void> {
    const pod = this.podOf(nodeId);
    const via = this.podOf(viaId);
    const self = await this.self(pod);
    if (self.flags.has('slave') || self.slots.length === 0) {
      if (self.flags.has('slave')) {
        // RESET empties a replica's memory, but not its append-only file: FLUSHALL, now that it
        // is an empty master, goes there too, so a restart cannot bring the old keys back.
        await withRetry(`${pod.name}: CLUSTER RESET SOFT and FLUSHALL`, async () => {
          const client = await this.client(pod);
          await call(client, 'CLUSTER', 'RESET', 'SOFT');
          await call(client, 'FLUSHALL');
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
    for (const pod of removed) this.convergence.remove(pod);
    // Every pod that stays forgets it at once (well inside the 60 s ban that keeps gossip from
    // bringing it back). The removed node itself is left as it is: until its pod stops it still
    // knows every slot's owner, so clients that route by an old slot map get MOVED, not
    // CLUSTERDOWN. Its pod's preStop hook, seeing the cluster no longer lists it, then resets it
    // and deletes its data, so its volume brings no old keys back.
    await Promise.all(nodeIds.map((id) => this.forgetEverywhere(id)));
  }
}
