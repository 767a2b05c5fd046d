import type { GitOpsTool } from './props';

/** Argo CD: a resource hook of the given phase, replaced at each sync, ordered by sync wave within the phase. */
export function argoHook(phase: 'PreSync' | 'PostSync', wave: number): Record<string, string> {
  return {
    'argocd.argoproj.io/hook': phase,
    'argocd.argoproj.io/hook-delete-policy': 'BeforeHookCreation',
    'argocd.argoproj.io/sync-wave': String(wave),
  };
}

/**
 * Annotations of a topology Job. Argo CD runs it as a hook (PreSync before the StatefulSet changes,
 * PostSync after it is healthy). Flux applies it from its own Kustomization and, because a Job's pod
 * template is immutable, must replace it when it changes.
 */
export function topologyJobAnnotations(tool: GitOpsTool, phase: 'pre' | 'post'): Record<string, string> {
  if (tool === 'argocd') return argoHook(phase === 'pre' ? 'PreSync' : 'PostSync', 0);
  return { 'kustomize.toolkit.fluxcd.io/force': 'enabled' };
}

/**
 * Annotations of the ConfigMap holding the topology program. Under Argo CD it is a PreSync hook one
 * wave before the pre Job: PreSync hooks run before any normal resource is applied, so as a normal
 * resource it would be missing on the first sync. Server-side apply keeps the big bundle out of the
 * last-applied-configuration annotation (limited to 256 KiB).
 */
export function topologyConfigMapAnnotations(tool: GitOpsTool): Record<string, string> {
  if (tool === 'argocd') return { ...argoHook('PreSync', -1), 'argocd.argoproj.io/sync-options': 'ServerSideApply=true' };
  return {};
}

/**
 * Annotations of the topology Jobs' ServiceAccount and RBAC: under Argo CD a PreSync hook one wave
 * before the pre Job, like the program's ConfigMap, so that they exist when the pre Job first runs.
 */
export function topologyAccessAnnotations(tool: GitOpsTool): Record<string, string> {
  return tool === 'argocd' ? argoHook('PreSync', -1) : {};
}
