import { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';
import { k8s } from 'cdk8s-plus-27';
import { commonLabels, redisSelectorLabels } from './labels';
import { metricsServiceName } from './names';
import { redisAlertGroups } from './redis-alerts';
import { METRICS_PORT, type ResolvedProps } from './resolved-props';

export interface RedisMonitoringProps {
  readonly cluster: ResolvedProps;
}

/** Labels of the metrics Service, which the ServiceMonitor selects it by. */
function metricsLabels(cluster: ResolvedProps): Record<string, string> {
  return commonLabels(cluster, 'metrics');
}

/**
 * What Prometheus needs to scrape the exporter sidecars and alert on them:
 * - a Service of its own, `<statefulSetName>-metrics` (headless, publishing not-ready pods too, so a node
 *   that is loading or resyncing is still scraped). Not a port on the headless Service, which gives the
 *   pods their DNS names, nor on the client Service: a ServiceMonitor selecting this one Service by its
 *   labels scrapes every pod exactly once;
 * - a ServiceMonitor and a PrometheusRule (monitoring.coreos.com/v1) when asked. cdk8s has no types for
 *   these custom resources; the chart tests validate them against the Prometheus Operator's schemas.
 */
export class RedisMonitoring extends Construct {
  readonly service: k8s.KubeService;
  readonly serviceMonitor?: ApiObject;
  readonly prometheusRule?: ApiObject;

  constructor(scope: Construct, id: string, props: RedisMonitoringProps) {
    super(scope, id);
    const cluster = props.cluster;
    const monitoring = cluster.monitoring!;
    this.service = new k8s.KubeService(this, 'Service', {
      metadata: { name: metricsServiceName(cluster), namespace: cluster.namespace, labels: metricsLabels(cluster) },
      spec: {
        clusterIp: 'None',
        publishNotReadyAddresses: true,
        selector: redisSelectorLabels(cluster),
        ports: [{ name: 'metrics', port: METRICS_PORT, targetPort: k8s.IntOrString.fromString('metrics'), protocol: 'TCP' }],
      },
    });
    if (monitoring.serviceMonitor !== undefined) {
      const settings = monitoring.serviceMonitor;
      this.serviceMonitor = new ApiObject(this, 'ServiceMonitor', {
        apiVersion: 'monitoring.coreos.com/v1',
        kind: 'ServiceMonitor',
        metadata: { name: cluster.statefulSetName, namespace: cluster.namespace, labels: { ...settings.labels, ...metricsLabels(cluster) } },
        spec: {
          selector: { matchLabels: metricsLabels(cluster) },
          ...(cluster.namespace === undefined ? {} : { namespaceSelector: { matchNames: [cluster.namespace] } }),
          endpoints: [{ port: 'metrics', path: '/metrics', interval: settings.interval, scrapeTimeout: settings.scrapeTimeout }],
        },
      });
    }
    if (monitoring.prometheusRule !== undefined) {
      this.prometheusRule = new ApiObject(this, 'PrometheusRule', {
        apiVersion: 'monitoring.coreos.com/v1',
        kind: 'PrometheusRule',
        metadata: {
          name: cluster.statefulSetName,
          namespace: cluster.namespace,
          labels: { ...monitoring.prometheusRule.labels, ...metricsLabels(cluster) },
        },
        spec: { groups: redisAlertGroups(cluster) },
      });
    }
  }
}
