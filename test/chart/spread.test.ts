// Shards over failure domains, the chart's part: the StatefulSet's topology spread, and the
// read-only access that lets the topology Jobs learn where the pods run.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidPropError, validateProps, type RedisClusterChartProps } from '../../charts';
import { find, SEED_PROPS, synthObjects } from './chart-fixtures';
import { schemaErrors, type KubeObject } from './manifest-schemas';

const selector = { 'app.kubernetes.io/name': 'redis-cluster', 'app.kubernetes.io/instance': 'redis-cluster', 'app.kubernetes.io/component': 'server' };
const podSpec = (objects: readonly KubeObject[]) => find(objects, 'StatefulSet', 'redis-cluster').spec.template.spec;
const jobPod = (objects: readonly KubeObject[]) => find(objects, 'Job', 'redis-cluster-topology-post').spec.template.spec;
const envOf = (objects: readonly KubeObject[]) =>
  Object.fromEntries(jobPod(objects).containers[0].env.map((entry: any) => [entry.name, entry.value ?? entry.valueFrom]));
const rbacKinds = ['ServiceAccount', 'Role', 'RoleBinding', 'ClusterRole', 'ClusterRoleBinding'];

describe('the StatefulSet spreads its pods', () => {
  it('over zones and nodes by default, never refusing to schedule, with the per-node anti-affinity kept', () => {
    const pod = podSpec(synthObjects());
    assert.deepEqual(pod.topologySpreadConstraints, [
      { maxSkew: 1, topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'ScheduleAnyway', labelSelector: { matchLabels: selector } },
      { maxSkew: 1, topologyKey: 'kubernetes.io/hostname', whenUnsatisfiable: 'ScheduleAnyway', labelSelector: { matchLabels: selector } },
    ]);
    assert.equal(pod.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm.topologyKey, 'kubernetes.io/hostname');
  });

  it('by the zone label given, strictly when asked', () => {
    const objects = synthObjects({ ...SEED_PROPS, spread: { zoneLabel: 'example.com/rack', zoneWhenUnsatisfiable: 'DoNotSchedule' } });
    const [zone] = podSpec(objects).topologySpreadConstraints;
    assert.equal(zone.topologyKey, 'example.com/rack');
    assert.equal(zone.whenUnsatisfiable, 'DoNotSchedule');
    assert.equal(envOf(objects).PLACEMENT_ZONE_LABEL, 'example.com/rack');
  });

  it('over zones only on virtual nodes (ECI), and the program is told nodes do not count', () => {
    const objects = synthObjects({ ...SEED_PROPS, spread: { byNode: false } });
    const pod = podSpec(objects);
    assert.deepEqual(
      pod.topologySpreadConstraints.map((constraint: any) => constraint.topologyKey),
      ['topology.kubernetes.io/zone'],
    );
    assert.equal(pod.affinity, undefined);
    assert.equal(envOf(objects).PLACEMENT_NODES, 'false');
  });
});

describe('the topology Jobs read where the pods run', () => {
  it('through their own ServiceAccount: list pods in the namespace, get nodes, nothing else', () => {
    const objects = synthObjects({ ...SEED_PROPS, namespace: 'shop' });
    const account = find(objects, 'ServiceAccount', 'redis-cluster-topology');
    assert.equal(account.automountServiceAccountToken, false, 'only pods that ask for the token get it');
    assert.deepEqual(find(objects, 'Role', 'redis-cluster-topology').rules, [{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list'] }]);
    const roleBinding = find(objects, 'RoleBinding', 'redis-cluster-topology');
    assert.deepEqual(roleBinding.roleRef, { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'redis-cluster-topology' });
    assert.deepEqual(roleBinding.subjects, [{ kind: 'ServiceAccount', name: 'redis-cluster-topology', namespace: 'shop' }]);
    const clusterRole = find(objects, 'ClusterRole', 'shop-redis-cluster-topology-nodes');
    assert.deepEqual(clusterRole.rules, [{ apiGroups: [''], resources: ['nodes'], verbs: ['get'] }]);
    const clusterRoleBinding = find(objects, 'ClusterRoleBinding', 'shop-redis-cluster-topology-nodes');
    assert.deepEqual(clusterRoleBinding.roleRef, { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'shop-redis-cluster-topology-nodes' });
    assert.deepEqual(clusterRoleBinding.subjects, [{ kind: 'ServiceAccount', name: 'redis-cluster-topology', namespace: 'shop' }]);
    for (const name of ['redis-cluster-topology-pre', 'redis-cluster-topology-post']) {
      const pod = find(objects, 'Job', name).spec.template.spec;
      assert.equal(pod.serviceAccountName, 'redis-cluster-topology');
      assert.equal(pod.automountServiceAccountToken, true);
    }
  });

  it('without a known namespace (Argo CD, no namespace prop): pods only, the RoleBinding names no namespace', () => {
    const objects = synthObjects();
    assert.ok(!objects.some((object) => object.kind.startsWith('Cluster')));
    assert.deepEqual(find(objects, 'RoleBinding', 'redis-cluster-topology').subjects, [{ kind: 'ServiceAccount', name: 'redis-cluster-topology' }]);
    // Flux applies to its targetNamespace, so there the namespace is known.
    const flux = synthObjects({ ...SEED_PROPS, gitops: 'flux' });
    assert.deepEqual(find(flux, 'ClusterRoleBinding', 'default-redis-cluster-topology-nodes').subjects, [
      { kind: 'ServiceAccount', name: 'redis-cluster-topology', namespace: 'default' },
    ]);
  });

  it('under Argo CD, the ServiceAccount and RBAC are PreSync hooks a wave before the pre Job (they must exist on the first sync)', () => {
    const objects = synthObjects({ ...SEED_PROPS, namespace: 'shop' });
    const preWave = Number(find(objects, 'Job', 'redis-cluster-topology-pre').metadata.annotations['argocd.argoproj.io/sync-wave']);
    const access = objects.filter((object) => rbacKinds.includes(object.kind));
    assert.equal(access.length, 5);
    for (const object of access as any[]) {
      assert.equal(object.metadata.annotations['argocd.argoproj.io/hook'], 'PreSync', object.kind);
      assert.equal(object.metadata.annotations['argocd.argoproj.io/hook-delete-policy'], 'BeforeHookCreation', object.kind);
      assert.ok(Number(object.metadata.annotations['argocd.argoproj.io/sync-wave']) < preWave, object.kind);
    }
  });

  it('not at all with readPlacement false: no ServiceAccount, no RBAC, no token in the Jobs', () => {
    const objects = synthObjects({ ...SEED_PROPS, namespace: 'shop', spread: { readPlacement: false } });
    assert.deepEqual(
      objects.filter((object) => rbacKinds.includes(object.kind)),
      [],
    );
    assert.equal(jobPod(objects).serviceAccountName, undefined);
    assert.equal(jobPod(objects).automountServiceAccountToken, false);
  });

  it('with objects the Kubernetes schemas accept, for every combination', async () => {
    const variants: RedisClusterChartProps[] = [
      { ...SEED_PROPS, namespace: 'shop' },
      { ...SEED_PROPS, gitops: 'flux' },
      { ...SEED_PROPS, spread: { byNode: false, zoneWhenUnsatisfiable: 'DoNotSchedule', zoneLabel: 'example.com/rack', readPlacement: false } },
    ];
    for (const props of variants) assert.deepEqual(await schemaErrors(synthObjects(props)), [], JSON.stringify(props));
  });
});

describe('spread props are validated', () => {
  const refused = (spread: unknown, message: RegExp) =>
    assert.throws(
      () => validateProps({ allowUnauthenticated: true, spread } as RedisClusterChartProps),
      (error: unknown) => error instanceof InvalidPropError && message.test(error.message),
    );

  it('naming the field, the value and what is allowed', () => {
    refused({ zoneLabel: 'not a label' }, /^Invalid spread\.zoneLabel: "not a label"\. Allowed: a node label key/);
    refused({ zoneLabel: '-bad.example/zone' }, /^Invalid spread\.zoneLabel/);
    refused({ byNode: 'no' }, /^Invalid spread\.byNode: "no"\. Allowed: true or false\.$/);
    refused({ zoneWhenUnsatisfiable: 'Never' }, /^Invalid spread\.zoneWhenUnsatisfiable: "Never"\. Allowed: "ScheduleAnyway" or "DoNotSchedule"\.$/);
    refused({ readPlacement: 1 }, /^Invalid spread\.readPlacement: 1\. Allowed: true or false\.$/);
    refused({ zones: 3 }, /^Invalid spread\.zones: 3\. Allowed: no such field; known fields are zoneLabel, byNode, zoneWhenUnsatisfiable, readPlacement\.$/);
    assert.doesNotThrow(() => validateProps({ allowUnauthenticated: true, spread: { zoneLabel: 'topology.kubernetes.io/zone' } }));
  });
});
