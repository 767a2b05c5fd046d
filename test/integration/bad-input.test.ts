// Bad input and unusable pods: each a non-zero exit with a message naming the problem, and
// the cluster exactly as it was. Passwords work from --password-file and REDIS_PASSWORD and
// never show in the output, right or wrong.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { LocalRedisPods } from '../support/redis-pods.js';
import { assertClusterShape, readClusterNodes, topologySnapshot } from '../support/cluster-view.js';
import { describeRun, ensureBundle, runTopology, runTopologyOk, topologyArgs, type RunOptions, type TopologyRun } from '../support/topology-cli.js';

const range = (count: number, from = 0) => Array.from({ length: count }, (_, index) => from + index);
const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Runs the program expecting refusal: non-zero exit (not a timeout or crash by signal) whose output matches. */
async function assertRefused(pods: LocalRedisPods, args: string[], message: RegExp, options: RunOptions = {}): Promise<TopologyRun> {
  const ordinals = range(6);
  const before = await topologySnapshot(pods, ordinals);
  const run = await runTopology(args, { timeoutMs: 120_000, ...options });
  assert.equal(run.timedOut, false, describeRun(run));
  assert.equal(run.signal, null, describeRun(run));
  assert.notEqual(run.code, 0, `expected a refusal: ${describeRun(run)}`);
  assert.match(run.stdout + run.stderr, message, describeRun(run));
  assert.doesNotMatch(run.stdout + run.stderr, /^\s+at .+:\d+:\d+\)?$/m, `a stack trace is not a clear message: ${describeRun(run)}`);
  assert.deepEqual(await topologySnapshot(pods, ordinals), before, `the cluster changed: ${describeRun(run)}`);
  const errorLine = (run.stdout + run.stderr).split('\n').find((line) => /ERROR/.test(line)) ?? '(no ERROR line)';
  console.log(`refused (exit ${run.code}): ${errorLine}`);
  return run;
}

describe('7. bad input on a healthy cluster', () => {
  const pods = new LocalRedisPods({ subnet: 45 });
  const nonClusterPods = new LocalRedisPods({ subnet: 47, clusterEnabled: false });
  const post = (masters: number | string, replicasPerMaster: number | string, addresses = pods.addresses(6)) =>
    topologyArgs({ phase: 'post', masters, replicasPerMaster, pods: addresses });

  before(async () => {
    ensureBundle();
    await pods.startMany(6);
    await runTopologyOk(post(3, 1));
    await assertClusterShape(pods, { masters: 3, replicasPerMaster: 1 });
  });

  after(async () => {
    await nonClusterPods.destroy();
    await pods.destroy();
  });

  test('M < 3', async () => {
    await assertRefused(pods, post(2, 1, pods.addresses(4)), /masters.*\b2\b/i);
    await assertRefused(pods, topologyArgs({ phase: 'pre', masters: 1, replicasPerMaster: 1, pods: pods.addresses(6) }), /masters.*\b1\b/i);
  });

  test('M not an integer', async () => {
    await assertRefused(pods, post('3.5', 1), /masters.*3\.5/i);
    await assertRefused(pods, post('three', 1), /masters.*three/i);
  });

  test('R out of range', async () => {
    await assertRefused(pods, post(3, 6), /replicas.*\b6\b/i);
    await assertRefused(pods, post(3, '-1'), /replicas.*-1/i);
    await assertRefused(pods, ['--phase', 'post', '--masters', '3', '--pods', pods.addresses(6).join(',')], /replicas.*-1/i, {
      env: { REPLICAS_PER_MASTER: '-1' },
    });
  });

  // post waits (bounded) for pods to appear and answer; keep that wait short here.
  const shortWait = { env: { POD_WAIT_TIMEOUT_SECONDS: '3' } };

  test('fewer pods than M*(1+R) for post', async () => {
    await assertRefused(pods, post(4, 1), /\b8 pods\b/i, shortWait);
    await assertRefused(pods, post(3, 2), /\b9 pods\b/i, shortWait);
  });

  test('an unreachable pod', async () => {
    const nobody = `${pods.hostOf(249)}:${pods.port}`;
    const addresses = [...pods.addresses(5), nobody];
    await assertRefused(pods, post(3, 1, addresses), new RegExp(escape(nobody)), shortWait);
    await assertRefused(pods, topologyArgs({ phase: 'pre', masters: 3, replicasPerMaster: 1, pods: addresses }), new RegExp(escape(nobody)), shortWait);
  });

  test('a node that is not in cluster mode', async () => {
    await nonClusterPods.startMany(2);
    const standalone = nonClusterPods.connect(0);
    standalone.on('error', () => {});
    try {
      await standalone.set('standalone-key', 'untouched');
      const addresses = [...pods.addresses(6), ...nonClusterPods.addresses(2)];
      await assertRefused(
        pods,
        post(4, 1, addresses),
        new RegExp(`cluster[\\s\\S]*${escape(nonClusterPods.addresses(1)[0])}|${escape(nonClusterPods.addresses(1)[0])}[\\s\\S]*cluster`, 'i'),
      );
      assert.equal(await standalone.get('standalone-key'), 'untouched');
      assert.equal(await standalone.dbsize(), 1);
    } finally {
      standalone.disconnect();
    }
  });

  test('the cluster is still healthy after all of it', async () => {
    await assertClusterShape(pods, { masters: 3, replicasPerMaster: 1 });
    for (const ordinal of range(6)) assert.equal((await readClusterNodes(pods, ordinal)).length, 6);
  });
});

describe('7. passwords', () => {
  const password = 'correct-horse-battery-s3cret';
  const wrongPassword = 'wrong-staple-0ther';
  const pods = new LocalRedisPods({ subnet: 46, password });
  const secretsDir = mkdtempSync(path.join(tmpdir(), 'topology-secrets-'));
  const passwordFile = path.join(secretsDir, 'password');
  const wrongPasswordFile = path.join(secretsDir, 'wrong-password');
  const args = (options: { passwordFile?: string } = {}) =>
    topologyArgs({ phase: 'post', masters: 3, replicasPerMaster: 1, pods: pods.addresses(6), ...options });
  const assertNoSecret = (run: TopologyRun) => {
    for (const secret of [password, wrongPassword]) {
      assert.ok(!(run.stdout + run.stderr).includes(secret), `the output shows a password: ${describeRun(run)}`);
    }
  };

  before(async () => {
    ensureBundle();
    // A Kubernetes Secret mounted as a file usually has no trailing newline; tolerate one anyway.
    writeFileSync(passwordFile, `${password}\n`, { mode: 0o600 });
    writeFileSync(wrongPasswordFile, wrongPassword, { mode: 0o600 });
    await pods.startMany(6);
  });

  after(async () => {
    await pods.destroy();
    rmSync(secretsDir, { recursive: true, force: true });
  });

  test('--password-file bootstraps a password-protected cluster and never prints it', async () => {
    const run = await runTopologyOk(args({ passwordFile }));
    assertNoSecret(run);
    await assertClusterShape(pods, { masters: 3, replicasPerMaster: 1 });
  });

  test('REDIS_PASSWORD works and is never printed', async () => {
    const run = await runTopologyOk(args(), { env: { REDIS_PASSWORD: password } });
    assertNoSecret(run);
  });

  test('a wrong password: refused, named as the problem, neither password printed', async () => {
    assertNoSecret(await assertRefused(pods, args(), /auth|password/i, { env: { REDIS_PASSWORD: wrongPassword } }));
    assertNoSecret(await assertRefused(pods, args({ passwordFile: wrongPasswordFile }), /auth|password/i));
  });

  test('no password for a protected cluster: refused', async () => {
    assertNoSecret(await assertRefused(pods, args(), /auth|password/i));
  });
});
