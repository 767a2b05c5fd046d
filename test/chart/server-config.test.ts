// The chart's redis.conf, as start.sh completes it, is accepted by every server the chart runs: Redis 7.0 and 8,
// Valkey 8 and 9 each start from it (plaintext with maxmemory and a password; TLS with a plaintext port), the
// readiness probe passes with that server's own cli, and the settings are in effect. A server that is not
// installed fails its test (.ci/install-servers installs them).
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { redisConf, TLS_MOUNT_PATH } from '../../charts/redis-config';
import { resolveProps } from '../../charts/resolved-props';
import { CertificateAuthority, tlsSecretData } from '../support/certificates';
import { SERVER_NAMES, serverBinaries, type ServerName } from '../support/server-binaries';
import { writeVolumeFiles } from '../support/secret-volume';
import { repoRoot, tempDir } from './chart-fixtures';

const run = promisify(execFile);
const startScript = path.join(repoRoot, 'charts', 'scripts', 'start.sh');
const probeScript = path.join(repoRoot, 'charts', 'scripts', 'probe.sh');
const password = 'config-test "password\\';
// 127.<from the pid>.58.<host>, as test/support/redis-pods.ts makes them (58: this file's own).
const secondOctet = 20 + (process.pid % 200);
const DEADLINE_MS = 30_000;

describe("the chart's redis.conf on every server", () => {
  const root = tempDir('server-config');
  const ca = new CertificateAuthority('server-config test CA', root);
  const certificate = ca.issue({ commonName: 'redis-cluster', dnsNames: ['*.redis-cluster-svc.default.svc.cluster.local'] });
  const processes: ChildProcess[] = [];
  after(() => {
    for (const child of processes) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    ca.remove();
  });
  const variants = {
    plaintext: {
      props: resolveProps({ maxmemory: '64Mi', maxmemoryPolicy: 'allkeys-lru' }),
      port: 6379,
      expect: { maxmemory: '67108864', 'maxmemory-policy': 'allkeys-lru' },
    },
    tls: {
      props: resolveProps({ tls: { secretName: 'redis-cluster-tls', plaintextPort: 6380 } }),
      port: 6380,
      expect: { 'tls-port': '6379', 'tls-cluster': 'yes' },
    },
  };
  let host = 10;

  /** start.sh with the chart's config for this server, as the pod runs it; resolves once the readiness probe passes. */
  async function startPod(server: ServerName, variant: keyof typeof variants) {
    const binaries = serverBinaries(server);
    const ip = `127.${secondOctet}.58.${host++}`;
    const base = path.join(root, `${server}-${variant}`);
    const tlsDir = path.join(base, 'tls');
    mkdirSync(path.join(base, 'data'), { recursive: true });
    writeVolumeFiles(tlsDir, tlsSecretData(certificate, ca), 0o440);
    writeFileSync(path.join(base, 'redis.conf'), redisConf(variants[variant].props).split(TLS_MOUNT_PATH).join(tlsDir));
    const env = {
      PATH: process.env.PATH!,
      REDIS_SERVER: binaries.server,
      REDIS_CLI: binaries.cli,
      REDIS_PASSWORD: password,
      REDIS_PROBE_HOST: ip,
      ...(variant === 'tls' ? { TLS_CA_FILE: `${tlsDir}/ca.crt`, TLS_CERT_FILE: `${tlsDir}/tls.crt`, TLS_KEY_FILE: `${tlsDir}/tls.key` } : {}),
    };
    const child = spawn('sh', [startScript], {
      env: {
        ...env,
        CONFIG_TEMPLATE: path.join(base, 'redis.conf'),
        RUNTIME_DIR: path.join(base, 'run'),
        DATA_DIR: path.join(base, 'data'),
        BIND_ADDRESSES: ip,
        POD_IP: ip,
        POD_NAME: 'redis-cluster-0',
        POD_NAMESPACE: 'default',
        HEADLESS_SERVICE: 'redis-cluster-svc',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    processes.push(child);
    let log = '';
    child.stdout!.on('data', (chunk) => (log += chunk));
    child.stderr!.on('data', (chunk) => (log += chunk));
    const started = Date.now();
    for (;;) {
      const ready = await run('sh', [probeScript, 'readiness'], { env, timeout: 10_000 }).then(
        () => true,
        () => false,
      );
      if (ready) break;
      if (child.exitCode !== null || Date.now() - started > DEADLINE_MS)
        assert.fail(`${server} (${binaries.server}) did not become ready with the ${variant} config:\n${log}`);
      await sleep(100);
    }
    const config = async (name: string) => {
      const { stdout } = await run(binaries.cli, ['-h', ip, '-p', String(variants[variant].port), '--no-auth-warning', '-a', password, 'config', 'get', name], {
        timeout: 10_000,
      });
      return stdout.trim().split('\n')[1];
    };
    const stop = async () => {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    };
    return { config, stop, log: () => log };
  }

  for (const server of SERVER_NAMES) {
    it(`${server}: starts from it, plaintext and TLS, and its own cli's readiness probe passes`, async () => {
      for (const variant of ['plaintext', 'tls'] as const) {
        const pod = await startPod(server, variant);
        try {
          for (const [name, value] of Object.entries(variants[variant].expect)) assert.equal(await pod.config(name), value, `${server} ${variant}: ${name}`);
          assert.equal(await pod.config('cluster-enabled'), 'yes');
          assert.doesNotMatch(pod.log(), /Bad directive|FATAL|Unrecognized/i, `${server} ${variant}`);
        } finally {
          await pod.stop();
        }
      }
    });
  }
});
