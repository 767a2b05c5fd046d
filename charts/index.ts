export { RedisClusterChart, type RedisClusterChartBuildOptions } from './redis-cluster-chart';
export type {
  RedisClusterChartProps,
  SecretKeyReference,
  ResourceSettings,
  GitOpsTool,
  ServerKind,
  FluxSettings,
  NetworkPolicySettings,
  MonitoringSettings,
  ServiceMonitorSettings,
  PrometheusRuleSettings,
  SpreadSettings,
  TlsSettings,
  CertificateIssuerReference,
} from './props';
export { validateProps, InvalidPropError } from './validate';
export { synthToDist, StatefulSetReplacementError, type SynthToDistOptions, type SynthResult } from './synth-to-dist';
