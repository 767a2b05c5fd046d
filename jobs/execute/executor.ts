// Execute: runs a plan's steps against the pods, waiting for the cluster to agree between them.
// Each step checks the live state first, so repeating a step (or a whole run) is safe.
import type { Redis } from 'ioredis';
import { Convergence, type SettleOptions } from '../converge/convergence';
import { TopologyError } from '../errors';
import { SlotMigrator } from '../migrate/slot-migrator';
import type { MigrationTuning } from '../migrate/tuning';
import type { SurveyedSlot } from '../observe/slot-survey';
import type { ServerCapabilities } from '../redis/server';
import { describeStep } from '../plan/describe';
import type { MigrationEngineChoice } from '../contract';
import { AtomicSlotMigrator, waitForServerMigrations } from '../migrate/atomic-slot-migrator';
import type { ClusterView, OpenSlotRepair, Plan, SlotMove, Step } from '../plan/model';
import type { Pod } from '../pod';
import type { Log } from '../progress';
import { call, withRetry } from '../redis/command';
import type { Connections } from '../redis/connections';
import { NodeSteps } from './node-steps';
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
  private readonly nodes: NodeSteps;

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
        spareClient: (pod: Pod, index: number) => options.connections.spare(pod, index),
        podOf: (id: string) => this.podOf(id),
        masters: () => this.masters,
        capabilities: (pod: Pod) => options.capabilities[pod.ordinal] ?? { setSlotWaitsForReplicas: false, migrateSlots: false },
        password: options.password,
        log: options.log,
      },
      options.tuning,
    );
    if (options.survey) this.migrator.remember(options.survey);
    this.nodes = new NodeSteps({
      connections: options.connections,
      convergence: this.convergence,
      log: options.log,
      client: (pod) => this.client(pod),
      podOf: (id) => this.podOf(id),
      settle: (settleOptions) => this.settle(settleOptions),
    });
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
    try {
      await this.runSteps();
    } finally {
      await this.nodes.restoreJoinTimeouts();
    }
  }

  private async runSteps(): Promise<void> {
    const steps = this.plan.steps;
    for (let index = 0; index < steps.length;) {
      const step = steps[index]!;
      // Consecutive steps of these kinds run together, then the cluster settles once.
      const batchable = ['repairOpenSlot', 'forget', 'meet', 'rejoinAsNew', 'replicate', 'removeNode', 'addSlots'].includes(step.kind);
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
        await Promise.all(batch.map((step) => (step.kind === 'forget' ? this.nodes.forgetEverywhere(step.node) : undefined)));
        break;
      case 'failover':
        for (const step of batch) if (step.kind === 'failover') await this.nodes.failover(step.replica, step.master);
        break;
      case 'addSlots':
        for (const step of batch) if (step.kind === 'addSlots') await this.nodes.addSlots(step.node, step.slots);
        break;
      case 'clearReplicaSlotFlags':
        for (const step of batch) {
          if (step.kind !== 'clearReplicaSlotFlags') continue;
          const master = this.podOf(step.master);
          const client = await this.client(master);
          await withRetry(`${master.name}: SETSLOT STABLE for its replica's open slots`, () =>
            Promise.all(step.slots.map((slot) => call(client, 'CLUSTER', 'SETSLOT', slot, 'STABLE'))),
          );
        }
        break;
      case 'meet':
        await this.nodes.meetAll(batch.flatMap((step) => (step.kind === 'meet' ? [step] : [])));
        break;
      case 'makeEmptyMaster':
        for (const step of batch) if (step.kind === 'makeEmptyMaster') await this.nodes.makeEmptyMaster(step.node, step.via);
        break;
      case 'rejoinAsNew':
        for (const step of batch) if (step.kind === 'rejoinAsNew') await this.nodes.rejoinAsNew(step.node, step.via);
        break;
      case 'migrate':
        await this.settle({ requireStateOk: true, requireEpochs: true });
        // Every member reports ok, the joined masters too: their rejoin delay is behind them.
        await this.nodes.restoreJoinTimeouts();
        for (const step of batch) if (step.kind === 'migrate') await this.migrate(step.moves);
        break;
      case 'replicate':
        await this.settle({ requireStateOk: false });
        for (const step of batch) if (step.kind === 'replicate') await this.nodes.replicate(step.node, step.master);
        break;
      case 'removeNode':
        await this.nodes.removeNodes(batch.flatMap((step) => (step.kind === 'removeNode' ? [step.node] : [])));
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
        await this.settle({ requireStateOk: true, requireEpochs: true });
        await this.migrator.run(fallbackMoves, fallbackKeys);
      },
    }).run(moves, estimatedKeys);
  }

  /** Open slots are independent: repair several at once. */
  private async repairOpenSlots(repairs: readonly OpenSlotRepair[]): Promise<void> {
    const environment = {
      client: (pod: Pod) => this.client(pod),
      podOf: (id: string) => this.podOf(id),
      masters: () => this.masters,
      log: this.options.log,
    };
    // A node importing from a node that is no longer a master reports cluster_state:fail and
    // serves no key, which also fails every migration into it: those repairs (toOwner, which
    // first tell the importing node the owner) go first, then the others.
    const order = { toOwner: 0, close: 1, complete: 2 } as const;
    const queue = [...repairs].sort((a, b) => order[a.mode] - order[b.mode] || a.slot - b.slot);
    const failures: unknown[] = [];
    const worker = async () => {
      for (let repair = queue.shift(); repair; repair = queue.shift()) {
        // One slot that cannot be repaired now does not keep the others open.
        await repairOpenSlot(repair, environment, this.migrator).catch((error: unknown) => failures.push(error));
      }
    };
    await Promise.all(Array.from({ length: Math.min(16, queue.length) }, worker));
    if (failures.length > 0) throw failures[0];
  }
}
