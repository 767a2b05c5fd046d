// The program reads where the pods run from a Kubernetes API stand-in on loopback (HTTPS, its own
// CA, tokens and RBAC), with the RBAC objects the chart synthesizes: what it learns, and what it says
// (once) when it cannot.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Testing } from 'cdk8s';
import { RedisClusterChart, type RedisClusterChartProps } from '../../charts';
import { withPlacement, type ApiAccess } from '../../jobs/observe/placement';
import type { ClusterView } from '../../jobs/plan/model';
import type { Log } from '../../jobs/progress';
import { parseSettings } from '../../jobs/settings';
import { toView, type SimNode } from '../support/cluster-simulator';
import { KubeApiStandIn, type ApiPod } from '../support/kube-api-standin';
import type { KubeObject } from '../support/manifests';

const namespace = 'shop';
const nodeOf = ['a-1', 'a-1', 'b-1', 'b-2', 'c-1', undefined];
const zones: Record<string, Record<string, string>> = {
  'a-1': { 'topology.kubernetes.io/zone': 'zone-a', 'kubernetes.io/hostname': 'a-1' },
  'b-1': { 'topology.kubernetes.io/zone': 'zone-b' },
  'b-2': { 'topology.kubernetes.io/zone': 'zone-b' },
  'c-1': {},
};

function chartObjects(props: RedisClusterChartProps): KubeObject[] {
  return Testing.synth(new RedisClusterChart(Testing.app(), 'test', { allowUnauthenticated: true, ...props }, { topologyBundle: '//' })) as KubeObject[];
}

const view: ClusterView = toView({
  nodes: nodeOf.map((_, ordinal): SimNode => ({
    ordinal,
    id: `node${ordinal}`,
    inCluster: false,
    role: 'master',
    masterId: null,
    owned: new Set(),
    keys: new Map(),
    migrating: {},
    importing: {},
  })),
  strangers: [],
  migratedSlots: 0,
});

function recordingLog(): Log & { lines: string[] } {
  const lines: string[] = [];
  return { lines, info: (line) => lines.push(line), warn: (line) => lines.push(`warn ${line}`), error: (line) => lines.push(`error ${line}`) };
}

const settingsWith = (env: Record<string, string> = {}, argv: string[] = []) =>
  parseSettings(['--phase', 'post', ...argv], { MASTERS: '3', REPLICAS_PER_MASTER: '1', POD_NAMESPACE: namespace, ...env });

describe('reading where the pods run', () => {
  let rbac: KubeObject[] = [];
  const pods: ApiPod[] = nodeOf.map((nodeName, ordinal) => ({
    name: `redis-cluster-${ordinal}`,
    namespace,
    labels: { 'statefulset.kubernetes.io/pod-name': `redis-cluster-${ordinal}` },
    nodeName,
  }));
  // Another StatefulSet's pod and a pod of another namespace are not ours.
  pods.push({ name: 'other-0', namespace, labels: { 'statefulset.kubernetes.io/pod-name': 'other-0' }, nodeName: 'c-1' });
  pods.push({ name: 'redis-cluster-0', namespace: 'elsewhere', labels: { 'statefulset.kubernetes.io/pod-name': 'redis-cluster-0' }, nodeName: 'c-1' });
  const api = new KubeApiStandIn({ pods: () => pods, nodes: () => zones, objects: () => rbac, defaultNamespace: namespace, pageSize: 2 });
  let dir = '';

  /** A fresh way of access (so nothing is remembered between tests), with a token for the chart's ServiceAccount. */
  const access = (token = api.issueToken(namespace, 'redis-cluster-topology'), ca = api.ca): ApiAccess => {
    const accountDir = mkdtempSync(path.join(dir, 'account-'));
    writeFileSync(path.join(accountDir, 'token'), `${token}\n`);
    writeFileSync(path.join(accountDir, 'ca.crt'), ca);
    writeFileSync(path.join(accountDir, 'namespace'), namespace);
    return { env: { KUBERNETES_SERVICE_HOST: api.host, KUBERNETES_SERVICE_PORT: String(api.port) }, serviceAccountDir: accountDir };
  };

  let otherCa = '';
  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'placement-reader-'));
    await api.start();
    // Another CA, valid but not the one the server's certificate chains to.
    const other = new KubeApiStandIn({ pods: () => [], nodes: () => ({}), objects: () => [], defaultNamespace: namespace });
    await other.start();
    otherCa = other.ca;
    await other.stop();
  });
  after(async () => {
    await api.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("with the chart's ServiceAccount and RBAC: every pod's node and zone, in pages, nodes asked once, said once", async () => {
    rbac = chartObjects({ namespace });
    const log = recordingLog();
    const way = access();
    const placed = await withPlacement(view, settingsWith(), log, way);
    assert.deepEqual(
      placed.pods.map((pod) => pod.placement),
      [
        { node: 'a-1', zone: 'zone-a' },
        { node: 'a-1', zone: 'zone-a' },
        { node: 'b-1', zone: 'zone-b' },
        { node: 'b-2', zone: 'zone-b' },
        { node: 'c-1' },
        undefined,
      ],
    );
    assert.deepEqual(log.lines, [
      'placement: no topology.kubernetes.io/zone label: pods 4,5 on 1 node(s) c-1; zone zone-a: pods 0,1 on 1 node(s) a-1; zone zone-b: pods 2,3 on 2 node(s) b-1 b-2',
    ]);
    const requestsBefore = api.requests.length;
    await withPlacement(view, settingsWith(), log, way);
    assert.equal(log.lines.length, 1, 'said once');
    assert.ok(
      api.requests.slice(requestsBefore).every((request) => request.path.includes('/pods')),
      'nodes are asked once a run',
    );
    assert.ok(api.requests.every((request) => request.status === 200 && request.user === `system:serviceaccount:${namespace}:redis-cluster-topology`));
    assert.ok(api.requests.filter((request) => request.path.includes('continue=')).length >= 3, 'the list came in pages');
  });

  it('on virtual nodes (PLACEMENT_NODES=false): zones only', async () => {
    rbac = chartObjects({ namespace });
    const placed = await withPlacement(view, settingsWith({ PLACEMENT_NODES: 'false' }), recordingLog(), access());
    assert.deepEqual(placed.pods[2]!.placement, { zone: 'zone-b' });
    assert.equal(placed.pods[4]!.placement, undefined);
  });

  it('with the zone label configured', async () => {
    rbac = chartObjects({ namespace });
    const placed = await withPlacement(view, settingsWith({ PLACEMENT_ZONE_LABEL: 'kubernetes.io/hostname' }), recordingLog(), access());
    assert.deepEqual(placed.pods[0]!.placement, { node: 'a-1', zone: 'a-1' });
    assert.deepEqual(placed.pods[2]!.placement, { node: 'b-1' });
  });

  it('without the node reader (Argo CD, no namespace prop): nodes only, said once', async () => {
    rbac = chartObjects({});
    const log = recordingLog();
    const way = access();
    const placed = await withPlacement(view, settingsWith(), log, way);
    await withPlacement(view, settingsWith(), log, way);
    assert.deepEqual(placed.pods[0]!.placement, { node: 'a-1' });
    assert.equal(log.lines.filter((line) => line.startsWith('placement: zones are unknown')).length, 1);
    assert.match(
      log.lines[0]!,
      /zones are unknown \(the service account may not get nodes: .*cannot get resource "nodes".*\); shards are spread over nodes only/,
    );
  });

  it('without any access, without a token, with --pods, or with a CA that does not match: unknown, the view unchanged, said once', async () => {
    const cases: Array<[string, () => Promise<ClusterView>, RegExp]> = [
      [
        'no RBAC',
        async () => withPlacement(view, settingsWith(), log, access()),
        /the service account may not list pods: .*HTTP 403.*cannot list resource "pods"/,
      ],
      ['a token the server did not issue', async () => withPlacement(view, settingsWith(), log, access('forged')), /HTTP 401: Unauthorized/],
      [
        'no token mounted',
        async () => withPlacement(view, settingsWith(), log, { env: { KUBERNETES_SERVICE_HOST: api.host }, serviceAccountDir: path.join(dir, 'none') }),
        /no service account token is mounted \(ENOENT/,
      ],
      ['a local run', async () => withPlacement(view, settingsWith({}, ['--pods', 'a:1,b:2']), log, access()), /pods were given with --pods/],
      [
        'a CA the server certificate does not chain to',
        async () => withPlacement(view, settingsWith(), log, access(undefined, otherCa)),
        /unable to verify the first certificate|unable to get local issuer certificate|self-signed certificate/,
      ],
    ];
    let log = recordingLog();
    for (const [label, read, message] of cases) {
      rbac = label === 'no RBAC' ? [] : chartObjects({ namespace });
      log = recordingLog();
      const placed = await read();
      assert.equal(placed, view, label);
      assert.equal(log.lines.length, 1, `${label}: ${log.lines.join('\n')}`);
      assert.match(log.lines[0]!, message, label);
      assert.match(log.lines[0]!, /shards are placed without it$/, label);
    }
  });
});
