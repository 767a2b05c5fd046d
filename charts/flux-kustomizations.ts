import { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';
import { commonLabels } from './labels';
import { fluxKustomizationName } from './names';
import type { ResolvedProps } from './resolved-props';
import { assignStage, type Stage } from './stages';

/** Directory (under dist/) of each stage in the Flux layout. */
export const FLUX_STAGE_DIRECTORIES: Record<Exclude<Stage, 'gitops'>, string> = { pre: 'pre', main: 'main', post: 'post' };
export const FLUX_KUSTOMIZATIONS_DIRECTORY = 'flux';

/** Seconds Flux waits for a stage to become healthy; a topology Job may run this long. */
function healthTimeout(cluster: ResolvedProps): string {
  return `${cluster.jobActiveDeadlineSeconds + 300}s`;
}

export interface FluxKustomizationsProps {
  readonly cluster: ResolvedProps;
}

/**
 * Three Flux Kustomizations applying dist/pre, dist/main and dist/post in that order: each depends on
 * the one before and waits for its objects to be healthy, so the StatefulSet changes only after the
 * pre Job succeeded and the post Job starts only once the pods are ready.
 */
export class FluxKustomizations extends Construct {
  readonly kustomizations: ApiObject[];

  constructor(scope: Construct, id: string, props: FluxKustomizationsProps) {
    super(scope, id);
    const cluster = props.cluster;
    const stages = ['pre', 'main', 'post'] as const;
    const nameOf = (stage: (typeof stages)[number]) => fluxKustomizationName(cluster, stage);
    this.kustomizations = stages.map((stage, index) =>
      assignStage(
        new ApiObject(this, stage, {
          apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
          kind: 'Kustomization',
          metadata: { name: nameOf(stage), namespace: cluster.flux.namespace, labels: commonLabels(cluster, 'gitops') },
          spec: {
            interval: cluster.flux.interval,
            retryInterval: '1m',
            timeout: healthTimeout(cluster),
            path: `${cluster.flux.path.replace(/\/+$/, '')}/${FLUX_STAGE_DIRECTORIES[stage]}`,
            prune: true,
            wait: true,
            sourceRef: { ...cluster.flux.sourceRef },
            targetNamespace: cluster.namespace ?? 'default',
            ...(index === 0 ? {} : { dependsOn: [{ name: nameOf(stages[index - 1]) }] }),
          },
        }),
        'gitops',
      ),
    );
  }
}
