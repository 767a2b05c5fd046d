import { parseAllDocuments } from 'yaml';
import { ENV } from '../jobs/contract';
import type { ManifestFiles } from './render-manifests';

const SLOTS = 16384;

interface KubeObject {
  readonly apiVersion?: string;
  readonly kind?: string;
  readonly metadata?: { readonly name?: string; readonly namespace?: string };
  readonly spec?: Record<string, any>;
}

/** The cluster shape a set of manifests describes, read back from its StatefulSet and topology Jobs. */
export interface ManifestShape {
  readonly statefulSetName: string;
  readonly pods: number;
  readonly masters?: number;
  readonly replicasPerMaster?: number;
}

export function parseManifestFiles(files: ManifestFiles): KubeObject[] {
  const objects: KubeObject[] = [];
  for (const content of files.values()) {
    for (const document of parseAllDocuments(content)) {
      const object = document.toJS() as KubeObject | null;
      if (object && typeof object === 'object') objects.push(object);
    }
  }
  return objects;
}

function objectKey(object: KubeObject): string {
  return `${object.kind}/${object.metadata?.namespace ? `${object.metadata.namespace}/` : ''}${object.metadata?.name}`;
}

export function readShape(objects: readonly KubeObject[]): ManifestShape | undefined {
  const statefulSet = objects.find((object) => object.kind === 'StatefulSet');
  if (!statefulSet) return undefined;
  const job = objects.find((object) => object.kind === 'Job');
  const env: { name: string; value?: string }[] = job?.spec?.template?.spec?.containers?.[0]?.env ?? [];
  const number = (name: string) => {
    const value = env.find((entry) => entry.name === name)?.value;
    return value === undefined ? undefined : Number(value);
  };
  return {
    statefulSetName: statefulSet.metadata?.name ?? '',
    pods: Number(statefulSet.spec?.replicas ?? 1),
    masters: number(ENV.masters),
    replicasPerMaster: number(ENV.replicasPerMaster),
  };
}

function podNames(name: string, from: number, to: number): string[] {
  const names: string[] = [];
  for (let ordinal = from; ordinal < to; ordinal++) names.push(`${name}-${ordinal}`);
  return names;
}

function listPods(names: readonly string[]): string {
  return names.length <= 6 ? names.join(', ') : `${names.slice(0, 2).join(', ')} ... ${names.at(-1)} (${names.length})`;
}

/** Slots that must change owner to go from `before` to `after` evenly balanced masters. */
export function slotsToMove(before: number, after: number): number {
  if (before === after) return 0;
  return Math.round((SLOTS * Math.abs(after - before)) / Math.max(before, after));
}

/** StatefulSet fields the API server refuses to change on a live StatefulSet. */
const IMMUTABLE_STATEFULSET_FIELDS = ['selector', 'serviceName', 'podManagementPolicy', 'volumeClaimTemplates'] as const;

function immutableFieldWarnings(previous: readonly KubeObject[], next: readonly KubeObject[]): string[] {
  const before = previous.find((object) => object.kind === 'StatefulSet');
  const after = next.find((object) => object.kind === 'StatefulSet');
  if (!before || !after || before.metadata?.name !== after.metadata?.name) return [];
  return IMMUTABLE_STATEFULSET_FIELDS.filter((field) => JSON.stringify(before.spec?.[field]) !== JSON.stringify(after.spec?.[field])).map(
    (field) =>
      `WARNING: StatefulSet ${after.metadata?.name} spec.${field} changed; Kubernetes refuses to change it on a live StatefulSet, so the sync will fail (see docs/operations.md, "Growing the disks, and other fields Kubernetes will not change")`,
  );
}

/** Short, human summary of what a new synth changes against the previous dist/. */
export function summarizeChanges(previous: ManifestFiles, next: ManifestFiles): string[] {
  const nextObjects = parseManifestFiles(next);
  const nextShape = readShape(nextObjects)!;
  const describeShape = (shape: ManifestShape) =>
    `${shape.masters} masters x ${shape.replicasPerMaster} ${shape.replicasPerMaster === 1 ? 'replica' : 'replicas'} = ${shape.pods} pods`;
  if (previous.size === 0) {
    return [`dist/ created: ${describeShape(nextShape)} (${listPods(podNames(nextShape.statefulSetName, 0, nextShape.pods))})`];
  }
  const sameFiles = previous.size === next.size && [...next].every(([path, content]) => previous.get(path) === content);
  if (sameFiles) return [`no changes: ${describeShape(nextShape)}`];

  const lines: string[] = [];
  const previousObjects = parseManifestFiles(previous);
  const previousShape = readShape(previousObjects);
  if (previousShape && previousShape.statefulSetName === nextShape.statefulSetName) {
    if (previousShape.masters !== nextShape.masters) lines.push(`masters ${previousShape.masters} -> ${nextShape.masters}`);
    if (previousShape.replicasPerMaster !== nextShape.replicasPerMaster) {
      lines.push(`replicasPerMaster ${previousShape.replicasPerMaster} -> ${nextShape.replicasPerMaster}`);
    }
    if (nextShape.pods > previousShape.pods) lines.push(`pods added: ${listPods(podNames(nextShape.statefulSetName, previousShape.pods, nextShape.pods))}`);
    if (nextShape.pods < previousShape.pods) {
      lines.push(`pods removed (drained first by the pre Job): ${listPods(podNames(nextShape.statefulSetName, nextShape.pods, previousShape.pods))}`);
    }
    if (previousShape.masters !== undefined && nextShape.masters !== undefined && previousShape.masters !== nextShape.masters) {
      const moving = slotsToMove(previousShape.masters, nextShape.masters);
      lines.push(`about ${Math.round((100 * moving) / SLOTS)}% of the hash slots (${moving} of ${SLOTS}) will move, with their keys`);
    } else if (previousShape.masters !== undefined) {
      lines.push('no hash slots move');
    }
  } else if (previousShape) {
    lines.push(`StatefulSet ${previousShape.statefulSetName} -> ${nextShape.statefulSetName}: a new cluster; the old one's objects are no longer in dist/`);
  }

  lines.push(...immutableFieldWarnings(previousObjects, nextObjects));

  const previousByKey = new Map(previousObjects.map((object) => [objectKey(object), JSON.stringify(object)]));
  const nextByKey = new Map(nextObjects.map((object) => [objectKey(object), JSON.stringify(object)]));
  const added = [...nextByKey.keys()].filter((key) => !previousByKey.has(key));
  const removed = [...previousByKey.keys()].filter((key) => !nextByKey.has(key));
  const changed = [...nextByKey.keys()].filter((key) => previousByKey.has(key) && previousByKey.get(key) !== nextByKey.get(key));
  if (added.length) lines.push(`objects added: ${added.join(', ')}`);
  if (removed.length) lines.push(`objects removed: ${removed.join(', ')}`);
  if (changed.length) lines.push(`objects changed: ${changed.join(', ')}`);
  const removedFiles = [...previous.keys()].filter((path) => !next.has(path));
  if (removedFiles.length) lines.push(`files removed: ${removedFiles.join(', ')}`);
  return lines;
}
