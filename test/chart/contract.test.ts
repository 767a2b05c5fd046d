// The chart and the topology program share one contract (jobs/contract.ts). Here the program's own
// settings parser reads the synthesized Jobs and must get the chart's props back, and both sides
// must accept and refuse the same values at every bound.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidPropError, validateProps, type RedisClusterChartProps } from '../../charts';
import { resolveProps } from '../../charts/resolved-props';
import { topologyJobEnv } from '../../charts/topology-jobs';
import { BOUNDS, ENV_NAMES, MAX_PODS } from '../../jobs/contract';
import { UsageError } from '../../jobs/errors';
import { parseSettings } from '../../jobs/settings';
import { find, synthObjects } from './chart-fixtures';

const DUMMY_PASSWORD = 'dummy-password-from-the-secret';

interface EnvEntry {
  readonly name: string;
  readonly value?: string;
  readonly valueFrom?: { readonly fieldRef?: { readonly fieldPath: string }; readonly secretKeyRef?: object };
}

/** The environment Kubernetes would give the container: the namespace from the downward API, the password from the Secret. */
function resolveEnv(entries: readonly EnvEntry[], namespace: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const entry of entries) {
    if (entry.value !== undefined) env[entry.name] = entry.value;
    else if (entry.valueFrom?.fieldRef?.fieldPath === 'metadata.namespace') env[entry.name] = namespace;
    else if (entry.valueFrom?.secretKeyRef !== undefined) env[entry.name] = DUMMY_PASSWORD;
    else assert.fail(`env ${entry.name} has a source this test does not resolve: ${JSON.stringify(entry)}`);
  }
  return env;
}

interface Expected {
  readonly masters: number;
  readonly replicasPerMaster: number;
  readonly statefulSetName: string;
  readonly headlessService: string;
  readonly namespace: string;
  readonly clusterDomain: string;
  readonly port: number;
  readonly slotsInFlight: number;
  readonly maxKeysPerSecond: number;
  readonly password: string | undefined;
}

const cases: { label: string; props: RedisClusterChartProps; expected: Expected }[] = [
  {
    label: 'defaults (without a password, as allowed)',
    props: { allowUnauthenticated: true },
    expected: {
      masters: 3,
      replicasPerMaster: 1,
      statefulSetName: 'redis-cluster',
      headlessService: 'redis-cluster-svc',
      // No namespace prop: the Job runs in the GitOps tool's destination namespace, here 'default'.
      namespace: 'default',
      clusterDomain: 'cluster.local',
      port: 6379,
      slotsInFlight: 32,
      maxKeysPerSecond: 0,
      password: undefined,
    },
  },
  {
    label: 'every setting the Jobs carry changed',
    props: {
      masters: 5,
      replicasPerMaster: 2,
      statefulSetName: 'cache',
      headlessServiceName: 'cache-nodes',
      clusterDomain: 'k8s.example.org',
      namespace: 'shop',
      migrationSlotsInFlight: 64,
      migrationMaxKeysPerSecond: 20000,
      passwordSecret: { name: 'cache-auth', key: 'secret' },
    },
    expected: {
      masters: 5,
      replicasPerMaster: 2,
      statefulSetName: 'cache',
      headlessService: 'cache-nodes',
      namespace: 'shop',
      clusterDomain: 'k8s.example.org',
      port: 6379,
      slotsInFlight: 64,
      maxKeysPerSecond: 20000,
      password: DUMMY_PASSWORD,
    },
  },
];

describe('the topology program reads the chart Jobs back as the chart props', () => {
  for (const { label, props, expected } of cases) {
    const objects = synthObjects(props);
    for (const phase of ['pre', 'post'] as const) {
      it(`${label}: ${phase} Job`, () => {
        const job = find(objects, 'Job', `${props.statefulSetName ?? 'redis-cluster'}-topology-${phase}`);
        const container = job.spec.template.spec.containers[0];
        for (const entry of container.env as EnvEntry[]) {
          assert.ok(ENV_NAMES.includes(entry.name), `the Job sets ${entry.name}, which is not in the contract's ENV`);
        }
        const settings = parseSettings(container.args, resolveEnv(container.env, props.namespace ?? 'default'));
        assert.deepEqual(
          {
            phase: settings.phase,
            masters: settings.masters,
            replicasPerMaster: settings.replicasPerMaster,
            pods: settings.pods,
            dryRun: settings.dryRun,
            password: settings.password,
            discovery: settings.discovery,
            slotsInFlight: settings.slotsInFlight,
            maxKeysPerSecond: settings.maxKeysPerSecond,
          },
          {
            phase,
            masters: expected.masters,
            replicasPerMaster: expected.replicasPerMaster,
            // Found by DNS through the headless Service, not listed.
            pods: null,
            dryRun: false,
            password: expected.password,
            discovery: {
              statefulSetName: expected.statefulSetName,
              headlessService: expected.headlessService,
              namespace: expected.namespace,
              clusterDomain: expected.clusterDomain,
              port: expected.port,
            },
            slotsInFlight: expected.slotsInFlight,
            maxKeysPerSecond: expected.maxKeysPerSecond,
          },
        );
        // The StatefulSet runs exactly the pods the program will look for.
        assert.equal(find(objects, 'StatefulSet', expected.statefulSetName).spec.replicas, expected.masters * (1 + expected.replicasPerMaster));
      });
    }
  }
});

describe('the chart and the program accept and refuse the same values', () => {
  type Shape = Pick<RedisClusterChartProps, 'masters' | 'replicasPerMaster' | 'migrationSlotsInFlight' | 'migrationMaxKeysPerSecond'>;

  const chartAccepts = (props: Shape): boolean => {
    try {
      validateProps({ ...props, allowUnauthenticated: true });
      return true;
    } catch (error) {
      if (error instanceof InvalidPropError) return false;
      throw error;
    }
  };
  // The env the chart writes for these props (unvalidated), as the program would read it.
  const programAccepts = (props: Shape): boolean => {
    try {
      parseSettings(['--phase', 'post'], resolveEnv(topologyJobEnv(resolveProps(props)) as EnvEntry[], 'default'));
      return true;
    } catch (error) {
      if (error instanceof UsageError) return false;
      throw error;
    }
  };

  const edges: { label: string; props: Shape; accepted: boolean }[] = [
    { label: 'masters at the minimum', props: { masters: BOUNDS.masters.min, replicasPerMaster: 0 }, accepted: true },
    { label: 'masters below the minimum', props: { masters: BOUNDS.masters.min - 1, replicasPerMaster: 0 }, accepted: false },
    { label: 'masters at the maximum', props: { masters: BOUNDS.masters.max, replicasPerMaster: 0 }, accepted: true },
    { label: 'masters past the maximum', props: { masters: BOUNDS.masters.max + 1, replicasPerMaster: 0 }, accepted: false },
    { label: 'replicasPerMaster at the minimum', props: { replicasPerMaster: BOUNDS.replicasPerMaster.min }, accepted: true },
    { label: 'replicasPerMaster below the minimum', props: { replicasPerMaster: BOUNDS.replicasPerMaster.min - 1 }, accepted: false },
    { label: 'replicasPerMaster at the maximum', props: { replicasPerMaster: BOUNDS.replicasPerMaster.max }, accepted: true },
    { label: 'replicasPerMaster past the maximum', props: { replicasPerMaster: BOUNDS.replicasPerMaster.max + 1 }, accepted: false },
    { label: 'pods at the maximum', props: { masters: Math.floor(MAX_PODS / 2), replicasPerMaster: 1 }, accepted: true },
    { label: 'pods past the maximum', props: { masters: Math.floor(MAX_PODS / 2) + 1, replicasPerMaster: 1 }, accepted: false },
    { label: 'slots in flight at the minimum', props: { migrationSlotsInFlight: BOUNDS.slotsInFlight.min }, accepted: true },
    { label: 'slots in flight below the minimum', props: { migrationSlotsInFlight: BOUNDS.slotsInFlight.min - 1 }, accepted: false },
    { label: 'slots in flight at the maximum', props: { migrationSlotsInFlight: BOUNDS.slotsInFlight.max }, accepted: true },
    { label: 'slots in flight past the maximum', props: { migrationSlotsInFlight: BOUNDS.slotsInFlight.max + 1 }, accepted: false },
    { label: 'key rate at the minimum', props: { migrationMaxKeysPerSecond: BOUNDS.maxKeysPerSecond.min }, accepted: true },
    { label: 'key rate below the minimum', props: { migrationMaxKeysPerSecond: BOUNDS.maxKeysPerSecond.min - 1 }, accepted: false },
    { label: 'key rate at the maximum', props: { migrationMaxKeysPerSecond: BOUNDS.maxKeysPerSecond.max }, accepted: true },
    { label: 'key rate past the maximum', props: { migrationMaxKeysPerSecond: BOUNDS.maxKeysPerSecond.max + 1 }, accepted: false },
  ];

  for (const { label, props, accepted } of edges) {
    it(`${label} (${JSON.stringify(props)}): ${accepted ? 'both accept' : 'both refuse'}`, () => {
      assert.equal(chartAccepts(props), accepted, 'validateProps');
      assert.equal(programAccepts(props), accepted, 'parseSettings');
    });
  }
});
