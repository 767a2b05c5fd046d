// The Redis pods' scripts with TLS on, run with sh outside a pod against real redis-server processes: the
// chart's own redis.conf (TLS lines included), certificates made with openssl, and the TLS Secret written
// the way the kubelet writes a Secret volume, so a rotation is the same atomic swap a pod sees.
import assert from 'node:assert/strict';
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect } from 'node:tls';
import { promisify } from 'node:util';
import { redisConf, TLS_MOUNT_PATH } from '../../charts/redis-config';
import { resolveProps } from '../../charts/resolved-props';
import { CertificateAuthority, tlsSecretData, type IssuedCertificate } from '../support/certificates';
import { writeVolumeFiles } from '../support/secret-volume';
import { repoRoot, tempDir } from './chart-fixtures';

const run = promisify(execFile);
const startScript = path.join(repoRoot, 'charts', 'scripts', 'start.sh');
const probeScript = path.join(repoRoot, 'charts', 'scripts', 'probe.sh');
const preStopScript = path.join(repoRoot, 'charts', 'scripts', 'pre-stop.sh');
const password = 'tls-test-password';

// 127.<from the pid>.70.<host>, as test/support/redis-pods.ts makes them (70: this file's own).
const secondOctet = 20 + (process.pid % 200);
const address = (host: number) => `127.${secondOctet}.70.${host}`;
const DEADLINE_MS = 60_000;
const CALL_TIMEOUT_MS = 10_000;
const domain = 'redis-cluster-svc.default.svc.cluster.local';

interface Pod {
  readonly name: string;
  readonly ip: string;
  readonly dataDir: string;
  readonly runtimeDir: string;
  /** The mounted TLS Secret. */
  readonly tlsDir: string;
  readonly fqdn: string;
}

describe('start.sh, probe.sh and pre-stop.sh with TLS', () => {
  const root = tempDir('tls-scripts');
  const ca = new CertificateAuthority('redis-cluster test CA', root);
  const otherCa = new CertificateAuthority('a CA nobody trusts', root);
  // What cert-manager issues for the chart's Certificate: every pod by name (one wildcard), server and client auth.
  const podCertificate = (notAfter?: Date) => ca.issue({ commonName: 'redis-cluster', dnsNames: [`*.${domain}`], ...(notAfter ? { notAfter } : {}) });
  // The test's own client certificate (tls-auth-clients yes), apart from the pods' files it swaps.
  const client = ca.issue({ commonName: 'test client' });
  // The chart's redis.conf for a TLS cluster, with the Secret's mount path pointing at each pod's copy.
  const chartConf = redisConf(resolveProps({ tls: { secretName: 'redis-cluster-tls' } }));
  const hostsFile = path.join(root, 'hosts');
  const getent = path.join(root, 'getent');
  writeFileSync(hostsFile, '');
  writeFileSync(
    getent,
    `#!/bin/sh\n[ "$1" = hosts ] || exit 2\nawk -v name="$2" '$2 == name { print $1 " " $2; found = 1; exit } END { exit !found }' "${hostsFile}"\n`,
  );
  chmodSync(getent, 0o755);

  const processes: ChildProcess[] = [];
  after(() => {
    for (const child of processes) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    ca.remove();
  });

  const pod = (name: string, host: number, certificate: IssuedCertificate = podCertificate()): Pod => {
    const base = path.join(root, name);
    const tlsDir = path.join(base, 'tls');
    mkdirSync(path.join(base, 'data'), { recursive: true });
    writeVolumeFiles(tlsDir, tlsSecretData(certificate, ca), 0o440);
    return { name, ip: address(host), dataDir: path.join(base, 'data'), runtimeDir: path.join(base, 'run'), tlsDir, fqdn: `${name}.${domain}` };
  };
  const tlsEnv = (target: Pod) => ({
    TLS_CA_FILE: `${target.tlsDir}/ca.crt`,
    TLS_CERT_FILE: `${target.tlsDir}/tls.crt`,
    TLS_KEY_FILE: `${target.tlsDir}/tls.key`,
  });
  const start = (target: Pod, extra: Record<string, string> = {}) => {
    const config = path.join(target.dataDir, '..', 'redis.conf');
    writeFileSync(config, chartConf.split(TLS_MOUNT_PATH).join(target.tlsDir));
    const child = spawn('sh', [startScript], {
      env: {
        PATH: process.env.PATH!,
        CONFIG_TEMPLATE: config,
        RUNTIME_DIR: target.runtimeDir,
        DATA_DIR: target.dataDir,
        GETENT: getent,
        BIND_ADDRESSES: target.ip,
        DNS_WAIT_SECONDS: '0',
        POD_IP: target.ip,
        POD_NAME: target.name,
        POD_NAMESPACE: 'default',
        HEADLESS_SERVICE: 'redis-cluster-svc',
        CLUSTER_DOMAIN: 'cluster.local',
        REDIS_PASSWORD: password,
        REDIS_CLI: 'redis-cli',
        REDIS_PROBE_HOST: target.ip,
        ...tlsEnv(target),
        ...extra,
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let log = '';
    child.stderr!.on('data', (chunk) => (log += chunk));
    processes.push(child);
    return { child, log: () => log };
  };
  /** redis-cli over TLS as a client with the CA and a client certificate. */
  const cli = async (target: Pod, ...args: string[]) =>
    (
      await run(
        'redis-cli',
        ['--tls', '--cacert', ca.certificateFile, '--cert', client.certificateFile, '--key', client.privateKeyFile, '-h', target.ip, '-p', '6379', ...args],
        { env: { ...process.env, REDISCLI_AUTH: password }, timeout: CALL_TIMEOUT_MS },
      )
    ).stdout.trim();
  const script = async (file: string, target: Pod, args: string[] = [], extra: Record<string, string> = {}) =>
    run('sh', [file, ...args], {
      env: { ...process.env, REDIS_PROBE_HOST: target.ip, REDIS_PASSWORD: password, ...tlsEnv(target), ...extra },
      timeout: DEADLINE_MS + 10_000,
    });
  const probe = (target: Pod, kind: string) =>
    script(probeScript, target, [kind]).then(
      () => true,
      () => false,
    );
  const waitFor = async (what: string, check: () => Promise<boolean>, state: () => Promise<string> | string = () => '') => {
    const started = Date.now();
    while (Date.now() - started < DEADLINE_MS) {
      if (await check().catch(() => false)) return Date.now() - started;
      await sleep(100);
    }
    assert.fail(`timed out after ${DEADLINE_MS / 1000} s waiting for ${what}; state:\n${await state()}`);
  };
  /** The certificate the node serves to a new connection, checked against the CA and for the pod's name as a client would. */
  const servedSerial = (target: Pod) =>
    new Promise<string>((resolve, reject) => {
      const socket = connect({
        host: target.ip,
        port: 6379,
        servername: target.fqdn,
        ca: ca.certificate,
        cert: client.certificate,
        key: client.privateKey,
      });
      socket.once('secureConnect', () => {
        resolve(socket.getPeerCertificate().serialNumber.replace(/^0+/, '').toUpperCase());
        socket.destroy();
      });
      socket.once('error', reject);
      socket.setTimeout(CALL_TIMEOUT_MS, () => socket.destroy(new Error('TLS handshake timed out')));
    });
  const normalized = (serial: string) => serial.replace(/^0+/, '').toUpperCase();
  /** SIGTERM, as the kubelet stops a container (start.sh has exec'd redis-server, which shuts down cleanly). */
  const stop = async (child: ChildProcess) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exit = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), DEADLINE_MS);
    await exit;
    clearTimeout(timer);
  };
  const childrenOf = (pid: number) =>
    spawnSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' })
      .stdout.split('\n')
      .map((line) => line.trim())
      .filter(Boolean)
      .map(Number);
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };

  it('serves TLS only, on 6379: the probes pass over TLS, a plaintext client gets nothing, the config has the TLS lines', async () => {
    const target = pod('redis-cluster-0', 1);
    const { child } = start(target);
    await waitFor('readiness over TLS', () => probe(target, 'readiness'));
    assert.ok(await probe(target, 'liveness'));
    assert.equal(await cli(target, 'ping'), 'PONG');
    const config = readFileSync(path.join(target.runtimeDir, 'redis.conf'), 'utf8').split('\n');
    for (const line of [
      'port 0',
      'tls-port 6379',
      'tls-cluster yes',
      'tls-replication yes',
      'tls-auth-clients yes',
      `tls-ca-cert-file ${target.tlsDir}/ca.crt`,
    ]) {
      assert.ok(config.includes(line), `missing ${line}`);
    }
    const plaintext = await run('redis-cli', ['-h', target.ip, '-p', '6379', 'ping'], { timeout: CALL_TIMEOUT_MS }).then(
      ({ stdout }) => stdout,
      (error: { stdout?: string; stderr?: string }) => `${error.stdout ?? ''}${error.stderr ?? ''}`,
    );
    assert.doesNotMatch(plaintext, /PONG/);
    // Without a client certificate the node refuses (tls-auth-clients yes), even with the password.
    await assert.rejects(
      run('redis-cli', ['--tls', '--cacert', `${target.tlsDir}/ca.crt`, '-h', target.ip, '-p', '6379', 'ping'], {
        env: { ...process.env, REDISCLI_AUTH: password },
        timeout: CALL_TIMEOUT_MS,
      }),
    );
    await stop(child);
  });

  it('loads a renewed certificate from the Secret into the running server within seconds, without a restart; a broken one is refused and kept out', async () => {
    const target = pod('redis-cluster-1', 2);
    const { child, log } = start(target, { TLS_RELOAD_INTERVAL_SECONDS: '1' });
    await waitFor('readiness over TLS', () => probe(target, 'readiness'));
    const processId = await cli(target, 'info', 'server').then((info) => /process_id:(\d+)/.exec(info)![1]);
    const first = readFileSync(`${target.tlsDir}/tls.crt`, 'utf8');
    const firstSerial = await servedSerial(target);

    // A certificate whose key is not the one next to it (a botched manual update): refused, the old one stays.
    const renewed = podCertificate();
    const stray = podCertificate();
    writeVolumeFiles(target.tlsDir, { 'tls.crt': renewed.certificate, 'tls.key': stray.privateKey, 'ca.crt': ca.certificate }, 0o440);
    await waitFor('the watcher to report the refused files', async () => /could not load the changed TLS certificate files/.test(log()), log);
    assert.equal(await servedSerial(target), firstSerial);
    assert.notEqual(first, renewed.certificate);

    // The renewal as cert-manager writes it: the kubelet swaps the whole set at once.
    const swapped = Date.now();
    writeVolumeFiles(target.tlsDir, tlsSecretData(renewed, ca), 0o440);
    const tookMs = await waitFor('the new certificate to be served', async () => (await servedSerial(target)) === normalized(renewed.serial), log);
    console.log(`renewed certificate served ${tookMs} ms after the Secret changed (reload interval 1 s); ${Date.now() - swapped} ms in all`);
    assert.match(log(), /loaded the changed TLS certificate files into the running server/);
    assert.equal(log().match(/could not load/g)?.length, 1, 'a refused set is logged once');
    assert.equal(await cli(target, 'info', 'server').then((info) => /process_id:(\d+)/.exec(info)![1]), processId, 'the server restarted');
    assert.ok(await probe(target, 'readiness'));
    assert.equal(await cli(target, 'config', 'get', 'tls-cert-file'), `tls-cert-file\n${target.tlsDir}/tls.crt`);

    // The watcher goes with its server.
    const watchers = childrenOf(child.pid!);
    assert.ok(watchers.length > 0, 'no watcher runs beside the server');
    await stop(child);
    await waitFor('the watcher to exit after its server', async () => watchers.every((pid) => !alive(pid)));
  });

  it('with an expired certificate the node is not ready but still alive (a restart would not fix a certificate)', async () => {
    const target = pod('redis-cluster-2', 3, podCertificate(new Date(Date.now() - 60_000)));
    const { child } = start(target);
    await waitFor('liveness over TLS', () => probe(target, 'liveness'));
    const { stdout } = await script(probeScript, target, ['liveness']);
    assert.match(stdout, /alive, but TLS failed/);
    assert.equal(await probe(target, 'readiness'), false);
    await stop(child);
  });

  it('with a certificate its CA file does not vouch for, the node is not ready', async () => {
    const target = pod('redis-cluster-5', 6, otherCa.issue({ commonName: 'stranger', dnsNames: [`*.${domain}`] }));
    const { child } = start(target);
    await waitFor('liveness over TLS', () => probe(target, 'liveness'));
    assert.equal(await probe(target, 'readiness'), false);
    const { stdout } = await script(probeScript, target, ['readiness']).catch((error: { stdout: string }) => error);
    assert.match(stdout, /certificate verify failed/);
    await stop(child);
  });

  it("pre-stop hands a master's slots to its replica over TLS (bus and replication over TLS, with client certificates)", async () => {
    const pods = [pod('redis-cluster-3', 4), pod('redis-cluster-4', 5)];
    writeFileSync(hostsFile, pods.map((target) => `${target.ip} ${target.fqdn}\n`).join(''));
    const children = pods.map((target) => start(target).child);
    for (const target of pods) await waitFor(`${target.name} ready`, () => probe(target, 'readiness'));
    const nodes = async () => (await Promise.all(pods.map((target) => cli(target, 'cluster', 'nodes')))).join('\n--\n');
    assert.equal(await cli(pods[0], 'cluster', 'addslotsrange', '0', '16383'), 'OK');
    await cli(pods[0], 'cluster', 'meet', pods[1].ip, '6379');
    const masterId = await cli(pods[0], 'cluster', 'myid');
    await waitFor('the replica to know its master over the TLS bus', async () => (await cli(pods[1], 'cluster', 'nodes')).includes(masterId), nodes);
    assert.equal(await cli(pods[1], 'cluster', 'replicate', masterId), 'OK');
    await waitFor('the replica in sync over TLS', async () => /master_link_status:up/.test(await cli(pods[1], 'info', 'replication')), nodes);
    await waitFor('the master to see its replica', async () => / connected/.test(await cli(pods[0], 'cluster', 'replicas', masterId)), nodes);
    const { stderr } = await script(preStopScript, pods[0], [], { FAILOVER_WAIT_SECONDS: String(DEADLINE_MS / 1000) });
    assert.match(stderr, /handing over to replica .*:6379/);
    assert.match(stderr, /now a replica/);
    assert.match(await cli(pods[1], 'role'), /^master/);
    await Promise.all(children.map(stop));
  });
});
