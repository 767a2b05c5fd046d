export { RedisClusterChart, type RedisClusterChartBuildOptions } from './redis-cluster-chart';
export type { RedisClusterChartProps, SecretKeyReference, ResourceSettings, GitOpsTool, FluxSettings, NetworkPolicySettings } from './props';
export { validateProps, InvalidPropError } from './validate';
export { synthToDist, type SynthToDistOptions, type SynthResult } from './synth-to-dist';
