import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { InvalidPropError, StatefulSetReplacementError, synthToDist, type RedisClusterChartProps } from '../../charts';
import { readManifestDirectory } from '../../charts/synth-to-dist';
import { distDir, FAKE_BUNDLE, repoRoot, SEED_PROPS, tempDir } from './chart-fixtures';

const run = promisify(execFile);
const tsx = path.join(repoRoot, 'node_modules', '.bin', 'tsx');

/** Runs `tsx main.ts` (what `npm run synth` runs after bundling) with extra env. */
async function synthCli(env: Record<string, string>, argv: string[] = []): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(tsx, ['main.ts', ...argv], { cwd: repoRoot, env: { ...process.env, ...env } });
    return { code: 0, stdout, stderr };
  } catch (error: any) {
    return { code: error.code ?? 1, stdout: error.stdout ?? '', stderr: error.stderr ?? '' };
  }
}

function snapshot(dir: string): Map<string, string> {
  return readManifestDirectory(dir);
}

describe('npm run synth', () => {
  it('reproduces the committed dist/ byte for byte', async () => {
    const outdir = path.join(tempDir('fresh'), 'dist');
    const result = await synthCli({ REDIS_CLUSTER_OUTDIR: outdir });
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(snapshot(outdir), snapshot(distDir), 'dist/ is stale: run `npm run synth` and commit dist/');
  });

  it('is deterministic: two synths give the same bytes', () => {
    const base = tempDir('determinism');
    for (const gitops of ['argocd', 'flux'] as const) {
      const first = synthToDist({ props: { ...SEED_PROPS, gitops }, outdir: path.join(base, `${gitops}-1`), topologyBundle: FAKE_BUNDLE });
      const second = synthToDist({ props: { ...SEED_PROPS, gitops }, outdir: path.join(base, `${gitops}-2`), topologyBundle: FAKE_BUNDLE });
      assert.deepEqual(second.files, first.files);
      assert.deepEqual(snapshot(path.join(base, `${gitops}-2`)), snapshot(path.join(base, `${gitops}-1`)));
    }
  });

  it('keeps no secret value: the password comes only from the Secret at run time', async () => {
    const fakePassword = 'fake-Pa55word-never-in-dist-7f3a';
    const outdir = path.join(tempDir('secret'), 'dist');
    const result = await synthCli({
      REDIS_CLUSTER_OUTDIR: outdir,
      REDIS_PASSWORD: fakePassword,
      REDIS_CLUSTER_PROPS_JSON: JSON.stringify({ gitops: 'flux' }),
    });
    assert.equal(result.code, 0, result.stderr);
    const files = [...snapshot(outdir), ...snapshot(distDir)];
    for (const [file, content] of files) {
      assert.ok(!content.includes(fakePassword), `${file} contains the password`);
      assert.doesNotMatch(content, /^\s*(requirepass|masterauth)\s/m, `${file} sets a password literally`);
      assert.doesNotMatch(content, /name: REDIS_PASSWORD\n\s*value:/, `${file} has a literal REDIS_PASSWORD`);
    }
  });

  it('replaces the whole directory, removing manifests that no longer belong', () => {
    const outdir = path.join(tempDir('replace'), 'dist');
    synthToDist({ props: { ...SEED_PROPS, gitops: 'flux' }, outdir, topologyBundle: FAKE_BUNDLE });
    writeFileSync(path.join(outdir, 'stale.yaml'), 'kind: Stale\n');
    const result = synthToDist({ props: SEED_PROPS, outdir, topologyBundle: FAKE_BUNDLE });
    assert.deepEqual([...snapshot(outdir).keys()], ['redis-cluster.yaml']);
    assert.ok(result.summary.some((line) => line.startsWith('files removed:') && line.includes('pre/redis-cluster-pre.yaml') && line.includes('stale.yaml')));
    assert.ok(!existsSync(`${outdir}.synth-${process.pid}`) && !existsSync(`${outdir}.previous-${process.pid}`));
  });

  it('summarizes a change of shape against the previous dist/', () => {
    const outdir = path.join(tempDir('summary'), 'dist');
    const created = synthToDist({ props: SEED_PROPS, outdir, topologyBundle: FAKE_BUNDLE });
    // The directory it wrote, not "dist/": here a temporary one outside the working directory, so absolute.
    assert.ok(created.summary[0].startsWith(`${outdir}/ created: 3 masters x 1 replica = 6 pods`), created.summary[0]);
    const grown = synthToDist({ props: { ...SEED_PROPS, masters: 4 }, outdir, topologyBundle: FAKE_BUNDLE });
    assert.ok(grown.changed);
    assert.deepEqual(grown.summary.slice(0, 3), [
      'masters 3 -> 4',
      'pods added: redis-cluster-6, redis-cluster-7',
      'about 25% of the hash slots (4096 of 16384) will move, with their keys',
    ]);
    const shrunk = synthToDist({ props: { ...SEED_PROPS, masters: 3 }, outdir, topologyBundle: FAKE_BUNDLE });
    assert.deepEqual(shrunk.summary.slice(0, 3), [
      'masters 4 -> 3',
      'pods removed (drained first by the pre Job): redis-cluster-6, redis-cluster-7',
      'about 25% of the hash slots (4096 of 16384) will move, with their keys',
    ]);
    synthToDist({ props: SEED_PROPS, outdir, topologyBundle: FAKE_BUNDLE });
    const same = synthToDist({ props: { ...SEED_PROPS, masters: 3 }, outdir, topologyBundle: FAKE_BUNDLE });
    assert.equal(same.changed, false);
    assert.match(same.summary[0], /^no changes/);
    const renamed = synthToDist({ props: { ...SEED_PROPS, statefulSetName: 'cache' }, outdir, topologyBundle: FAKE_BUNDLE });
    assert.ok(
      renamed.summary.includes(`StatefulSet redis-cluster -> cache: a new cluster; the old one's objects are no longer in ${outdir}/`),
      renamed.summary.join('\n'),
    );
  });

  it('refuses a change Kubernetes will not make on the live StatefulSet, with the steps that work, unless allowed', () => {
    const outdir = path.join(tempDir('immutable'), 'dist');
    synthToDist({ props: SEED_PROPS, outdir, topologyBundle: FAKE_BUNDLE });
    const before = snapshot(outdir);
    const refusals: [RedisClusterChartProps, string][] = [
      [{ storageSize: '40Gi' }, 'spec.volumeClaimTemplates'],
      [{ storageClassName: 'standard' }, 'spec.volumeClaimTemplates'],
      [{ headlessServiceName: 'redis-nodes' }, 'spec.serviceName'],
    ];
    for (const [change, field] of refusals) {
      assert.throws(
        () => synthToDist({ props: { ...SEED_PROPS, ...change }, outdir, topologyBundle: FAKE_BUNDLE }),
        (error: unknown) =>
          error instanceof StatefulSetReplacementError &&
          error.message.includes(field) &&
          error.message.includes('kubectl delete statefulset redis-cluster --cascade=orphan'),
        JSON.stringify(change),
      );
      assert.deepEqual(snapshot(outdir), before, `${JSON.stringify(change)}: dist/ changed`);
    }
    assert.throws(
      () => synthToDist({ props: { ...SEED_PROPS, storageSize: '40Gi' }, outdir, topologyBundle: FAKE_BUNDLE }),
      (error: unknown) =>
        error instanceof Error &&
        error.message.includes(
          `kubectl patch pvc pvc-essd-redis-data-redis-cluster-0 -p '{"spec":{"resources":{"requests":{"storage":"40Gi"}}}}', and the same for pvc-essd-redis-data-redis-cluster-1 ... pvc-essd-redis-data-redis-cluster-5`,
        ),
    );
    const allowed = synthToDist({ props: { ...SEED_PROPS, storageSize: '40Gi' }, outdir, topologyBundle: FAKE_BUNDLE, allowStatefulSetReplacement: true });
    assert.ok(allowed.changed);
    assert.ok(
      allowed.summary.some(
        (line) => line.includes('spec.volumeClaimTemplates changed (allowed by --allow-statefulset-replacement)') && line.includes('--cascade=orphan'),
      ),
      allowed.summary.join('\n'),
    );
  });

  it('names objects without a name by their file: switching to Flux lists no "Kustomization/undefined"', () => {
    const outdir = path.join(tempDir('to-flux'), 'dist');
    synthToDist({ props: SEED_PROPS, outdir, topologyBundle: FAKE_BUNDLE });
    const flux = synthToDist({ props: { ...SEED_PROPS, gitops: 'flux' }, outdir, topologyBundle: FAKE_BUNDLE });
    const summary = flux.summary.join('\n');
    assert.doesNotMatch(summary, /undefined/);
    assert.match(summary, /objects added: .*Kustomization\/flux-system\/redis-cluster-pre.*Kustomization \(kustomization\.yaml\)/);
    assert.match(summary, /files added: flux\/kustomizations\.yaml, kustomization\.yaml, main\/redis-cluster-main\.yaml/);
    assert.match(summary, /files removed: redis-cluster\.yaml/);
  });

  const badInputs: [string, RedisClusterChartProps, RegExp][] = [
    ['masters 2', { masters: 2 }, /Invalid masters: 2\. Allowed: an integer from 3 to 1000/],
    ['masters 3.5', { masters: 3.5 }, /Invalid masters: 3\.5\. Allowed: an integer/],
    ['masters "4"', { masters: '4' as unknown as number }, /Invalid masters: "4"\. Allowed: an integer/],
    ['replicasPerMaster 6', { replicasPerMaster: 6 }, /Invalid replicasPerMaster: 6\. Allowed: an integer from 0 to 5/],
    ['replicasPerMaster -1', { replicasPerMaster: -1 }, /Invalid replicasPerMaster: -1\. Allowed: an integer from 0 to 5/],
    ['statefulSetName Redis_Cluster', { statefulSetName: 'Redis_Cluster' }, /Invalid statefulSetName: "Redis_Cluster"\. Allowed: a DNS-1123 label/],
    ['headlessServiceName too long', { headlessServiceName: 'a'.repeat(64) }, /Invalid headlessServiceName: "a{64}"\. Allowed: a DNS-1123 label/],
    ['namespace with dots', { namespace: 'my.ns' }, /Invalid namespace: "my\.ns"/],
    ['storageSize "20 gigs"', { storageSize: '20 gigs' }, /Invalid storageSize: "20 gigs"\. Allowed: a Kubernetes quantity from 1Gi to 64Ti/],
    ['storageSize "0"', { storageSize: '0' }, /Invalid storageSize: "0"/],
    ['empty image', { image: '' }, /Invalid image: ""\. Allowed: a non-empty container image reference/],
    ['empty jobsImage', { jobsImage: ' ' }, /Invalid jobsImage: " "/],
    [
      'memory request over limit',
      { resources: { requests: { memory: '2Gi' }, limits: { memory: '1Gi' } } },
      /Invalid resources\.requests\.memory: "2Gi"\. Allowed: at most the limit "1Gi"/,
    ],
    [
      'maxmemory over the limit',
      { resources: { limits: { memory: '1Gi' } }, maxmemory: '1Gi' },
      /Invalid maxmemory: "1Gi"\. Allowed: less than resources\.limits\.memory/,
    ],
    ['maxmemoryPolicy unknown', { maxmemoryPolicy: 'lru' as any }, /Invalid maxmemoryPolicy: "lru"\. Allowed: one of noeviction/],
    ['password Secret name', { passwordSecret: { name: 'Auth', key: 'password' } }, /Invalid passwordSecret\.name: "Auth"/],
    [
      'pod label value not a string',
      { podLabels: { 'alibabacloud.com/eci': true as any } },
      /Invalid podLabels\["alibabacloud\.com\/eci"\]: true\. Allowed: a label value string/,
    ],
    ['gitops unknown', { gitops: 'jenkins' as any }, /Invalid gitops: "jenkins"\. Allowed: "argocd" or "flux"/],
    ['flux path', { gitops: 'flux', flux: { path: 'dist' } }, /Invalid flux\.path: "dist"/],
    ['misspelt prop', { master: 4 } as any, /Invalid master: 4\. Allowed: no such prop; known props are masters/],
    ['migration rate 0', { migrationSlotsInFlight: 0 }, /Invalid migrationSlotsInFlight: 0\. Allowed: an integer from 1 to 1024/],
    ['key rate negative', { migrationMaxKeysPerSecond: -1 }, /Invalid migrationMaxKeysPerSecond: -1\. Allowed: an integer from 0 to 1000000000/],
    [
      'too many pods',
      { masters: 200, replicasPerMaster: 5 },
      /Invalid masters: 200\. Allowed: a count whose pods, masters \* \(1 \+ replicasPerMaster\) = 1200, stay at most 1000/,
    ],
    // Safe defaults: no cluster open to every pod by accident.
    [
      'no password Secret',
      { passwordSecret: undefined },
      /Invalid passwordSecret: undefined\. Allowed: a Secret reference \{ name, key \} .* needs allowUnauthenticated: true \(docs\/operations\.md, "No open cluster by accident"\)/,
    ],
    [
      'allowUnauthenticated with a password',
      { allowUnauthenticated: true },
      /Invalid allowUnauthenticated: true\. Allowed: false or unset when passwordSecret is set/,
    ],
    ['allowUnauthenticated not a boolean', { allowUnauthenticated: 'yes' as any }, /Invalid allowUnauthenticated: "yes"\. Allowed: true or false/],
    // Every derived name within Kubernetes' limits, naming the prop and the derived name.
    [
      'statefulSetName whose post Job name is 64 characters',
      { statefulSetName: 'a'.repeat(50) },
      /Invalid statefulSetName: "a{50}"\. Allowed: .*Job "a{50}-topology-post" \(64 characters\) must be a DNS-1123 label of at most 63 characters \(Kubernetes puts a Job's name into its pods' job-name label/,
    ],
    [
      'client Service name starting with a digit',
      { clientServiceName: '1cache' },
      /Invalid clientServiceName: "1cache"\. Allowed: .*Service "1cache" \(6 characters\) must be a DNS-1035 label/,
    ],
    [
      'cluster domain making the pod DNS names longer than 253',
      { clusterDomain: `${'x'.repeat(60)}.${'y'.repeat(60)}.${'z'.repeat(60)}.cluster.local` },
      /Invalid clusterDomain: "x{60}\.y{60}\.z{60}\.cluster\.local"\. Allowed: .*pod DNS name "redis-cluster-5\.redis-cluster-svc\.n{63}\.svc\.x{60}/,
    ],
    // Labels the chart sets itself are refused, not silently dropped.
    [
      'pod label the chart sets itself',
      { podLabels: { 'app.kubernetes.io/component': 'cache' } },
      /Invalid podLabels key: "app\.kubernetes\.io\/component"\. Allowed: a label the chart does not set itself \(app\.kubernetes\.io\/component: the chart selects its pods by it\)/,
    ],
    [
      'pod label Kubernetes sets',
      { podLabels: { 'statefulset.kubernetes.io/pod-name': 'x' } },
      /Invalid podLabels key: "statefulset\.kubernetes\.io\/pod-name"\. Allowed: .*Kubernetes sets it/,
    ],
    // Quantities within sane bounds.
    ['storageSize 1e100', { storageSize: '1e100' }, /Invalid storageSize: "1e100"\. Allowed: a Kubernetes quantity from 1Gi to 64Ti/],
    ['storageSize 100Mi', { storageSize: '100Mi' }, /Invalid storageSize: "100Mi"\. Allowed: a Kubernetes quantity from 1Gi to 64Ti/],
    [
      'memory limit 8Ei',
      { resources: { limits: { memory: '8Ei' } } },
      /Invalid resources\.limits\.memory: "8Ei"\. Allowed: a Kubernetes quantity from 1Mi to 4Ti/,
    ],
    [
      'cpu request 1e6',
      { resources: { requests: { cpu: '1e6' } } },
      /Invalid resources\.requests\.cpu: "1e6"\. Allowed: a Kubernetes quantity from 1m to 1024/,
    ],
    ['maxmemory 1e30', { maxmemory: '1e30' }, /Invalid maxmemory: "1e30"\. Allowed: a Kubernetes quantity from 1Mi to 4Ti/],
    // monitoring, field by field.
    ['monitoring not an object', { monitoring: 'yes' as any }, /Invalid monitoring: "yes"\. Allowed: an object/],
    [
      'monitoring misspelt field',
      { monitoring: { servicemonitor: {} } as any },
      /Invalid monitoring\.servicemonitor: \{\}\. Allowed: no such field; known fields are exporterImage/,
    ],
    ['exporter image empty', { monitoring: { exporterImage: '' } }, /Invalid monitoring\.exporterImage: ""\. Allowed: a non-empty container image reference/],
    [
      'exporter memory over its limit',
      { monitoring: { exporterResources: { requests: { memory: '128Mi' }, limits: { memory: '64Mi' } } } },
      /Invalid monitoring\.exporterResources\.requests\.memory: "128Mi"\. Allowed: at most the limit "64Mi"/,
    ],
    [
      'scrape interval not a duration',
      { monitoring: { serviceMonitor: { interval: '30 seconds' } } },
      /Invalid monitoring\.serviceMonitor\.interval: "30 seconds"\. Allowed: a Prometheus duration/,
    ],
    [
      'scrape timeout over the interval',
      { monitoring: { serviceMonitor: { interval: '15s', scrapeTimeout: '1m' } } },
      /Invalid monitoring\.serviceMonitor\.scrapeTimeout: "1m"\. Allowed: at most the interval "15s"/,
    ],
    [
      'ServiceMonitor label the chart sets',
      { monitoring: { serviceMonitor: { labels: { 'app.kubernetes.io/name': 'x' } } } },
      /Invalid monitoring\.serviceMonitor\.labels key: "app\.kubernetes\.io\/name"/,
    ],
    ['rule label value', { monitoring: { prometheusRule: { labels: { release: 'a b' } } } }, /Invalid monitoring\.prometheusRule\.labels\["release"\]: "a b"/],
    [
      'runbook URL with an anchor',
      { monitoring: { prometheusRule: { runbookUrl: 'https://git.example.com/ops.md#alerts' } } },
      /Invalid monitoring\.prometheusRule\.runbookUrl: .*without spaces or "#"/,
    ],
    [
      'memory warning ratio 1.5',
      { monitoring: { prometheusRule: { memoryWarningRatio: 1.5 } } },
      /Invalid monitoring\.prometheusRule\.memoryWarningRatio: 1\.5\. Allowed: a number more than 0 and less than 1/,
    ],
    [
      'metrics scrapers label key',
      { networkPolicy: { metricsScraperPodLabels: { 'not a key': 'x' } } },
      /Invalid networkPolicy\.metricsScraperPodLabels key: "not a key"/,
    ],
  ];

  it('rejects each bad input with a message naming field, value and what is allowed, leaving dist/ untouched', () => {
    const outdir = path.join(tempDir('bad'), 'dist');
    cpSync(distDir, outdir, { recursive: true });
    const before = snapshot(outdir);
    for (const [label, props, message] of badInputs) {
      assert.throws(
        () => synthToDist({ props: { ...SEED_PROPS, ...props }, outdir, topologyBundle: FAKE_BUNDLE }),
        (error: unknown) => error instanceof InvalidPropError && message.test(error.message),
        label,
      );
      assert.deepEqual(snapshot(outdir), before, `${label}: dist/ changed`);
    }
  });

  it('says where it wrote: the --outdir given, not "dist/"', async () => {
    const outdir = path.join(tempDir('outdir'), 'manifests');
    const result = await synthCli({}, ['--outdir', outdir]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, new RegExp(`^synth: wrote 1 file\\(s\\) to ${outdir}/\n  ${outdir}/ created: 3 masters`));
    assert.doesNotMatch(result.stdout, /\bdist\//);
  });

  it('refuses a StatefulSet replacement from the command line unless --allow-statefulset-replacement is given', async () => {
    const outdir = path.join(tempDir('replace-cli'), 'dist');
    assert.equal((await synthCli({ REDIS_CLUSTER_OUTDIR: outdir })).code, 0);
    const before = snapshot(outdir);
    const refused = await synthCli({ REDIS_CLUSTER_OUTDIR: outdir, REDIS_CLUSTER_PROPS_JSON: JSON.stringify({ storageSize: '40Gi' }) });
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^synth: StatefulSet redis-cluster: this change touches spec\.volumeClaimTemplates, which Kubernetes refuses/);
    assert.match(refused.stderr, /\n  1\. grow each existing volume claim in place .*\n  2\. kubectl delete statefulset redis-cluster --cascade=orphan/);
    assert.match(refused.stderr, /\nNothing was written; to write it anyway: npm run synth -- --allow-statefulset-replacement\n$/);
    assert.deepEqual(snapshot(outdir), before);
    const allowed = await synthCli({ REDIS_CLUSTER_OUTDIR: outdir, REDIS_CLUSTER_PROPS_JSON: JSON.stringify({ storageSize: '40Gi' }) }, [
      '--allow-statefulset-replacement',
    ]);
    assert.equal(allowed.code, 0, allowed.stderr);
    assert.notDeepEqual(snapshot(outdir), before);
  });

  it('names REDIS_CLUSTER_PROPS_JSON when it is not JSON, in one line and no stack trace', async () => {
    const outdir = path.join(tempDir('bad-json'), 'dist');
    for (const json of ['{masters: 4}', '[1]']) {
      const result = await synthCli({ REDIS_CLUSTER_OUTDIR: outdir, REDIS_CLUSTER_PROPS_JSON: json });
      assert.equal(result.code, 2);
      const lastLine = result.stderr.trimEnd().split('\n').at(-1)!;
      assert.match(lastLine, /^synth: REDIS_CLUSTER_PROPS_JSON (is not valid JSON|must be a JSON object of props).*Nothing was written\.$/);
      assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
      assert.ok(!existsSync(outdir));
    }
  });

  it('ends a usage error with the error itself, after the usage', async () => {
    for (const argv of [['--outdir'], ['--out-dir', 'x'], ['extra']]) {
      const result = await synthCli({}, argv);
      assert.equal(result.code, 2, argv.join(' '));
      const lines = result.stderr.trimEnd().split('\n');
      assert.match(lines[0], /^usage: npm run synth --/);
      assert.match(lines.at(-1)!, /^synth: .*(--outdir|--out-dir|extra).*Nothing was written\.$/, argv.join(' '));
    }
  });

  it('exits non-zero from the command line on a bad input, printing the message, writing nothing', async () => {
    const outdir = path.join(tempDir('bad-cli'), 'dist');
    cpSync(distDir, outdir, { recursive: true });
    mkdirSync(outdir, { recursive: true });
    const before = snapshot(outdir);
    for (const props of [{ masters: 2 }, { storageSize: '20 gigs' }]) {
      const result = await synthCli({ REDIS_CLUSTER_OUTDIR: outdir, REDIS_CLUSTER_PROPS_JSON: JSON.stringify(props) });
      assert.notEqual(result.code, 0);
      assert.match(result.stderr, /^synth: Invalid (masters: 2|storageSize: "20 gigs")\. Allowed: .*\nNothing was written\.\n$/);
      assert.deepEqual(snapshot(outdir), before);
    }
  });
});
