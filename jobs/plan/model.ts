// The typed view of a cluster the planner reads, and the steps it writes. Pure data.

/** One pod's node as it sees itself, plus what it knows about the others. */
export interface PodNode {
  readonly ordinal: number;
  /** For humans: "pod 3 (redis-cluster-3...:6379)". */
  readonly name: string;
  /** IP the node is reached at and announces (CLUSTER MEET needs an IP). */
  readonly ip: string;
  readonly port: number;
  readonly id: string;
  readonly role: 'master' | 'replica';
  readonly masterId: string | null;
  /** Slots this node claims for itself, sorted. */
  readonly slots: readonly number[];
  /** slot -> node id it is migrating to / importing from (only the node itself shows these). */
  readonly migrating: Readonly<Record<number, string>>;
  readonly importing: Readonly<Record<number, string>>;
  /** Ids of other nodes this node knows (not in handshake). */
  readonly knows: readonly string[];
  /** Ids this node flags as fail, pfail or noaddr. */
  readonly failing: readonly string[];
  /** Nodes this node is still handshaking with. */
  readonly handshakes: number;
  readonly keyCount: number;
  /** slot -> keys in it, only slots with keys; filled for masters. */
  readonly keysBySlot: Readonly<Record<number, number>>;
  readonly usedMemory: number;
  /** 0 = no limit. */
  readonly maxMemory: number;
  /** maxmemory-policy: what the node does at maxmemory ('noeviction' refuses writes, the others evict keys). */
  readonly maxMemoryPolicy: string;
  /** Keys evicted since the node started (INFO stats evicted_keys). */
  readonly evictedKeys: number;
  /** A replica: whether its link to its master is up (INFO master_link_status), so it can take over. Absent when not read. */
  readonly masterLinkUp?: boolean;
  /** Where the pod runs, when the program could learn it (jobs/observe/placement.ts); absent when unknown. */
  readonly placement?: Placement;
}

/**
 * The failure domains a pod runs in. A field is absent when unknown, or when it does not count as
 * a failure domain (the node, for pods on virtual nodes).
 */
export interface Placement {
  /** The Kubernetes node (spec.nodeName). */
  readonly node?: string;
  /** The node's zone label (topology.kubernetes.io/zone unless configured otherwise). */
  readonly zone?: string;
}

/** A node some pod knows that is not any of the pods (gone, or reset to a new id). */
export interface StrangerNode {
  readonly id: string;
  readonly address: string;
  /** Ordinals of pods that know it. */
  readonly knownBy: readonly number[];
  /** True when every pod that knows it flags it fail/pfail/noaddr. */
  readonly unreachable: boolean;
  /** Slots some pod believes it owns. */
  readonly slots: readonly number[];
}

export interface ClusterView {
  /** Index = ordinal. */
  readonly pods: readonly PodNode[];
  readonly strangers: readonly StrangerNode[];
}

export type { DesiredShape } from '../contract';

/** The two phases a run plans: before the StatefulSet changes (pre) and after (post). */
export type PlanPhase = 'pre' | 'post';

export interface SlotMove {
  readonly from: string;
  readonly to: string;
  /** Sorted; all move from `from` to `to`. */
  readonly slots: readonly number[];
}

/** How an open slot is closed, following redis-cli --cluster fix. */
export interface OpenSlotRepair {
  readonly kind: 'repairOpenSlot';
  readonly slot: number;
  /** The node that ends owning the slot. */
  readonly owner: string;
  /** Nobody claimed the slot: the owner takes it (ADDSLOTS + BUMPEPOCH). */
  readonly claim: boolean;
  /** Other masters claiming the slot: they drop it and hand their keys to the owner. */
  readonly extraOwners: readonly string[];
  /**
   * complete: finish a migration (migrating node `from` -> importing node `owner`).
   * toOwner: move keys from `from` nodes (importing or holding keys) to the owner, close them.
   * close: nothing to move; clear the flags.
   */
  readonly mode: 'complete' | 'toOwner' | 'close';
  /** Nodes whose keys in the slot go to the owner. */
  readonly from: readonly string[];
  /** Nodes that carry a MIGRATING/IMPORTING flag for the slot. */
  readonly flagged: readonly string[];
  readonly reason: string;
}

export type Step =
  | OpenSlotRepair
  | { readonly kind: 'forget'; readonly node: string; readonly reason: string }
  | { readonly kind: 'failover'; readonly replica: string; readonly master: string }
  /**
   * A replica still shows slots MIGRATING/IMPORTING that its master has closed (Valkey replicates
   * SETSLOT to the replicas before it applies it, so a client gone meanwhile leaves the replica
   * ahead): the master repeats SETSLOT STABLE for them, a no-op on it that reaches the replica.
   */
  | { readonly kind: 'clearReplicaSlotFlags'; readonly replica: string; readonly master: string; readonly slots: readonly number[] }
  /** Unowned slots given to a master (CLUSTER ADDSLOTSRANGE): no keys move. */
  | { readonly kind: 'addSlots'; readonly node: string; readonly slots: readonly number[] }
  | { readonly kind: 'meet'; readonly node: string; readonly via: string }
  | { readonly kind: 'makeEmptyMaster'; readonly node: string; readonly via: string }
  /**
   * A pod the cluster forgot (removed, then back on its old volume without its preStop reset)
   * rejoins under a new node id (CLUSTER RESET HARD, which empties it): for a minute after a
   * CLUSTER FORGET the servers gossip the forgotten id to each other and drop it wherever it
   * reappears, so the old id would come and go. The last kind of step in its round: later steps
   * would name the old id.
   */
  | { readonly kind: 'rejoinAsNew'; readonly node: string; readonly via: string }
  | { readonly kind: 'migrate'; readonly moves: readonly SlotMove[] }
  | { readonly kind: 'replicate'; readonly node: string; readonly master: string }
  | { readonly kind: 'removeNode'; readonly node: string };

export interface Plan {
  readonly steps: readonly Step[];
  /** Facts worth telling the operator (e.g. why no data moves). */
  readonly notes: readonly string[];
  /** Ordinals of the pods forming the cluster when the plan was made (joiners are added as they join). */
  readonly clusterOrdinals: readonly number[];
}

/** What a slot that is about to move holds, measured on its source (observe/slot-survey.ts). */
export interface SlotContents {
  /** Keys in the slot. */
  readonly keys: number;
  /** Keys whose size was measured (the first ones of a very large slot; else all). */
  readonly measuredKeys: number;
  /** MEMORY USAGE of the slot's keys (scaled up when only some were measured). */
  readonly bytes: number;
  /** Keys big enough to be moved one MIGRATE each, with their size; names shown printable. */
  readonly largeKeys: ReadonlyArray<{ readonly name: string; readonly bytes: number }>;
}

/** The moving slots' contents by slot (each slot has one source), and each source's failure detection. */
export interface MoveSurvey {
  readonly slots: ReadonlyMap<number, SlotContents>;
  /** cluster-node-timeout of each source, by node id. */
  readonly nodeTimeoutMs: ReadonlyMap<string, number>;
}
