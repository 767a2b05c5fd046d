import { createHash } from 'node:crypto';

/** Short, stable content hash for annotations that must change when their input changes. */
export function contentHash(...parts: readonly string[]): string {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(`${part.length}:${part}`);
  return hash.digest('hex').slice(0, 16);
}

/** Annotation keys this chart writes. */
export const ANNOTATIONS = {
  configHash: 'redis-cluster-gitops/config-hash',
  desiredShape: 'redis-cluster-gitops/desired-shape',
  runHash: 'redis-cluster-gitops/run-hash',
} as const;
