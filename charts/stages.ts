import type { ApiObject } from 'cdk8s';

/**
 * When an object is applied relative to the StatefulSet change:
 * - `pre`: before it (the pre Job and what it needs),
 * - `main`: the Redis objects themselves,
 * - `post`: after they are applied and ready (the post Job),
 * - `gitops`: the Flux Kustomizations that apply the three directories.
 */
export type Stage = 'pre' | 'main' | 'post' | 'gitops';

const stageOfObject = new WeakMap<ApiObject, Stage>();

export function assignStage<T extends ApiObject>(object: T, stage: Stage): T {
  stageOfObject.set(object, stage);
  return object;
}

export function stageOf(object: ApiObject): Stage {
  return stageOfObject.get(object) ?? 'main';
}
