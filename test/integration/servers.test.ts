// The servers the tests run on (.ci/install-servers): for each of Redis 7.0, Valkey 8, Valkey 9
// and Redis 8 the harness starts the seed's 6 pods on that server, the program bootstraps 3
// masters x 1 replica, keys go in and come back, the server's own cli passes `--cluster check`,
// and INFO server says which server and major version answered. A server that is not installed
// fails its test (never skips), naming the install script.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LocalRedisPods } from '../support/redis-pods.js';
import { SERVER_NAMES, serverBinaries } from '../support/server-binaries.js';
import { assertClusterShape } from '../support/cluster-view.js';
import { assertAllKeys, type KeySet } from '../support/keyspace.js';
import { bootstrapSeedCluster } from '../support/seed-cluster.js';

const execFileAsync = promisify(execFile);

/** INFO server of one pod as name -> value. */
async function infoServer(pods: LocalRedisPods, ordinal: number): Promise<Record<string, string>> {
  const client = pods.connect(ordinal);
  try {
    const text = String(await client.info('server'));
    return Object.fromEntries(
      text
        .split('\r\n')
        .filter((line) => line.includes(':') && !line.startsWith('#'))
        .map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 1)]),
    );
  } finally {
    client.disconnect();
  }
}

SERVER_NAMES.forEach((name, index) => {
  test(`${name}: 6 pods bootstrapped to 3 masters x 1 replica by the program, keys readable, its own cli's --cluster check passes`, async () => {
    // Throws "<name> (...) is not installed: ... Run .ci/install-servers" when it is missing.
    const binaries = serverBinaries(name);
    const { stdout: cliVersion } = await execFileAsync(binaries.cli, ['--version'], { timeout: 10_000 });
    assert.match(cliVersion, new RegExp(`^${binaries.flavor}-cli ${binaries.major}\\.`), `${binaries.cli} --version`);

    const pods = new LocalRedisPods({ subnet: 80 + index, server: name });
    const keys: KeySet = { prefix: `servers-${name}`, count: 2000, valueSize: 32 };
    try {
      await bootstrapSeedCluster(pods, keys);

      for (let ordinal = 0; ordinal < 6; ordinal++) {
        const info = await infoServer(pods, ordinal);
        const where = `INFO server of pod ${ordinal} (${binaries.server})`;
        if (binaries.flavor === 'valkey') {
          assert.equal(info.server_name, 'valkey', `${where}: server_name`);
          assert.match(info.valkey_version ?? '', new RegExp(`^${binaries.major}\\.`), `${where}: valkey_version`);
        } else {
          assert.equal(info.valkey_version, undefined, `${where}: a Redis reports no valkey_version`);
          assert.match(info.redis_version ?? '', new RegExp(`^${binaries.major}\\.`), `${where}: redis_version`);
        }
        if (binaries.version) assert.equal(info[`${binaries.flavor}_version`], binaries.version, `${where}: the version the install script recorded`);
      }

      // Also runs `<cli> --cluster check` and refuses warnings and errors.
      await assertClusterShape(pods, { masters: 3, replicasPerMaster: 1 });
      const check = await pods.clusterCheck(0);
      assert.match(check.output, /\[OK\] All 16384 slots covered/, `${binaries.cli} --cluster check:\n${check.output}`);
      await assertAllKeys(pods, keys);
    } finally {
      await pods.destroy();
    }
  });
});
