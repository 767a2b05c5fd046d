import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { InvalidPropError, synthToDist, type RedisClusterChartProps } from '../../charts';
import { readManifestDirectory } from '../../charts/synth-to-dist';
import { distDir, FAKE_BUNDLE, repoRoot, SEED_PROPS, tempDir } from './chart-fixtures';

const run = promisify(execFile);
const tsx = path.join(repoRoot, 'node_modules', '.bin', 'tsx');

/** Runs `tsx main.ts` (what `npm run synth` runs after bundling) with extra env. */
async function synthCli(env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(tsx, ['main.ts'], { cwd: repoRoot, env: { ...process.env, ...env } });
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
    assert.match(created.summary[0], /^dist\/ created: 3 masters x 1 replica = 6 pods/);
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
    const resized = synthToDist({ props: { ...SEED_PROPS, storageSize: '40Gi' }, outdir, topologyBundle: FAKE_BUNDLE });
    assert.ok(
      resized.summary.some((line) => line.startsWith('WARNING: StatefulSet redis-cluster spec.volumeClaimTemplates changed')),
      resized.summary.join('\n'),
    );
    synthToDist({ props: SEED_PROPS, outdir, topologyBundle: FAKE_BUNDLE });
    const same = synthToDist({ props: { ...SEED_PROPS, masters: 3 }, outdir, topologyBundle: FAKE_BUNDLE });
    assert.equal(same.changed, false);
    assert.match(same.summary[0], /^no changes/);
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
    ['storageSize "20 gigs"', { storageSize: '20 gigs' }, /Invalid storageSize: "20 gigs"\. Allowed: a positive Kubernetes quantity/],
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
