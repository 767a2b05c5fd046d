// The topology program over TLS against real redis-server processes in TLS mode (client port, cluster bus and
// replication, client certificates required), with certificates made by openssl: bootstrap, grow (MIGRATE
// between the nodes over TLS) and shrink, judged by TLS clients that verify the pods against the CA and by
// `redis-cli --tls --cluster check`; the program's clear refusals for a wrong CA, an expired certificate, a
// certificate for other names and a client certificate the pods refuse, each changing nothing; and the
// redis_exporter sidecar's TLS arguments, run as the chart writes them.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import Redis from 'ioredis';
import { find, SEED_PROPS, synthObjects, tempDir } from '../chart/chart-fixtures.js';
import { CertificateAuthority, tlsSecretData } from '../support/certificates.js';
import { assertClusterShape, readClusterNodes, topologySnapshot } from '../support/cluster-view.js';
import { assertAllKeys, keysOnMasters, loadKeys, verifyKeysWith, type KeySet } from '../support/keyspace.js';
import { LocalRedisPods } from '../support/redis-pods.js';
import { writeVolumeFiles } from '../support/secret-volume.js';
import { describeRun, ensureBundle, runTopology, runTopologyOk, topologyArgs } from '../support/topology-cli.js';

const password = 'tls-integration-Pa55word';
const env = { REDIS_PASSWORD: password };
const domain = 'redis-cluster-svc.default.svc.cluster.local';
const root = tempDir('tls-integration');
const ca = new CertificateAuthority('redis-cluster test CA', root);
const otherCa = new CertificateAuthority('a CA the pods do not use', root);
/** The pods' TLS Secret, mounted the way the kubelet writes it. */
const secretDir = path.join(root, 'secret');
const files = { caFile: path.join(secretDir, 'ca.crt'), certFile: path.join(secretDir, 'tls.crt'), keyFile: path.join(secretDir, 'tls.key') };
const pods = new LocalRedisPods({ subnet: 71, password, tls: files });
const keys: KeySet = { prefix: 'tls', count: 5000, valueSize: 64 };
/** What the chart gives the Jobs: the CA and, as the pods require client certificates, the pods' own certificate. */
const tlsArgs = ['--tls-ca-file', files.caFile, '--tls-cert-file', files.certFile, '--tls-key-file', files.keyFile];
const podName = (ordinal: number) => `redis-cluster-${ordinal}.${domain}`;
const DEADLINE_MS = 30_000;

before(async () => {
  ensureBundle();
  // As cert-manager issues the chart's Certificate (every pod by one wildcard), plus the pods' IPs: the test's
  // clients dial IPs, and --pods given as IPs is checked against them unless --tls-server-name says otherwise.
  const issued = ca.issue({
    commonName: 'redis-cluster',
    dnsNames: [`*.${domain}`],
    ipAddresses: Array.from({ length: 10 }, (_, ordinal) => pods.hostOf(ordinal)),
  });
  writeVolumeFiles(secretDir, tlsSecretData(issued, ca), 0o600);
  await pods.startMany(6);
});

after(async () => {
  await pods.destroy();
  ca.remove();
});

/** A run that must fail: exit 1, and the last lines name the pod and the reason. */
async function refusedRun(args: string[], reason: RegExp): Promise<string> {
  const run = await runTopology(args, { env });
  assert.equal(run.code, 1, describeRun(run));
  assert.match(run.stderr, reason, describeRun(run));
  assert.match(run.stderr, /what to do: /, describeRun(run));
  return run.stderr;
}

describe('the topology program over TLS', () => {
  test('bootstrap: 6 TLS-only pods become 3 masters x 1 replica; redis-cli --tls --cluster check agrees; no plaintext port answers', async () => {
    const run = await runTopologyOk([...topologyArgs({ phase: 'post', masters: 3, replicasPerMaster: 1, pods: pods.addresses(6) }), ...tlsArgs], { env });
    assert.doesNotMatch(run.stdout + run.stderr, new RegExp(password));
    // assertClusterShape reads every pod over TLS and runs `redis-cli --tls --cacert ... --cluster check`.
    await assertClusterShape(pods, { masters: 3, replicasPerMaster: 1 });
    // Replicas synced over TLS; the bus links are TLS too (a plaintext node could not have joined).
    const replica = pods.connect(1);
    try {
      assert.match(String(await replica.info('replication')), /master_link_status:up/);
    } finally {
      replica.disconnect();
    }
    const plaintext = new Redis({
      host: pods.hostOf(0),
      port: pods.port,
      password,
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      connectTimeout: 2000,
    });
    plaintext.on('error', () => {});
    await assert.rejects(plaintext.connect().then(() => plaintext.ping()));
    plaintext.disconnect();
  });

  test('a client that verifies the pods against the CA (by their DNS name) writes keys; grow to 4 masters moves them over TLS, every key stays', async () => {
    // An application's cluster client: the CA, its own certificate, and the name every pod's certificate carries.
    const application = pods.clusterClient({
      redisOptions: { tls: { ...pods.tlsOptions(), servername: podName(0) } },
    });
    try {
      await loadKeys(application, keys);
    } finally {
      await application.quit();
    }
    await pods.startMany(2, 6);
    const run = await runTopologyOk([...topologyArgs({ phase: 'post', masters: 4, replicasPerMaster: 1, pods: pods.addresses(8) }), ...tlsArgs], { env });
    const [, moved] = /migrated \d+ slots and (\d+) keys/.exec(run.stdout) ?? [];
    assert.ok(Number(moved) > 500, `keys moved with MIGRATE over tls-cluster: ${run.stdout.slice(-400)}`);
    await assertClusterShape(pods, { masters: 4, replicasPerMaster: 1 });
    await assertAllKeys(pods, keys);
    assert.equal(await keysOnMasters(pods, [0, 1, 2, 3, 4, 5, 6, 7]), keys.count);
  });

  test('--tls-server-name checks pods given as IPs against their DNS names; a name the certificate lacks is refused, naming the pod', async () => {
    const pattern = `redis-cluster-{ordinal}.${domain}`;
    const run = await runTopologyOk(
      [...topologyArgs({ phase: 'post', masters: 4, replicasPerMaster: 1, pods: pods.addresses(8) }), ...tlsArgs, '--tls-server-name', pattern],
      { env },
    );
    assert.match(run.stdout, /already has the desired shape/);
    const stderr = await refusedRun(
      [
        ...topologyArgs({ phase: 'post', masters: 4, replicasPerMaster: 1, pods: pods.addresses(8) }),
        ...tlsArgs,
        '--tls-server-name',
        'redis-{ordinal}.example.org',
      ],
      /pod 0 \(127\.[\d.]+:6379\): its TLS certificate is not for the name the program checked: .*redis-0\.example\.org/,
    );
    assert.match(stderr, /--tls-server-name/);
  });

  test('a wrong CA: refused before anything changes, naming the pod and that its certificate could not be verified', async () => {
    const before = await topologySnapshot(pods, [0, 1, 2, 3, 4, 5, 6, 7]);
    const args = [...topologyArgs({ phase: 'all', masters: 3, replicasPerMaster: 1, pods: pods.addresses(8) }), ...tlsArgs];
    args[args.indexOf('--tls-ca-file') + 1] = otherCa.certificateFile;
    const stderr = await refusedRun(
      args,
      new RegExp(
        `pod 0 \\(127\\.[\\d.]+:6379\\): its TLS certificate could not be verified against the CA in ${otherCa.certificateFile.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: .*\\((UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN)\\)`,
      ),
    );
    assert.match(stderr, /what to do: the CA file must hold the CA that signed the pods' certificates/);
    assert.deepEqual(await topologySnapshot(pods, [0, 1, 2, 3, 4, 5, 6, 7]), before);
  });

  test('a client certificate the pods refuse (expired, or none at all): refused, naming the pod, nothing changed', async () => {
    const before = await topologySnapshot(pods, [0, 1, 2, 3, 4, 5, 6, 7]);
    const expired = ca.issue({ commonName: 'topology job', notBefore: new Date(Date.now() - 3 * 86400_000), notAfter: new Date(Date.now() - 86400_000) });
    const shrink = topologyArgs({ phase: 'all', masters: 3, replicasPerMaster: 1, pods: pods.addresses(8) });
    await refusedRun(
      [...shrink, '--tls-ca-file', files.caFile, '--tls-cert-file', expired.certificateFile, '--tls-key-file', expired.privateKeyFile],
      // TLS 1.3: the pod's alert may arrive first, or the connection may just be reset.
      /pod 0 \(127\.[\d.]+:6379\) (refused the program's TLS client certificate: .*certificate expired\n.*what to do: give --tls-cert-file a certificate, valid now|is unreachable: .*\n.*if the pods refused the client certificate \(--tls-cert-file\), that it is valid now)/,
    );
    // The pods just drop a client without a certificate; the hint says what they may want.
    await refusedRun(
      [...shrink, '--tls-ca-file', files.caFile],
      /pod 0 \(127\.[\d.]+:6379\) (is unreachable: .*|refused the program's TLS client certificate: .*)\n.*(if the pods require client certificates \(tls-auth-clients yes\), give the program one|pass --tls-cert-file)/,
    );
    // Without TLS at all the hint says what the pods may want.
    await refusedRun(shrink, /if the pods serve TLS, give the program their CA \(--tls-ca-file\)/);
    assert.deepEqual(await topologySnapshot(pods, [0, 1, 2, 3, 4, 5, 6, 7]), before);
  });

  test('shrink back to 3 masters over TLS: pre empties pods 6 and 7, post rebalances, every key stays', async () => {
    await runTopologyOk([...topologyArgs({ phase: 'pre', masters: 3, replicasPerMaster: 1, pods: pods.addresses(8) }), ...tlsArgs], { env });
    for (const ordinal of [6, 7]) assert.deepEqual((await readClusterNodes(pods, ordinal)).find((entry) => entry.myself)!.slots, []);
    await pods.remove(7);
    await pods.remove(6);
    await runTopologyOk([...topologyArgs({ phase: 'post', masters: 3, replicasPerMaster: 1, pods: pods.addresses(6) }), ...tlsArgs], { env });
    await assertClusterShape(pods, { masters: 3, replicasPerMaster: 1 });
    // Read back by an independent client that trusts only the CA and checks each pod by name.
    const reader = pods.clusterClient({ redisOptions: { tls: { ...pods.tlsOptions(), servername: podName(3) } } });
    try {
      const result = await verifyKeysWith(reader, keys, 1000);
      assert.equal(result.missing + result.wrong, 0, result.examples.join(', '));
    } finally {
      await reader.quit();
    }
  });
});

describe('pods whose certificate has expired', () => {
  const expiredDir = path.join(root, 'expired-secret');
  const expiredPods = new LocalRedisPods({
    subnet: 72,
    password,
    tls: { caFile: path.join(expiredDir, 'ca.crt'), certFile: path.join(expiredDir, 'tls.crt'), keyFile: path.join(expiredDir, 'tls.key') },
  });
  before(async () => {
    const expired = ca.issue({
      commonName: 'redis-cluster',
      dnsNames: [`*.${domain}`],
      ipAddresses: [0, 1, 2].map((ordinal) => expiredPods.hostOf(ordinal)),
      notBefore: new Date(Date.now() - 3 * 86400_000),
      notAfter: new Date(Date.now() - 86400_000),
    });
    writeVolumeFiles(expiredDir, tlsSecretData(expired, ca), 0o600);
    // The pods start; the helper's own PING check refuses their certificate, which is the point.
    await Promise.all(
      [0, 1, 2].map(async (ordinal) => {
        const started = expiredPods.start(ordinal).catch((error: Error) => error);
        const outcome = await started;
        if (outcome instanceof Error && !/did not answer PING|certificate/i.test(outcome.message)) throw outcome;
      }),
    );
  });
  after(async () => {
    await expiredPods.destroy();
  });

  test('the program refuses, naming the pod and that its certificate has expired, and forms no cluster', async () => {
    const stderr = await refusedRun(
      [
        ...topologyArgs({ phase: 'post', masters: 3, replicasPerMaster: 0, pods: expiredPods.addresses(3) }),
        '--tls-ca-file',
        path.join(expiredDir, 'ca.crt'),
        '--tls-cert-file',
        files.certFile,
        '--tls-key-file',
        files.keyFile,
      ],
      /pod \d \(127\.[\d.]+:6379\): its TLS certificate has expired \(certificate has expired\)/,
    );
    assert.match(stderr, /what to do: renew it in the pods' TLS Secret/);
    for (const ordinal of [0, 1, 2]) {
      // Looked at without verifying (the point is what the program left, not the certificate).
      const client = new Redis({
        host: expiredPods.hostOf(ordinal),
        port: expiredPods.port,
        password,
        tls: { ...pods.tlsOptions(), rejectUnauthorized: false },
        maxRetriesPerRequest: 1,
      });
      try {
        const nodes = String(await client.call('CLUSTER', 'NODES'))
          .trim()
          .split('\n');
        assert.equal(nodes.length, 1, `pod ${ordinal} met another node: ${nodes.join(' | ')}`);
        assert.match(String(await client.call('CLUSTER', 'INFO')), /cluster_slots_assigned:0/);
      } finally {
        client.disconnect();
      }
    }
  });
});

describe('pods without TLS, the program with it', () => {
  const plainPods = new LocalRedisPods({ subnet: 73, password });
  before(async () => {
    await plainPods.startMany(3);
  });
  after(async () => {
    await plainPods.destroy();
  });

  test('the run stops naming the pod, and the hint says to check that it serves TLS; nothing formed', async () => {
    // A plaintext server leaves the TLS handshake unanswered: the connection times out.
    await refusedRun(
      [...topologyArgs({ phase: 'post', masters: 3, replicasPerMaster: 0, pods: plainPods.addresses(3) }), ...tlsArgs],
      /pod \d \(127\.[\d.]+:6379\) (is unreachable|does not speak TLS).*\n.*(that it serves TLS on port 6379 \(TLS is on for the program\)|but not for the pods)/,
    );
    for (const ordinal of [0, 1, 2]) assert.equal((await readClusterNodes(plainPods, ordinal)).length, 1);
  });
});

describe('the redis_exporter sidecar with TLS, run with the arguments the chart gives it', () => {
  const hasUnshare = process.getuid?.() === 0 && spawnSync('unshare', ['--version']).status === 0;
  const exporterBinary = process.env.REDIS_EXPORTER ?? 'prometheus-redis-exporter';
  const hasExporter = spawnSync(exporterBinary, ['--version']).status === 0;
  // Missing prerequisites fail the test (CI runs as root and installs the exporter): never a silent skip.
  const missing = !hasUnshare
    ? 'needs root and unshare (a private /etc/hosts for the pod name)'
    : !hasExporter
      ? `${exporterBinary} is not installed (.ci/run installs it)`
      : undefined;
  let exporter: ChildProcess | undefined;
  let log = '';
  after(() => {
    exporter?.kill('SIGKILL');
  });

  test('it scrapes its own pod over rediss:// by the pod DNS name, verifying the certificate and presenting the pod one', async () => {
    if (missing) assert.fail(missing);
    const objects = synthObjects({ ...SEED_PROPS, monitoring: {}, tls: { secretName: 'redis-cluster-tls' } });
    const podSpec = find(objects, 'StatefulSet', 'redis-cluster').spec.template.spec;
    const sidecar = podSpec.containers.find((container: { name: string }) => container.name === 'metrics');
    const configDir = path.join(root, 'exporter-config');
    mkdirSync(configDir, { recursive: true });
    for (const [key, content] of Object.entries(find(objects, 'ConfigMap', 'redis-cluster').data as Record<string, string>)) {
      writeFileSync(path.join(configDir, key), content);
    }
    const port = 21000 + (process.pid % 1000);
    const podEnv: Record<string, string> = { POD_NAME: 'redis-cluster-0', POD_NAMESPACE: 'default', REDIS_PASSWORD: password };
    // Only what differs outside a pod is mapped: the mounts' paths and the listen address; $(VAR) as Kubernetes expands it.
    const args = (sidecar.args as string[]).map((arg) => {
      const expanded = arg.replace(/\$\((\w+)\)/g, (_, name: string) => podEnv[name]);
      if (expanded.startsWith('--web.listen-address=')) return `--web.listen-address=127.0.0.1:${port}`;
      return expanded.replace('/etc/redis-cluster-tls/', `${secretDir}/`).replace('/etc/redis-cluster/', `${configDir}/`);
    });
    assert.ok(args.includes(`--redis.addr=rediss://redis-cluster-0.${domain}:6379`), args.join(' '));
    const hosts = path.join(root, 'exporter-hosts');
    writeFileSync(hosts, `127.0.0.1 localhost\n${pods.hostOf(0)} redis-cluster-0.${domain}\n`);
    exporter = spawn(
      'unshare',
      ['--mount', '--propagation', 'private', '--', 'sh', '-c', `mount --bind '${hosts}' /etc/hosts && exec "$@"`, 'exporter', exporterBinary, ...args],
      {
        env: { PATH: process.env.PATH!, ...podEnv },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    exporter.stdout!.on('data', (chunk) => (log += chunk));
    exporter.stderr!.on('data', (chunk) => (log += chunk));
    const deadline = Date.now() + DEADLINE_MS;
    let metrics = '';
    for (;;) {
      metrics = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(5000) })
        .then((response) => response.text())
        .catch(() => '');
      if (/^redis_up 1$/m.test(metrics) && /^redis_cluster_state 1$/m.test(metrics)) break;
      if (Date.now() > deadline)
        assert.fail(
          `no redis_up 1 over TLS in ${DEADLINE_MS / 1000} s:\n${metrics
            .split('\n')
            .filter((line) => line.startsWith('redis_up'))
            .join('\n')}\n${log}`,
        );
      await sleep(200);
    }
    assert.match(metrics, /^redis_script_values\{key="cluster_owned_slots"\} \d+/m);
  });
});
