// How Argo CD and Flux apply a folder of manifests, reduced to what decides correctness here:
// order (Argo CD hook phases and sync waves; Flux Kustomizations chained by dependsOn), waiting
// for health between steps, re-creating hook Jobs, pruning, and stopping when a step fails.
import path from 'node:path';
import { annotation, objectKey, readManifests, type KubeObject } from './manifests';
import type { StandInCluster } from './kubelet-standin';

export interface SyncResult {
  ok: boolean;
  /** The step that failed (an Argo CD phase, a Flux Kustomization), when one did. */
  failedStep?: string;
  error?: string;
  /** Wall time of each step, in order, in ms. */
  steps: Array<{ step: string; ms: number }>;
}

// Argo CD's apply order within a wave (gitops-engine's kind order), then by name.
const kindOrder = [
  'Namespace',
  'NetworkPolicy',
  'ResourceQuota',
  'LimitRange',
  'PodSecurityPolicy',
  'PodDisruptionBudget',
  'ServiceAccount',
  'Secret',
  'SecretList',
  'ConfigMap',
  'StorageClass',
  'PersistentVolume',
  'PersistentVolumeClaim',
  'CustomResourceDefinition',
  'ClusterRole',
  'ClusterRoleList',
  'ClusterRoleBinding',
  'ClusterRoleBindingList',
  'Role',
  'RoleList',
  'RoleBinding',
  'RoleBindingList',
  'Service',
  'DaemonSet',
  'Pod',
  'ReplicationController',
  'ReplicaSet',
  'Deployment',
  'HorizontalPodAutoscaler',
  'StatefulSet',
  'Job',
  'CronJob',
  'Ingress',
  'APIService',
];

function byKindThenName(a: KubeObject, b: KubeObject): number {
  const rank = (object: KubeObject) => {
    const index = kindOrder.indexOf(object.kind);
    return index === -1 ? kindOrder.length : index;
  };
  return rank(a) - rank(b) || a.metadata.name.localeCompare(b.metadata.name);
}

const argoHook = 'argocd.argoproj.io/hook';
const argoWave = 'argocd.argoproj.io/sync-wave';
const argoDeletePolicy = 'argocd.argoproj.io/hook-delete-policy';

/**
 * One Argo CD sync of an Application whose source is `folder` (auto-sync with prune). `strategy: 'apply'` is
 * `argocd app sync --strategy apply`: the resources alone, no hooks.
 */
export async function argoSync(
  cluster: StandInCluster,
  folder: string,
  { timeoutMs = 600_000, strategy = 'hook' }: { timeoutMs?: number; strategy?: 'hook' | 'apply' } = {},
): Promise<SyncResult> {
  const desired = readManifests(folder, true);
  const steps: SyncResult['steps'] = [];
  const phaseOf = (object: KubeObject) =>
    annotation(object, argoHook)
      ?.split(',')
      .map((hook) => hook.trim()) ?? ['Sync'];
  for (const phase of strategy === 'apply' ? ['Sync'] : ['PreSync', 'Sync', 'PostSync']) {
    const started = Date.now();
    const resources = desired.filter((object) => phaseOf(object).includes(phase));
    const waves = [...new Set(resources.map((object) => Number(annotation(object, argoWave) ?? 0)))].sort((a, b) => a - b);
    try {
      for (const wave of waves) {
        const inWave = resources.filter((object) => Number(annotation(object, argoWave) ?? 0) === wave).sort(byKindThenName);
        for (const object of inWave) {
          const isHook = annotation(object, argoHook) !== undefined;
          const deletePolicy = annotation(object, argoDeletePolicy) ?? (isHook ? 'BeforeHookCreation' : '');
          if (isHook && deletePolicy.includes('BeforeHookCreation')) await cluster.delete(object.kind, object.metadata.name);
          await cluster.apply(object);
        }
        for (const object of inWave) await cluster.waitHealthy(object, timeoutMs);
        for (const object of inWave) {
          if ((annotation(object, argoDeletePolicy) ?? '').includes('HookSucceeded')) await cluster.delete(object.kind, object.metadata.name);
        }
      }
      if (phase === 'Sync') await prune(cluster, desired, (object) => annotation(object, argoHook) === undefined);
    } catch (error) {
      steps.push({ step: phase, ms: Date.now() - started });
      return { ok: false, failedStep: phase, error: (error as Error).message, steps };
    }
    steps.push({ step: phase, ms: Date.now() - started });
  }
  return { ok: true, steps };
}

const fluxForce = 'kustomize.toolkit.fluxcd.io/force';

/**
 * One Flux reconciliation of `kustomizations` (Kustomization objects) against the repository
 * checked out at `repositoryRoot`: each applies its path once the ones it depends on are ready.
 */
export async function fluxSync(
  cluster: StandInCluster,
  kustomizations: KubeObject[],
  repositoryRoot: string,
  { timeoutMs = 600_000 } = {},
): Promise<SyncResult> {
  const steps: SyncResult['steps'] = [];
  const ready = new Set<string>();
  const pending = [...kustomizations];
  while (pending.length > 0) {
    const next = pending.find((kustomization) => (kustomization.spec.dependsOn ?? []).every((dependency: { name: string }) => ready.has(dependency.name)));
    if (!next) {
      return { ok: false, failedStep: pending[0].metadata.name, error: 'dependsOn cannot be satisfied', steps };
    }
    pending.splice(pending.indexOf(next), 1);
    const started = Date.now();
    const name = next.metadata.name;
    try {
      const objects = readManifests(path.join(repositoryRoot, next.spec.path), true).sort(byKindThenName);
      for (const object of objects) {
        const force = next.spec.force === true || annotation(object, fluxForce) === 'enabled';
        await cluster.apply(object, { force });
      }
      if (next.spec.prune) await prune(cluster, objects, () => true, name);
      if (next.spec.wait) for (const object of objects) await cluster.waitHealthy(object, timeoutMs);
      ready.add(name);
    } catch (error) {
      steps.push({ step: name, ms: Date.now() - started });
      return { ok: false, failedStep: name, error: (error as Error).message, steps };
    }
    steps.push({ step: name, ms: Date.now() - started });
  }
  return { ok: true, steps };
}

// What each owner (an Argo CD app, a Flux Kustomization) applied last time, for pruning.
const inventories = new WeakMap<StandInCluster, Map<string, Set<string>>>();

async function prune(cluster: StandInCluster, desired: KubeObject[], managed: (object: KubeObject) => boolean, owner = 'argocd'): Promise<void> {
  const byOwner = inventories.get(cluster) ?? new Map<string, Set<string>>();
  inventories.set(cluster, byOwner);
  const now = new Set(desired.filter(managed).map(objectKey));
  for (const key of byOwner.get(owner) ?? []) {
    if (now.has(key)) continue;
    const [kind, name] = key.split('/');
    await cluster.delete(kind, name);
  }
  byOwner.set(owner, now);
}
