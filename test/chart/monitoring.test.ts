import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { IPrometheusRule } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule';
import type { IServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor';
import { synthToDist, type RedisClusterChartProps } from '../../charts';
import { readManifestDirectory } from '../../charts/synth-to-dist';
import { FAKE_BUNDLE, find, parseYamlObjects, repoRoot, SEED_PROPS, synthObjects, tempDir } from './chart-fixtures';
import { schemaErrors } from './manifest-schemas';

const MONITORED: RedisClusterChartProps = {
  ...SEED_PROPS,
  monitoring: { serviceMonitor: { labels: { release: 'kube-prometheus-stack' } }, prometheusRule: { labels: { release: 'kube-prometheus-stack' } } },
};

const containersOf = (objects: ReturnType<typeof synthObjects>) => find(objects, 'StatefulSet', 'redis-cluster').spec.template.spec.containers;

/** The anchors GitHub gives the headings of a Markdown file. */
function headingAnchors(file: string): Set<string> {
  const anchors = new Set<string>();
  for (const match of readFileSync(file, 'utf8').matchAll(/^#+ (.+)$/gm)) {
    anchors.add(
      match[1]
        .trim()
        .toLowerCase()
        .replace(/[^a-z0-9 _-]/g, '')
        .replace(/ /g, '-'),
    );
  }
  return anchors;
}

describe('monitoring', () => {
  const objects = synthObjects(MONITORED);
  const [redis, exporter] = containersOf(objects);

  it('is off by default: one container, no metrics Service, no exporter script', () => {
    const plain = synthObjects();
    assert.deepEqual(
      containersOf(plain).map((container: any) => container.name),
      ['redis'],
    );
    assert.ok(!plain.some((object) => object.metadata?.name === 'redis-cluster-metrics' || object.apiVersion.startsWith('monitoring.coreos.com')));
    assert.equal(find(plain, 'ConfigMap', 'redis-cluster').data['cluster-slots.lua'], undefined);
  });

  it('adds a redis_exporter sidecar that scrapes only its own node, with the password from the same Secret', () => {
    assert.equal(redis.name, 'redis', 'Redis stays the first container');
    assert.equal(exporter.name, 'metrics');
    assert.equal(exporter.image, 'oliver006/redis_exporter:v1.91.1');
    assert.deepEqual(exporter.args, [
      '--redis.addr=redis://localhost:6379',
      '--web.listen-address=:9121',
      '--web.telemetry-path=/metrics',
      '--script=/etc/redis-cluster/cluster-slots.lua',
      '--redis-only-metrics',
      '--connection-timeout=5s',
    ]);
    assert.ok(!exporter.args.includes('--is-cluster'));
    assert.deepEqual(exporter.env, [{ name: 'REDIS_PASSWORD', valueFrom: { secretKeyRef: { name: 'redis-cluster-auth', key: 'password', optional: false } } }]);
    assert.deepEqual(exporter.ports, [{ name: 'metrics', containerPort: 9121, protocol: 'TCP' }]);
    assert.deepEqual(exporter.volumeMounts, [{ name: 'config', mountPath: '/etc/redis-cluster', readOnly: true }]);
    assert.equal(exporter.readinessProbe, undefined, "the pod's readiness stays Redis's");
  });

  it('runs the exporter non-root on a read-only root filesystem with small resources', () => {
    assert.deepEqual(exporter.securityContext, {
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      capabilities: { drop: ['ALL'] },
    });
    assert.deepEqual(exporter.resources, { requests: { cpu: '10m', memory: '32Mi' }, limits: { memory: '64Mi' } });
    const statefulSet = find(objects, 'StatefulSet', 'redis-cluster');
    assert.equal(statefulSet.spec.template.spec.securityContext.runAsNonRoot, true);
    assert.equal(statefulSet.spec.template.metadata.annotations['kubectl.kubernetes.io/default-container'], 'redis');
  });

  it("ships the exporter's slot script in the Redis ConfigMap", () => {
    const script: string = find(objects, 'ConfigMap', 'redis-cluster').data['cluster-slots.lua'];
    assert.equal(script, readFileSync(path.join(repoRoot, 'charts', 'scripts', 'cluster-slots.lua'), 'utf8'));
    assert.match(script, /^#!lua flags=no-writes,allow-stale\n/);
  });

  it('publishes port 9121 on a metrics Service of its own that selects the Redis pods, not-ready ones included', () => {
    const service = find(objects, 'Service', 'redis-cluster-metrics');
    const statefulSet = find(objects, 'StatefulSet', 'redis-cluster');
    assert.deepEqual(service.spec.selector, statefulSet.spec.selector.matchLabels);
    assert.equal(service.spec.clusterIP, 'None');
    assert.equal(service.spec.publishNotReadyAddresses, true);
    assert.deepEqual(service.spec.ports, [{ name: 'metrics', port: 9121, targetPort: 'metrics', protocol: 'TCP' }]);
    assert.equal(service.metadata.labels['app.kubernetes.io/component'], 'metrics');
    // The headless and client Services keep their ports: clients never see 9121.
    assert.ok(!find(objects, 'Service', 'redis-cluster-svc').spec.ports.some((port: any) => port.port === 9121));
  });

  it('selects exactly the metrics Service with the ServiceMonitor, with the labels Prometheus selects it by', () => {
    const monitor = find<IServiceMonitor>(objects, 'ServiceMonitor', 'redis-cluster');
    const service = find(objects, 'Service', 'redis-cluster-metrics');
    const selector = monitor.spec.selector.matchLabels!;
    const matching = objects.filter(
      (object: any) => object.kind === 'Service' && Object.entries(selector).every(([key, value]) => object.metadata.labels?.[key] === value),
    );
    assert.deepEqual(
      matching.map((object) => object.metadata?.name),
      [service.metadata.name],
    );
    assert.equal(monitor.metadata!.labels!.release, 'kube-prometheus-stack');
    assert.deepEqual(monitor.spec.endpoints, [{ port: 'metrics', path: '/metrics', interval: '30s', scrapeTimeout: '10s' }]);
    assert.equal(monitor.spec.namespaceSelector, undefined, 'its own namespace, wherever the GitOps tool puts it');
  });

  it('creates the ServiceMonitor and the PrometheusRule only when asked', () => {
    const sidecarOnly = synthObjects({ ...SEED_PROPS, monitoring: {} });
    assert.equal(containersOf(sidecarOnly).length, 2);
    assert.ok(sidecarOnly.some((object) => object.metadata?.name === 'redis-cluster-metrics'));
    assert.ok(!sidecarOnly.some((object) => object.apiVersion.startsWith('monitoring.coreos.com')));
    const rulesOnly = synthObjects({ ...SEED_PROPS, monitoring: { prometheusRule: {} } });
    assert.deepEqual(
      rulesOnly.filter((object) => object.apiVersion.startsWith('monitoring.coreos.com')).map((object) => object.kind),
      ['PrometheusRule'],
    );
  });

  it('gives every alert a severity, a summary, a description and a runbook section that exists in docs/operations.md', () => {
    const rule = find<IPrometheusRule>(objects, 'PrometheusRule', 'redis-cluster');
    assert.equal(rule.metadata!.labels!.release, 'kube-prometheus-stack');
    const rules = rule.spec.groups!.flatMap((group) => group.rules!);
    assert.deepEqual(
      rules.map((entry) => entry.alert),
      [
        'RedisDown',
        'RedisClusterStateNotOk',
        'RedisClusterSlotsNotCovered',
        'RedisClusterSlotMigrationStuck',
        'RedisClusterMasterWithoutReplica',
        'RedisReplicationLinkDown',
        'RedisMemoryNearMaxmemory',
        'RedisEvictingKeys',
        'RedisClusterTopologyJobFailed',
      ],
    );
    const anchors = headingAnchors(path.join(repoRoot, 'docs', 'operations.md'));
    for (const entry of rules) {
      assert.match(entry.labels!.severity, /^(critical|warning)$/, entry.alert);
      assert.ok(entry.annotations!.summary && entry.annotations!.description, entry.alert);
      const [document, anchor] = entry.annotations!.runbook_url.split('#');
      assert.equal(document, 'docs/operations.md');
      assert.ok(anchors.has(anchor), `${entry.alert}: docs/operations.md has no section #${anchor}`);
      assert.match(String(entry.expr), /service="redis-cluster-metrics"|job_name=~"redis-cluster-topology-pre\|redis-cluster-topology-post"/, entry.alert);
    }
  });

  it('scopes the alerts to the namespace when the props fix one, and points the runbooks where the team reads them', () => {
    const objectsInNamespace = synthObjects({
      ...MONITORED,
      namespace: 'cache',
      monitoring: { serviceMonitor: {}, prometheusRule: { runbookUrl: 'https://git.example.com/platform/redis/-/blob/main/docs/operations.md' } },
    });
    const rule = find<IPrometheusRule>(objectsInNamespace, 'PrometheusRule', 'redis-cluster');
    for (const entry of rule.spec.groups![0].rules!) {
      assert.match(String(entry.expr), /namespace="cache"/, entry.alert);
      assert.ok(entry.annotations!.runbook_url.startsWith('https://git.example.com/platform/redis/-/blob/main/docs/operations.md#'), entry.alert);
    }
    assert.deepEqual(find<IServiceMonitor>(objectsInNamespace, 'ServiceMonitor', 'redis-cluster').spec.namespaceSelector, { matchNames: ['cache'] });
  });

  it('has no master-without-replica alert for a cluster declared without replicas', () => {
    const rule = find<IPrometheusRule>(synthObjects({ ...MONITORED, replicasPerMaster: 0 }), 'PrometheusRule', 'redis-cluster');
    assert.ok(!rule.spec.groups![0].rules!.some((entry) => entry.alert === 'RedisClusterMasterWithoutReplica'));
  });

  it('opens the metrics port in the NetworkPolicy to the chosen scrapers only', () => {
    const policyOf = (networkPolicy: object) =>
      find(synthObjects({ ...MONITORED, networkPolicy }), 'NetworkPolicy', 'redis-cluster').spec.ingress.find((rule: any) => rule.ports[0].port === 9121);
    assert.deepEqual(policyOf({}).from, [{ namespaceSelector: {} }]);
    assert.deepEqual(
      policyOf({
        metricsScraperNamespaceLabels: { 'kubernetes.io/metadata.name': 'monitoring' },
        metricsScraperPodLabels: { 'app.kubernetes.io/name': 'prometheus' },
      }).from,
      [
        {
          namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } },
          podSelector: { matchLabels: { 'app.kubernetes.io/name': 'prometheus' } },
        },
      ],
    );
    const withoutMonitoring = find(synthObjects({ ...SEED_PROPS, networkPolicy: {} }), 'NetworkPolicy', 'redis-cluster');
    assert.ok(!withoutMonitoring.spec.ingress.some((rule: any) => rule.ports[0].port === 9121));
  });

  it('validates against the Kubernetes and Prometheus Operator schemas, under both GitOps tools', async () => {
    for (const gitops of ['argocd', 'flux'] as const) {
      const outdir = path.join(tempDir(`monitoring-${gitops}`), 'dist');
      synthToDist({ props: { ...MONITORED, gitops, namespace: 'cache', networkPolicy: {} }, outdir, topologyBundle: FAKE_BUNDLE });
      const all = [...readManifestDirectory(outdir).entries()]
        .filter(([file]) => file !== 'kustomization.yaml')
        .flatMap(([, content]) => parseYamlObjects(content));
      assert.deepEqual(
        all.filter((object) => object.apiVersion === 'monitoring.coreos.com/v1').map((object) => object.kind),
        ['ServiceMonitor', 'PrometheusRule'],
      );
      assert.deepEqual(await schemaErrors(all), [], gitops);
    }
  });

  it('fails the schema check on a misplaced field of the custom resources', async () => {
    const monitor = structuredClone(find(objects, 'ServiceMonitor', 'redis-cluster'));
    monitor.spec.endpoints[0].scrapeInterval = monitor.spec.endpoints[0].interval;
    const rule = structuredClone(find(objects, 'PrometheusRule', 'redis-cluster'));
    delete rule.spec.groups[0].name;
    const errors = await schemaErrors([monitor, rule]);
    assert.ok(
      errors.some((error) => /ServiceMonitor .*scrapeInterval/s.test(error)),
      errors.join('\n'),
    );
    assert.ok(
      errors.some((error) => /PrometheusRule .*name/s.test(error)),
      errors.join('\n'),
    );
  });
});
