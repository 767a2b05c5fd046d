// The Redis pods' start and probe scripts, run with sh outside a pod: paths and tools come from the
// variables at the top of start.sh, DNS from a getent stand-in reading a hosts file.
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { repoRoot, tempDir } from './chart-fixtures';

const run = promisify(execFile);
const startScript = path.join(repoRoot, 'charts', 'scripts', 'start.sh');
const probeScript = path.join(repoRoot, 'charts', 'scripts', 'probe.sh');
const preStopScript = path.join(repoRoot, 'charts', 'scripts', 'pre-stop.sh');
const redisConfTemplate =
  'port 6379\ncluster-enabled yes\ncluster-config-file nodes.conf\ncluster-node-timeout 5000\nappendonly yes\nprotected-mode no\ndir /data\n';

// Addresses for the real servers, as test/support/redis-pods.ts makes them: 127.<from the pid>.<this
// file's own third octet>.<host>, so a concurrent or crashed run elsewhere never holds the same one.
const secondOctet = 20 + (process.pid % 200);
const subnet = 50;
const address = (host: number) => `127.${secondOctet}.${subnet}.${host}`;
const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** How long a condition may take on a loaded machine before the test gives up. */
const DEADLINE_SECONDS = 60;
/** Bound on one redis-cli or script call. */
const CALL_TIMEOUT_MS = 10_000;

interface Pod {
  readonly name: string;
  readonly ip: string;
  readonly dataDir: string;
  readonly runtimeDir: string;
}

/** A sandbox: config template, hosts file + getent stand-in, one data and runtime dir per pod. */
function sandbox() {
  const root = tempDir('start-script');
  const template = path.join(root, 'redis.conf');
  writeFileSync(template, redisConfTemplate);
  const hostsFile = path.join(root, 'hosts');
  writeFileSync(hostsFile, '');
  const getent = path.join(root, 'getent');
  writeFileSync(
    getent,
    `#!/bin/sh\n[ "$1" = hosts ] || exit 2\nawk -v name="$2" '$2 == name { print $1 " " $2; found = 1; exit } END { exit !found }' "${hostsFile}"\n`,
  );
  chmodSync(getent, 0o755);
  const pod = (name: string, ip: string): Pod => {
    const dataDir = path.join(root, name, 'data');
    const runtimeDir = path.join(root, name, 'run');
    mkdirSync(dataDir, { recursive: true });
    return { name, ip, dataDir, runtimeDir };
  };
  const env = (target: Pod, extra: Record<string, string> = {}) => ({
    PATH: process.env.PATH!,
    CONFIG_TEMPLATE: template,
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
    ...extra,
  });
  const fqdn = (name: string) => `${name}.redis-cluster-svc.default.svc.cluster.local`;
  const setHosts = (pods: readonly Pod[]) => writeFileSync(hostsFile, pods.map((p) => `${p.ip} ${fqdn(p.name)}\n`).join(''));
  return { root, pod, env, fqdn, setHosts };
}

describe('start.sh', () => {
  it('writes the effective config with the pod identity and the password, readable by its owner only', async () => {
    const box = sandbox();
    const pod = box.pod('redis-cluster-0', '10.0.0.7');
    const fakeServer = path.join(box.root, 'fake-redis-server');
    writeFileSync(fakeServer, '#!/bin/sh\necho "started with $*"\n');
    chmodSync(fakeServer, 0o755);
    const { stdout } = await run('sh', [startScript], { env: box.env(pod, { REDIS_SERVER: fakeServer, REDIS_PASSWORD: 'pa"ss\\word' }) });
    const effective = path.join(pod.runtimeDir, 'redis.conf');
    assert.equal(stdout.trim(), `started with ${effective}`);
    const config = readFileSync(effective, 'utf8');
    assert.ok(config.startsWith(redisConfTemplate));
    for (const line of [
      'bind 10.0.0.7',
      `dir ${pod.dataDir}`,
      'cluster-announce-ip 10.0.0.7',
      `cluster-announce-hostname ${box.fqdn('redis-cluster-0')}`,
      'requirepass "pa\\"ss\\\\word"',
      'masterauth "pa\\"ss\\\\word"',
    ]) {
      assert.ok(config.split('\n').includes(line), `missing line: ${line}\n${config}`);
    }
    assert.equal(statSync(effective).mode & 0o777, 0o600);
  });

  it('leaves requirepass out without REDIS_PASSWORD', async () => {
    const box = sandbox();
    const pod = box.pod('redis-cluster-1', '10.0.0.8');
    await run('sh', [startScript], { env: box.env(pod, { REDIS_SERVER: 'true' }) });
    assert.doesNotMatch(readFileSync(path.join(pod.runtimeDir, 'redis.conf'), 'utf8'), /requirepass|masterauth/);
  });

  it('rewrites nodes.conf addresses from DNS: own line to POD_IP, peers to their current address, unknown peers kept', async () => {
    const box = sandbox();
    const pod = box.pod('redis-cluster-0', '10.0.1.10');
    const moved = box.pod('redis-cluster-1', '10.0.1.11');
    box.setHosts([pod, moved]);
    const lines = [
      `aaaa 10.0.0.10:6379@16379,${box.fqdn('redis-cluster-0')} myself,master - 0 0 1 connected 0-5460`,
      `bbbb 10.0.0.11:6379@16379,${box.fqdn('redis-cluster-1')},tls-port=0,shard-id=abc master - 0 1700000000000 2 connected 5461-10922`,
      `cccc 10.0.0.12:6379@16379,${box.fqdn('redis-cluster-2')} slave bbbb 0 1700000000000 2 connected`,
      'dddd 10.0.0.13:6379@16379 master - 0 1700000000000 3 connected 10923-16383',
      'vars currentEpoch 3 lastVoteEpoch 0',
    ];
    writeFileSync(path.join(pod.dataDir, 'nodes.conf'), `${lines.join('\n')}\n`);
    const { stderr } = await run('sh', [startScript], { env: box.env(pod, { REDIS_SERVER: 'true' }) });
    assert.match(stderr, /keeping the saved address of peers whose name does not resolve: redis-cluster-2\./);
    assert.deepEqual(readFileSync(path.join(pod.dataDir, 'nodes.conf'), 'utf8').split('\n'), [
      `aaaa 10.0.1.10:6379@16379,${box.fqdn('redis-cluster-0')} myself,master - 0 0 1 connected 0-5460`,
      `bbbb 10.0.1.11:6379@16379,${box.fqdn('redis-cluster-1')},tls-port=0,shard-id=abc master - 0 1700000000000 2 connected 5461-10922`,
      lines[2],
      lines[3],
      lines[4],
      '',
    ]);
  });

  it('refuses to start without the pod identity', async () => {
    const box = sandbox();
    const pod = box.pod('redis-cluster-0', '10.0.0.7');
    const env: Record<string, string> = box.env(pod, { REDIS_SERVER: 'true' });
    delete env.POD_IP;
    await assert.rejects(run('sh', [startScript], { env }), /POD_IP must be set/);
  });
});

describe('start.sh and probe.sh with redis-server', () => {
  const processes: ChildProcess[] = [];
  after(() => {
    for (const child of processes) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });

  const box = sandbox();
  const start = (pod: Pod) => {
    const child = spawn('sh', [startScript], { env: box.env(pod, { REDIS_PASSWORD: 'test-password' }), stdio: 'ignore' });
    processes.push(child);
    return child;
  };
  const cli = async (pod: Pod, ...args: string[]) =>
    (
      await run('redis-cli', ['-h', pod.ip, '-p', '6379', ...args], {
        env: { ...process.env, REDISCLI_AUTH: 'test-password' },
        timeout: CALL_TIMEOUT_MS,
      })
    ).stdout.trim();
  const probe = async (pod: Pod, kind: string) => {
    try {
      await run('sh', [probeScript, kind], {
        env: { ...process.env, REDIS_PROBE_HOST: pod.ip, REDIS_PASSWORD: 'test-password' },
        timeout: CALL_TIMEOUT_MS,
      });
      return true;
    } catch {
      return false;
    }
  };
  /** Polls `check` until it holds; past the deadline, fails naming what it waited for and the cluster's state. */
  const waitFor = async (what: string, check: () => Promise<boolean>, state: () => Promise<string>) => {
    const started = Date.now();
    while (Date.now() - started < DEADLINE_SECONDS * 1000) {
      if (await check().catch(() => false)) return;
      await sleep(100);
    }
    assert.fail(`timed out after ${DEADLINE_SECONDS} s waiting for ${what}; state:\n${await state().catch((error) => String(error))}`);
  };
  const exited = (child: ChildProcess) => child.exitCode !== null || child.signalCode !== null;
  const stop = async (pod: Pod, child: ChildProcess) => {
    await cli(pod, 'shutdown').catch(() => undefined);
    if (exited(child)) return;
    const exit = new Promise((resolve) => child.once('exit', resolve));
    const timer = setTimeout(() => child.kill('SIGKILL'), DEADLINE_SECONDS * 1000);
    await exit;
    clearTimeout(timer);
  };

  it('starts a node that is ready before any cluster exists, then heals peer addresses after every pod got a new IP', async () => {
    const first = [box.pod('redis-cluster-0', address(1)), box.pod('redis-cluster-1', address(2))];
    box.setHosts(first);
    const children = first.map(start);
    const clusterNodes = (pods: Pod[]) => async () => (await Promise.all(pods.map((pod) => cli(pod, 'cluster', 'nodes')))).join('\n--\n');
    await waitFor('both nodes ready', async () => (await probe(first[0], 'readiness')) && (await probe(first[1], 'readiness')), clusterNodes(first));
    assert.ok(await probe(first[0], 'liveness'));
    assert.match(await cli(first[0], 'cluster', 'info'), /cluster_state:fail/);
    assert.equal(await cli(first[0], 'config', 'get', 'cluster-announce-hostname'), `cluster-announce-hostname\n${box.fqdn('redis-cluster-0')}`);

    await cli(first[0], 'cluster', 'meet', first[1].ip, '6379');
    const peerLine = async (pod: Pod) => (await cli(pod, 'cluster', 'nodes')).split('\n').find((line) => !line.includes('myself')) ?? '';
    await waitFor(
      'the nodes to know each other by name',
      async () =>
        (await peerLine(first[0])).includes(`,${box.fqdn('redis-cluster-1')} `) && (await peerLine(first[1])).includes(`,${box.fqdn('redis-cluster-0')} `),
      clusterNodes(first),
    );
    // Redis saves nodes.conf on topology events, not when it learns a hostname; the topology Job ends
    // with CLUSTER SAVECONFIG on every node for that reason.
    for (const pod of first) assert.equal(await cli(pod, 'cluster', 'saveconfig'), 'OK');
    await Promise.all(first.map((pod, index) => stop(pod, children[index])));

    // Every pod comes back with a new IP; DNS already answers with it.
    const second = first.map((pod, index) => ({ ...pod, ip: address(11 + index) }));
    box.setHosts(second);
    const restarted = second.map(start);
    await waitFor(
      'the nodes to reconnect at their new addresses',
      async () => {
        const [a, b] = [await peerLine(second[0]), await peerLine(second[1])];
        return a.includes(` ${second[1].ip}:6379@16379`) && a.includes(' connected') && b.includes(` ${second[0].ip}:6379@16379`) && b.includes(' connected');
      },
      clusterNodes(second),
    );
    await Promise.all(second.map((pod, index) => stop(pod, restarted[index])));
  });

  it("pre-stop hands a master's slots to its replica, and does nothing on a replica", async () => {
    const pods = [box.pod('redis-cluster-2', address(21)), box.pod('redis-cluster-3', address(22))];
    box.setHosts(pods);
    const children = pods.map(start);
    const clusterNodes = async () => (await Promise.all(pods.map((pod) => cli(pod, 'cluster', 'nodes')))).join('\n--\n');
    await waitFor('both nodes ready', async () => (await probe(pods[0], 'readiness')) && (await probe(pods[1], 'readiness')), clusterNodes);
    assert.equal(await cli(pods[0], 'cluster', 'addslotsrange', '0', '16383'), 'OK');
    await cli(pods[0], 'cluster', 'meet', pods[1].ip, '6379');
    const masterId = await cli(pods[0], 'cluster', 'myid');
    await waitFor('the replica to know its master', async () => (await cli(pods[1], 'cluster', 'nodes')).includes(masterId), clusterNodes);
    assert.equal(await cli(pods[1], 'cluster', 'replicate', masterId), 'OK');
    await waitFor('the replica in sync', async () => /master_link_status:up/.test(await cli(pods[1], 'info', 'replication')), clusterNodes);
    await waitFor('the master to see its replica', async () => / connected/.test(await cli(pods[0], 'cluster', 'replicas', masterId)), clusterNodes);

    const preStop = (pod: Pod) =>
      run('sh', [preStopScript], {
        env: { ...process.env, REDIS_PROBE_HOST: pod.ip, REDIS_PASSWORD: 'test-password', FAILOVER_WAIT_SECONDS: String(DEADLINE_SECONDS) },
        timeout: (DEADLINE_SECONDS + 10) * 1000,
      });
    const { stderr } = await preStop(pods[0]);
    assert.match(stderr, new RegExp(`handing over to replica ${escapeRegExp(pods[1].ip)}:6379`));
    assert.match(stderr, /now a replica/);
    assert.match(await cli(pods[0], 'role'), /^slave/);
    assert.match(await cli(pods[1], 'role'), /^master/);
    const second = await preStop(pods[0]);
    assert.equal(second.stderr, '', 'a replica stops without doing anything');
    await Promise.all(pods.map((pod, index) => stop(pod, children[index])));
  });
});
