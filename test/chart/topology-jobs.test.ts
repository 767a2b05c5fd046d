import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { synthToDist } from '../../charts';
import { FAKE_BUNDLE, find, parseYamlObjects, SEED_PROPS, synthObjects, tempDir } from './chart-fixtures';

const envOf = (job: any) => Object.fromEntries(job.spec.template.spec.containers[0].env.map((entry: any) => [entry.name, entry.value ?? entry.valueFrom]));

describe('topology Jobs', () => {
  const objects = synthObjects();
  const pre = find(objects, 'Job', 'redis-cluster-topology-pre');
  const post = find(objects, 'Job', 'redis-cluster-topology-post');

  it('run the bundled program from its ConfigMap on a stock Node.js image', () => {
    const bundle = find(objects, 'ConfigMap', 'redis-cluster-topology');
    assert.equal(bundle.data['topology.cjs'], FAKE_BUNDLE);
    for (const [job, phase] of [
      [pre, 'pre'],
      [post, 'post'],
    ] as const) {
      const container = job.spec.template.spec.containers[0];
      assert.equal(container.image, 'node:24.22-alpine');
      // The old generation held to half the default 512Mi limit, so Node collects before the kernel kills.
      assert.deepEqual(container.command, ['node', '--max-old-space-size=256', '/opt/topology/topology.cjs']);
      assert.deepEqual(container.args, ['--phase', phase]);
      assert.deepEqual(
        container.volumeMounts.find((mount: any) => mount.name === 'topology'),
        { name: 'topology', mountPath: '/opt/topology', readOnly: true },
      );
      assert.equal(job.spec.template.spec.volumes.find((volume: any) => volume.name === 'topology').configMap.name, 'redis-cluster-topology');
    }
  });

  it("size Node's heap by the Jobs' memory limit (half of it), and leave it to Node without one", () => {
    const commandWith = (jobResources: object) =>
      find(synthObjects({ ...SEED_PROPS, jobResources }), 'Job', 'redis-cluster-topology-post').spec.template.spec.containers[0].command;
    assert.deepEqual(commandWith({ limits: { memory: '1Gi' } }), ['node', '--max-old-space-size=512', '/opt/topology/topology.cjs']);
    assert.deepEqual(commandWith({ limits: { memory: '600M' } }), ['node', '--max-old-space-size=286', '/opt/topology/topology.cjs']);
    assert.deepEqual(commandWith({ requests: { memory: '128Mi' } }), ['node', '/opt/topology/topology.cjs']);
  });

  it('pass the desired shape and how to find the pods in env, the password by Secret reference', () => {
    assert.deepEqual(envOf(pre), {
      MASTERS: '3',
      REPLICAS_PER_MASTER: '1',
      STATEFULSET_NAME: 'redis-cluster',
      HEADLESS_SERVICE: 'redis-cluster-svc',
      POD_NAMESPACE: { fieldRef: { fieldPath: 'metadata.namespace' } },
      CLUSTER_DOMAIN: 'cluster.local',
      REDIS_PORT: '6379',
      PLACEMENT_ZONE_LABEL: 'topology.kubernetes.io/zone',
      PLACEMENT_NODES: 'true',
      REDIS_PASSWORD: { secretKeyRef: { name: 'redis-cluster-auth', key: 'password', optional: false } },
    });
    assert.deepEqual(envOf(post), envOf(pre));
  });

  it('pass the migration rate setting when it is set, and leave the program its default otherwise', () => {
    assert.equal(envOf(pre).MIGRATION_SLOTS_IN_FLIGHT, undefined);
    assert.equal(envOf(pre).MIGRATION_MAX_KEYS_PER_SECOND, undefined);
    const gentle = synthObjects({ ...SEED_PROPS, migrationSlotsInFlight: 4, migrationMaxKeysPerSecond: 20000 });
    for (const name of ['redis-cluster-topology-pre', 'redis-cluster-topology-post']) {
      assert.equal(envOf(find(gentle, 'Job', name)).MIGRATION_SLOTS_IN_FLIGHT, '4');
      assert.equal(envOf(find(gentle, 'Job', name)).MIGRATION_MAX_KEYS_PER_SECOND, '20000');
    }
  });

  it('never restart in place, run non-root, and may run for hours', () => {
    for (const job of [pre, post]) {
      const pod = job.spec.template.spec;
      assert.equal(pod.restartPolicy, 'Never');
      assert.equal(pod.securityContext.runAsNonRoot, true);
      assert.equal(pod.containers[0].securityContext.readOnlyRootFilesystem, true);
      assert.equal(job.spec.backoffLimit, 3);
      assert.equal(job.spec.activeDeadlineSeconds, 21600);
      // The token reads where the pods run (test/chart/spread.test.ts).
      assert.equal(pod.serviceAccountName, 'redis-cluster-topology');
      assert.equal(pod.automountServiceAccountToken, true);
      assert.equal(job.spec.template.metadata.labels['alibabacloud.com/eci'], 'true');
    }
  });

  it('under Argo CD, are PreSync and PostSync hooks, with their ConfigMap a PreSync hook one wave earlier', () => {
    const hook = (object: any) => object.metadata.annotations;
    assert.equal(hook(pre)['argocd.argoproj.io/hook'], 'PreSync');
    assert.equal(hook(post)['argocd.argoproj.io/hook'], 'PostSync');
    const bundle = find(objects, 'ConfigMap', 'redis-cluster-topology');
    assert.equal(hook(bundle)['argocd.argoproj.io/hook'], 'PreSync');
    assert.ok(Number(hook(bundle)['argocd.argoproj.io/sync-wave']) < Number(hook(pre)['argocd.argoproj.io/sync-wave']));
    for (const object of [pre, post, bundle]) assert.equal(hook(object)['argocd.argoproj.io/hook-delete-policy'], 'BeforeHookCreation');
    // The Redis objects themselves are normal resources, not hooks.
    for (const object of objects.filter((o) => o.kind !== 'Job' && o.metadata?.name !== 'redis-cluster-topology')) {
      assert.equal((object as any).metadata.annotations?.['argocd.argoproj.io/hook'], undefined, `${object.kind}/${object.metadata?.name}`);
    }
  });

  it('change their run hash when the shape or the program changes, and only then', () => {
    const runHash = (job: any) => job.spec.template.metadata.annotations['redis-cluster-gitops/run-hash'];
    const again = synthObjects();
    assert.equal(runHash(find(again, 'Job', 'redis-cluster-topology-post')), runHash(post));
    const grown = synthObjects({ ...SEED_PROPS, masters: 4 });
    assert.notEqual(runHash(find(grown, 'Job', 'redis-cluster-topology-post')), runHash(post));
    assert.equal(find(grown, 'Job', 'redis-cluster-topology-post').metadata.annotations['redis-cluster-gitops/desired-shape'], 'masters=4,replicasPerMaster=1');
    assert.notEqual(runHash(pre), runHash(post));
  });
});

describe('Flux layout', () => {
  const outdir = path.join(tempDir('flux'), 'dist');
  const result = synthToDist({ props: { ...SEED_PROPS, gitops: 'flux' }, outdir, topologyBundle: FAKE_BUNDLE });
  const filesIn = (file: string) => parseYamlObjects(result.files.get(file)!);

  it('splits the objects into pre/, main/ and post/ plus the Flux Kustomizations', () => {
    assert.deepEqual(
      [...result.files.keys()],
      ['flux/kustomizations.yaml', 'kustomization.yaml', 'main/redis-cluster-main.yaml', 'post/redis-cluster-post.yaml', 'pre/redis-cluster-pre.yaml'],
    );
    const names = (file: string) =>
      filesIn(file)
        .map((object) => `${object.kind}/${object.metadata?.name}`)
        .sort();
    assert.deepEqual(names('pre/redis-cluster-pre.yaml'), [
      'ClusterRole/default-redis-cluster-topology-nodes',
      'ClusterRoleBinding/default-redis-cluster-topology-nodes',
      'ConfigMap/redis-cluster-topology',
      'Job/redis-cluster-topology-pre',
      'Role/redis-cluster-topology',
      'RoleBinding/redis-cluster-topology',
      'ServiceAccount/redis-cluster-topology',
    ]);
    assert.deepEqual(names('post/redis-cluster-post.yaml'), ['Job/redis-cluster-topology-post']);
    assert.deepEqual(names('main/redis-cluster-main.yaml'), [
      'ConfigMap/redis-cluster',
      'PodDisruptionBudget/redis-cluster',
      'Service/redis-cluster-client',
      'Service/redis-cluster-svc',
      'StatefulSet/redis-cluster',
    ]);
  });

  it('chains pre -> main -> post with dependsOn and wait, and force-replaces the Jobs', () => {
    const kustomizations = filesIn('flux/kustomizations.yaml') as any[];
    assert.deepEqual(
      kustomizations.map((k) => [k.metadata.name, k.spec.path, k.spec.dependsOn?.[0]?.name ?? null, k.spec.wait]),
      [
        ['redis-cluster-pre', './dist/pre', null, true],
        ['redis-cluster-main', './dist/main', 'redis-cluster-pre', true],
        ['redis-cluster-post', './dist/post', 'redis-cluster-main', true],
      ],
    );
    for (const k of kustomizations) {
      assert.equal(k.apiVersion, 'kustomize.toolkit.fluxcd.io/v1');
      assert.equal(k.metadata.namespace, 'flux-system');
      assert.deepEqual(k.spec.sourceRef, { kind: 'GitRepository', name: 'flux-system', namespace: 'flux-system' });
      assert.equal(k.spec.targetNamespace, 'default');
      assert.equal(k.spec.prune, true);
    }
    for (const file of ['pre/redis-cluster-pre.yaml', 'post/redis-cluster-post.yaml']) {
      const job = filesIn(file).find((object) => object.kind === 'Job') as any;
      assert.equal(job.metadata.annotations['kustomize.toolkit.fluxcd.io/force'], 'enabled');
      assert.equal(job.metadata.annotations['argocd.argoproj.io/hook'], undefined);
    }
  });
});
