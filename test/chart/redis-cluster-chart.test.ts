import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { find, SEED_PROPS, synthObjects } from './chart-fixtures';
import { REMOVED_MARK_USER } from '../../jobs/contract';

describe('RedisClusterChart with the seed document defaults', () => {
  const objects = synthObjects();
  const statefulSet = find(objects, 'StatefulSet', 'redis-cluster');
  const pod = statefulSet.spec.template.spec;
  const redis = pod.containers[0];

  it('creates exactly the expected objects, with the seed names', () => {
    const names = objects.map((object) => `${object.kind}/${object.metadata?.name}`).sort();
    assert.deepEqual(names, [
      'ConfigMap/redis-cluster',
      'ConfigMap/redis-cluster-topology',
      'Job/redis-cluster-topology-post',
      'Job/redis-cluster-topology-pre',
      'PodDisruptionBudget/redis-cluster',
      'Role/redis-cluster-topology',
      'RoleBinding/redis-cluster-topology',
      'Service/redis-cluster-client',
      'Service/redis-cluster-svc',
      'ServiceAccount/redis-cluster-topology',
      'StatefulSet/redis-cluster',
    ]);
  });

  it('runs masters * (1 + replicasPerMaster) pods, started in parallel, behind the headless Service', () => {
    assert.equal(statefulSet.spec.replicas, 6);
    assert.equal(statefulSet.spec.podManagementPolicy, 'Parallel');
    assert.equal(statefulSet.spec.serviceName, 'redis-cluster-svc');
    assert.deepEqual(statefulSet.spec.persistentVolumeClaimRetentionPolicy, { whenDeleted: 'Retain', whenScaled: 'Retain' });
  });

  it('gives each pod a volume from the seed claim template', () => {
    const [template] = statefulSet.spec.volumeClaimTemplates;
    assert.equal(template.metadata.name, 'pvc-essd-redis-data');
    assert.equal(template.spec.storageClassName, 'alicloud-disk-essd');
    assert.equal(template.spec.resources.requests.storage, '20Gi');
    assert.deepEqual(template.spec.accessModes, ['ReadWriteOnce']);
    assert.ok(redis.volumeMounts.some((mount: any) => mount.name === 'pvc-essd-redis-data' && mount.mountPath === '/data'));
  });

  it('labels the pods for ECI and selects them with stable labels only', () => {
    assert.equal(statefulSet.spec.template.metadata.labels['alibabacloud.com/eci'], 'true');
    assert.deepEqual(statefulSet.spec.selector.matchLabels, {
      'app.kubernetes.io/name': 'redis-cluster',
      'app.kubernetes.io/instance': 'redis-cluster',
      'app.kubernetes.io/component': 'server',
    });
  });

  it('publishes not-ready addresses on a headless Service with the client and bus ports', () => {
    const headless = find(objects, 'Service', 'redis-cluster-svc');
    assert.equal(headless.spec.clusterIP, 'None');
    assert.equal(headless.spec.publishNotReadyAddresses, true);
    assert.deepEqual(
      headless.spec.ports.map((port: any) => [port.name, port.port]),
      [
        ['client', 6379],
        ['cluster-bus', 16379],
      ],
    );
    assert.deepEqual(headless.spec.selector, statefulSet.spec.selector.matchLabels);
    const client = find(objects, 'Service', 'redis-cluster-client');
    assert.equal(client.spec.type, 'ClusterIP');
    assert.deepEqual(
      client.spec.ports.map((port: any) => port.port),
      [6379],
    );
  });

  it('starts Redis through the ConfigMap start script with the pod identity in env', () => {
    assert.deepEqual(redis.command, ['sh', '/etc/redis-cluster/start.sh']);
    const env = Object.fromEntries(redis.env.map((entry: any) => [entry.name, entry.value ?? entry.valueFrom]));
    assert.deepEqual(env.POD_IP, { fieldRef: { fieldPath: 'status.podIP' } });
    assert.deepEqual(env.POD_NAME, { fieldRef: { fieldPath: 'metadata.name' } });
    assert.deepEqual(env.POD_NAMESPACE, { fieldRef: { fieldPath: 'metadata.namespace' } });
    assert.equal(env.HEADLESS_SERVICE, 'redis-cluster-svc');
    assert.equal(env.CLUSTER_DOMAIN, 'cluster.local');
    assert.deepEqual(env.REDIS_PASSWORD, { secretKeyRef: { name: 'redis-cluster-auth', key: 'password', optional: false } });
    assert.ok(pod.volumes.some((volume: any) => volume.configMap?.name === 'redis-cluster'));
  });

  it('uses probes that answer before the cluster is formed, and fails a master over before it stops', () => {
    assert.deepEqual(redis.readinessProbe.exec.command, ['sh', '/etc/redis-cluster/probe.sh', 'readiness']);
    assert.deepEqual(redis.livenessProbe.exec.command, ['sh', '/etc/redis-cluster/probe.sh', 'liveness']);
    const config = find(objects, 'ConfigMap', 'redis-cluster');
    assert.deepEqual(redis.lifecycle.preStop.exec.command, ['sh', '/etc/redis-cluster/pre-stop.sh']);
    assert.ok(config.data['pre-stop.sh'].includes('cluster failover'));
    // The mark the topology program leaves on a node it removes is the one the hook looks for.
    assert.ok(config.data['pre-stop.sh'].includes(`acl getuser ${REMOVED_MARK_USER} `));
    assert.doesNotMatch(config.data['probe.sh'].replace(/^\s*#.*$/gm, ''), /cluster_state|cluster info/);
  });

  it('runs non-root on a read-only root filesystem with no capabilities', () => {
    assert.equal(pod.securityContext.runAsNonRoot, true);
    assert.equal(pod.securityContext.runAsUser, 999);
    assert.equal(pod.securityContext.fsGroup, 999);
    assert.deepEqual(redis.securityContext, {
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      capabilities: { drop: ['ALL'] },
    });
    assert.equal(pod.automountServiceAccountToken, false);
  });

  it('prefers spreading pods over nodes', () => {
    const [term] = pod.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution;
    assert.equal(term.podAffinityTerm.topologyKey, 'kubernetes.io/hostname');
    assert.deepEqual(term.podAffinityTerm.labelSelector.matchLabels, statefulSet.spec.selector.matchLabels);
  });

  it('gives Redis and the Jobs the default requests and limits', () => {
    assert.deepEqual(redis.resources, { requests: { cpu: '500m', memory: '1Gi' }, limits: { memory: '1Gi' } });
    for (const phase of ['pre', 'post']) {
      const job = find(objects, 'Job', `redis-cluster-topology-${phase}`);
      assert.deepEqual(job.spec.template.spec.containers[0].resources, { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '512Mi' } }, phase);
    }
  });

  it('writes the seed settings to redis.conf, without any password', () => {
    const conf: string = find(objects, 'ConfigMap', 'redis-cluster').data['redis.conf'];
    for (const line of [
      'cluster-enabled yes',
      'cluster-config-file nodes.conf',
      'cluster-node-timeout 5000',
      'appendonly yes',
      'repl-diskless-sync-delay 1',
      'protected-mode no',
      'port 6379',
      'dir /data',
    ]) {
      assert.match(conf, new RegExp(`^${line}$`, 'm'), line);
    }
    assert.doesNotMatch(conf, /^(requirepass|masterauth)/m);
  });

  it('lets at most one Redis pod be disrupted at a time', () => {
    const budget = find(objects, 'PodDisruptionBudget', 'redis-cluster');
    assert.equal(budget.spec.maxUnavailable, 1);
    assert.deepEqual(budget.spec.selector.matchLabels, statefulSet.spec.selector.matchLabels);
  });

  it('rolls the pods when the config changes', () => {
    const before = statefulSet.spec.template.metadata.annotations['redis-cluster-gitops/config-hash'];
    assert.match(before, /^[0-9a-f]{8,}$/);
    const after = find(synthObjects({ ...SEED_PROPS, maxmemoryPolicy: 'allkeys-lru' }), 'StatefulSet', 'redis-cluster');
    assert.notEqual(after.spec.template.metadata.annotations['redis-cluster-gitops/config-hash'], before);
  });
});

describe('RedisClusterChart props', () => {
  it('sizes the StatefulSet from masters and replicasPerMaster', () => {
    assert.equal(find(synthObjects({ ...SEED_PROPS, masters: 4, replicasPerMaster: 2 }), 'StatefulSet', 'redis-cluster').spec.replicas, 12);
    assert.equal(find(synthObjects({ ...SEED_PROPS, masters: 5, replicasPerMaster: 0 }), 'StatefulSet', 'redis-cluster').spec.replicas, 5);
  });

  it('sets the requests and limits it is given, as main.ts does', () => {
    const resources = { requests: { cpu: '1', memory: '2Gi' }, limits: { cpu: '1', memory: '2Gi' } };
    const jobResources = { requests: { cpu: '250m', memory: '256Mi' }, limits: { cpu: '1', memory: '1Gi' } };
    const objects = synthObjects({ ...SEED_PROPS, resources, jobResources, maxmemory: '1536Mi' });
    assert.deepEqual(find(objects, 'StatefulSet', 'redis-cluster').spec.template.spec.containers[0].resources, resources);
    for (const phase of ['pre', 'post']) {
      assert.deepEqual(find(objects, 'Job', `redis-cluster-topology-${phase}`).spec.template.spec.containers[0].resources, jobResources, phase);
    }
    assert.match(find(objects, 'ConfigMap', 'redis-cluster').data['redis.conf'], /^maxmemory 1610612736$/m);
  });

  it('sets maxmemory to 75% of the memory limit unless given', () => {
    const conf = (props: object) => find(synthObjects({ ...SEED_PROPS, ...props }), 'ConfigMap', 'redis-cluster').data['redis.conf'] as string;
    assert.match(conf({ resources: { limits: { memory: '1Gi' } } }), /^maxmemory 805306368$/m);
    assert.match(conf({ resources: { limits: { memory: '2Gi' } }, maxmemory: '1Gi' }), /^maxmemory 1073741824$/m);
    assert.doesNotMatch(conf({ resources: { requests: { memory: '1Gi' } } }), /^maxmemory /m);
  });

  it('omits the password env entirely without a Secret, when that is allowed explicitly', () => {
    const objects = synthObjects({ allowUnauthenticated: true });
    const withContainers = objects.filter((o) => o.kind === 'StatefulSet' || o.kind === 'Job');
    assert.equal(withContainers.length, 3, 'the StatefulSet and both Jobs');
    for (const object of withContainers) {
      const env = (object as any).spec.template.spec.containers[0].env.map((entry: any) => entry.name);
      assert.ok(!env.includes('REDIS_PASSWORD'), `${object.kind} has no REDIS_PASSWORD`);
    }
  });

  it('puts every object in the given namespace', () => {
    const objects = synthObjects({ ...SEED_PROPS, namespace: 'cache' });
    assert.equal(objects.length, 13);
    for (const object of objects) {
      // Cluster-scoped: the Jobs' node reader.
      const expected = ['ClusterRole', 'ClusterRoleBinding'].includes(object.kind) ? undefined : 'cache';
      assert.equal((object as any).metadata.namespace, expected, `${object.kind}/${object.metadata?.name}`);
    }
  });

  it('creates a NetworkPolicy only when asked, with the bus port open to Redis pods only', () => {
    assert.ok(!synthObjects().some((object) => object.kind === 'NetworkPolicy'));
    const policy = find(synthObjects({ ...SEED_PROPS, networkPolicy: { clientPodLabels: { app: 'shop' } } }), 'NetworkPolicy', 'redis-cluster');
    const [clientRule, busRule] = policy.spec.ingress;
    assert.equal(busRule.ports[0].port, 16379);
    assert.deepEqual(busRule.from, [{ podSelector: { matchLabels: policy.spec.podSelector.matchLabels } }]);
    assert.ok(clientRule.from.some((peer: any) => peer.podSelector?.matchLabels?.app === 'shop'));
    assert.ok(clientRule.from.some((peer: any) => peer.podSelector?.matchLabels?.['app.kubernetes.io/component'] === 'topology-job'));
  });
});
