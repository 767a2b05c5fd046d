import { Chart } from 'cdk8s';
import { Construct } from 'constructs';
import { FluxKustomizations } from './flux-kustomizations';
import type { RedisClusterChartProps } from './props';
import { RedisCertificate } from './redis-certificate';
import { RedisConfig } from './redis-config';
import { RedisDisruptionBudget } from './redis-disruption-budget';
import { RedisMonitoring } from './redis-monitoring';
import { RedisNetworkPolicy } from './redis-network-policy';
import { RedisServices } from './redis-services';
import { RedisStatefulSet } from './redis-statefulset';
import type { ResolvedProps } from './resolved-props';
import { readTopologyBundle } from './topology-bundle';
import { TopologyAccess } from './topology-access';
import { TopologyJobs } from './topology-jobs';
import { validateProps } from './validate';

/** How the chart is built, as opposed to what cluster it describes. */
export interface RedisClusterChartBuildOptions {
  /**
   * The bundled topology program's text.
   * @default - read from jobs/bundle/topology.cjs (written by `npm run bundle`)
   */
  readonly topologyBundle?: string;
}

/**
 * A Redis Cluster of `masters * (1 + replicasPerMaster)` pods, plus the Jobs that bring the live
 * cluster to that shape. Props are validated before any object is created.
 */
export class RedisClusterChart extends Chart {
  readonly cluster: ResolvedProps;
  readonly config: RedisConfig;
  readonly services: RedisServices;
  readonly statefulSet: RedisStatefulSet;
  readonly disruptionBudget: RedisDisruptionBudget;
  readonly networkPolicy?: RedisNetworkPolicy;
  readonly monitoring?: RedisMonitoring;
  readonly certificate?: RedisCertificate;
  readonly topologyAccess?: TopologyAccess;
  readonly topologyJobs: TopologyJobs;
  readonly fluxKustomizations?: FluxKustomizations;

  constructor(scope: Construct, id: string, props: RedisClusterChartProps = {}, options: RedisClusterChartBuildOptions = {}) {
    const cluster = validateProps(props);
    const topologyBundle = options.topologyBundle ?? readTopologyBundle();
    super(scope, id, { disableResourceNameHashes: true });
    this.cluster = cluster;

    this.config = new RedisConfig(this, 'Config', { cluster });
    this.services = new RedisServices(this, 'Services', { cluster });
    this.statefulSet = new RedisStatefulSet(this, 'Redis', { cluster, configData: this.config.configMap.toJson().data });
    this.disruptionBudget = new RedisDisruptionBudget(this, 'DisruptionBudget', { cluster });
    if (cluster.networkPolicy !== undefined) this.networkPolicy = new RedisNetworkPolicy(this, 'NetworkPolicy', { cluster });
    if (cluster.monitoring !== undefined) this.monitoring = new RedisMonitoring(this, 'Monitoring', { cluster });
    if (cluster.tls?.issuer !== undefined) this.certificate = new RedisCertificate(this, 'Certificate', { cluster });
    if (cluster.spread.readPlacement) this.topologyAccess = new TopologyAccess(this, 'TopologyAccess', { cluster });
    this.topologyJobs = new TopologyJobs(this, 'Topology', { cluster, bundle: topologyBundle });
    if (cluster.gitops === 'flux') this.fluxKustomizations = new FluxKustomizations(this, 'Flux', { cluster });
  }
}
