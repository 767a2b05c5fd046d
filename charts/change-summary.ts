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

interface ManifestObject {
  readonly file: string;
  readonly object: KubeObject;
}

function parseManifestEntries(files: ManifestFiles): ManifestObject[] {
  const entries: ManifestObject[] = [];
  for (const [file, content] of files) {
    for (const document of parseAllDocuments(content)) {
      const object = document.toJS() as KubeObject | null;
      if (object && typeof object === 'object') entries.push({ file, object });
    }
  }
  return entries;
}

export function parseManifestFiles(files: ManifestFiles): KubeObject[] {
  return parseManifestEntries(files).map((entry) => entry.object);
}

/** `Kind/[namespace/]name`; a document with no name (kustomize's own kustomization.yaml) by its file instead. */
function objectKey({ file, object }: ManifestObject): string {
  if (object.metadata?.name === undefined) return `${object.kind} (${file})`;
  return `${object.kind}/${object.metadata.namespace ? `${object.metadata.namespace}/` : ''}${object.metadata.name}`;
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
type ImmutableStatefulSetField = (typeof IMMUTABLE_STATEFULSET_FIELDS)[number];

/** A change to fields of the same StatefulSet that Kubernetes will not make in place. */
export interface StatefulSetReplacement {
  readonly statefulSetName: string;
  readonly fields: readonly ImmutableStatefulSetField[];
  /** The claims the StatefulSet has made so far (`<template>-<pod>`), for the steps. */
  readonly claimNames: readonly string[];
  readonly previousStorage?: string;
  readonly nextStorage?: string;
}

const storageOf = (statefulSet: KubeObject | undefined): string | undefined => statefulSet?.spec?.volumeClaimTemplates?.[0]?.spec?.resources?.requests?.storage;

/** The immutable fields a new synth changes on the StatefulSet of the previous one, if any. */
export function statefulSetReplacement(previous: ManifestFiles, next: ManifestFiles): StatefulSetReplacement | undefined {
  const before = parseManifestFiles(previous).find((object) => object.kind === 'StatefulSet');
  const after = parseManifestFiles(next).find((object) => object.kind === 'StatefulSet');
  if (!before || !after || before.metadata?.name !== after.metadata?.name) return undefined;
  const fields = IMMUTABLE_STATEFULSET_FIELDS.filter((field) => JSON.stringify(before.spec?.[field]) !== JSON.stringify(after.spec?.[field]));
  if (fields.length === 0) return undefined;
  const name = after.metadata?.name ?? '';
  const template = before.spec?.volumeClaimTemplates?.[0]?.metadata?.name ?? '';
  const pods = Number(before.spec?.replicas ?? 1);
  return {
    statefulSetName: name,
    fields,
    claimNames: podNames(name, 0, pods).map((pod) => `${template}-${pod}`),
    previousStorage: storageOf(before),
    nextStorage: storageOf(after),
  };
}

/** The steps that do work for a change Kubernetes refuses on the live StatefulSet (docs/operations.md). */
export function statefulSetReplacementSteps(replacement: StatefulSetReplacement): string[] {
  const steps: string[] = [];
  const { statefulSetName: name, previousStorage, nextStorage } = replacement;
  if (replacement.fields.includes('volumeClaimTemplates') && previousStorage !== nextStorage && nextStorage !== undefined) {
    const claims = replacement.claimNames;
    steps.push(
      `grow each existing volume claim in place (its storage class must allow expansion): ` +
        `kubectl patch pvc ${claims[0]} -p '{"spec":{"resources":{"requests":{"storage":"${nextStorage}"}}}}'` +
        (claims.length > 1 ? `, and the same for ${claims.length === 2 ? claims[1] : `${claims[1]} ... ${claims.at(-1)}`}` : ''),
    );
  }
  steps.push(`kubectl delete statefulset ${name} --cascade=orphan   (the pods and their volumes keep running)`);
  steps.push(
    'npm run synth -- --allow-statefulset-replacement, commit and sync: the new StatefulSet adopts the running pods (same selector) ' +
      'and rolls them one at a time; pods it creates later get the new claim template',
  );
  return steps.map((step, index) => `${index + 1}. ${step}`);
}

/** Short, human summary of what a new synth changes against the previous content of `outdirLabel`. */
export function summarizeChanges(previous: ManifestFiles, next: ManifestFiles, outdirLabel = 'dist'): string[] {
  const nextObjects = parseManifestFiles(next);
  const nextShape = readShape(nextObjects)!;
  const describeShape = (shape: ManifestShape) =>
    `${shape.masters} masters x ${shape.replicasPerMaster} ${shape.replicasPerMaster === 1 ? 'replica' : 'replicas'} = ${shape.pods} pods`;
  if (previous.size === 0) {
    return [`${outdirLabel}/ created: ${describeShape(nextShape)} (${listPods(podNames(nextShape.statefulSetName, 0, nextShape.pods))})`];
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
    lines.push(
      `StatefulSet ${previousShape.statefulSetName} -> ${nextShape.statefulSetName}: a new cluster; the old one's objects are no longer in ${outdirLabel}/`,
    );
  }

  const replacement = statefulSetReplacement(previous, next);
  if (replacement) {
    lines.push(
      `StatefulSet ${replacement.statefulSetName} spec.${replacement.fields.join(', spec.')} changed (allowed by --allow-statefulset-replacement): ` +
        `before this sync, kubectl delete statefulset ${replacement.statefulSetName} --cascade=orphan`,
    );
  }

  const previousByKey = new Map(parseManifestEntries(previous).map((entry) => [objectKey(entry), JSON.stringify(entry.object)]));
  const nextByKey = new Map(parseManifestEntries(next).map((entry) => [objectKey(entry), JSON.stringify(entry.object)]));
  const added = [...nextByKey.keys()].filter((key) => !previousByKey.has(key));
  const removed = [...previousByKey.keys()].filter((key) => !nextByKey.has(key));
  const changed = [...nextByKey.keys()].filter((key) => previousByKey.has(key) && previousByKey.get(key) !== nextByKey.get(key));
  if (added.length) lines.push(`objects added: ${added.join(', ')}`);
  if (removed.length) lines.push(`objects removed: ${removed.join(', ')}`);
  if (changed.length) lines.push(`objects changed: ${changed.join(', ')}`);
  const addedFiles = [...next.keys()].filter((path) => !previous.has(path));
  if (addedFiles.length) lines.push(`files added: ${addedFiles.join(', ')}`);
  const removedFiles = [...previous.keys()].filter((path) => !next.has(path));
  if (removedFiles.length) lines.push(`files removed: ${removedFiles.join(', ')}`);
  return lines;
}
