import { Construct } from 'constructs';
import { k8s } from 'cdk8s-plus-27';
import { commonLabels, redisSelectorLabels } from './labels';
import type { ResolvedProps } from './resolved-props';

export interface RedisDisruptionBudgetProps {
  readonly cluster: ResolvedProps;
}

/** At most one Redis pod voluntarily down at a time (drains, node upgrades), so a master and its replica never go together. */
export class RedisDisruptionBudget extends Construct {
  readonly budget: k8s.KubePodDisruptionBudget;

  constructor(scope: Construct, id: string, props: RedisDisruptionBudgetProps) {
    super(scope, id);
    const cluster = props.cluster;
    this.budget = new k8s.KubePodDisruptionBudget(this, 'Budget', {
      metadata: { name: cluster.statefulSetName, namespace: cluster.namespace, labels: commonLabels(cluster, 'server') },
      spec: {
        maxUnavailable: k8s.IntOrString.fromNumber(1),
        selector: { matchLabels: redisSelectorLabels(cluster) },
      },
    });
  }
}
