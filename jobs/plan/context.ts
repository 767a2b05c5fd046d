// What both phases start from: the view, the membership, the working state after the shared
// first steps (repairs, forgets, failovers of removed masters).
import type { Membership } from './membership';
import type { ClusterView, DesiredShape, PodNode, Step } from './model';
import type { Working } from './working';

/** What both phases start from, shared by planPre and planPost. */
export interface PlanContext {
  readonly view: ClusterView;
  readonly desired: DesiredShape;
  /** D = M*(1+R): pods 0..D-1 stay, the others leave. */
  readonly podCount: number;
  readonly byId: ReadonlyMap<string, PodNode>;
  readonly membership: Membership;
  readonly isMember: (pod: PodNode) => boolean;
  /** Pods >= D still in the cluster. */
  readonly removed: readonly PodNode[];
  /** Pods 0..D-1, members or not. */
  readonly survivors: readonly PodNode[];
  /** Removed masters with slots and no staying replica: their slots must move. */
  readonly drainedRemoved: readonly PodNode[];
  readonly working: Working;
  /** Steps so far (repairs, forgets, failovers); each phase appends its own. */
  readonly steps: Step[];
  readonly notes: string[];
}
