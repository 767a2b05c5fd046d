// Redis or Valkey: the `server` prop, what the image's name says when it is not given, and the binaries the
// pods' scripts then run (REDIS_SERVER and REDIS_CLI in the Redis container, read by start.sh, probe.sh and
// pre-stop.sh).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RedisClusterChartProps } from '../../charts';
import { find, SEED_PROPS, synthObjects } from './chart-fixtures';

function redisContainer(props: RedisClusterChartProps) {
  const statefulSet = find(synthObjects({ ...SEED_PROPS, ...props }), 'StatefulSet', 'redis-cluster');
  return statefulSet.spec.template.spec.containers[0];
}

/** The binaries env of the Redis container, by name; empty when the scripts' defaults (Redis's) apply. */
function binariesEnv(props: RedisClusterChartProps): Record<string, string> {
  const env: Array<{ name: string; value?: string }> = redisContainer(props).env;
  return Object.fromEntries(env.filter((entry) => entry.name === 'REDIS_SERVER' || entry.name === 'REDIS_CLI').map((entry) => [entry.name, entry.value!]));
}

const VALKEY_BINARIES = { REDIS_SERVER: 'valkey-server', REDIS_CLI: 'valkey-cli' };

describe('server: Redis or Valkey', () => {
  it('defaults to Redis: the redis:8.2 image, and no binaries env (the scripts default to redis-server and redis-cli)', () => {
    assert.equal(redisContainer({}).image, 'redis:8.2');
    assert.deepEqual(binariesEnv({}), {});
    assert.deepEqual(binariesEnv({ server: 'redis' }), {});
  });

  it("with server 'valkey' runs valkey-server and valkey-cli, from valkey/valkey:9.1 unless the image is given", () => {
    const container = redisContainer({ server: 'valkey' });
    assert.equal(container.image, 'valkey/valkey:9.1');
    assert.deepEqual(binariesEnv({ server: 'valkey' }), VALKEY_BINARIES);
    // The probes and the preStop hook run in the same container, with its env.
    assert.equal(container.readinessProbe.exec.command[1], '/etc/redis-cluster/probe.sh');
    assert.equal(container.lifecycle.preStop.exec.command[1], '/etc/redis-cluster/pre-stop.sh');
    // An image whose name says nothing runs as the prop says.
    assert.equal(redisContainer({ server: 'valkey', image: 'registry.example.com/cache/kv-server:9.1' }).image, 'registry.example.com/cache/kv-server:9.1');
    assert.deepEqual(binariesEnv({ server: 'valkey', image: 'registry.example.com/cache/kv-server:9.1' }), VALKEY_BINARIES);
  });

  it('follows the image when server is not given: a repository named valkey (or valkey-...) is Valkey, any other Redis', () => {
    for (const image of [
      'valkey/valkey:9.1',
      'valkey/valkey:8.0-bookworm',
      'valkey',
      'docker.io/valkey/valkey:9.1',
      'registry.example.com:5000/mirror/valkey:9.1@sha256:0123456789abcdef',
      'valkey/valkey-bundle:8.1',
    ]) {
      assert.deepEqual(binariesEnv({ image }), VALKEY_BINARIES, image);
    }
    for (const image of ['redis:8.2', 'docker.io/library/redis:7.2', 'registry.example.com:5000/valkey-mirror/redis:8.2', 'cache-server:1']) {
      assert.deepEqual(binariesEnv({ image }), {}, image);
    }
  });

  it('sets the binaries env on the Redis container only, not on the exporter sidecar or the Jobs', () => {
    const objects = synthObjects({ ...SEED_PROPS, server: 'valkey', monitoring: {} });
    const containers = [
      ...find(objects, 'StatefulSet', 'redis-cluster').spec.template.spec.containers.slice(1),
      ...objects.filter((object) => object.kind === 'Job').map((job: any) => job.spec.template.spec.containers[0]),
    ];
    assert.equal(containers.length, 3);
    for (const container of containers) {
      assert.ok(!container.env.some((entry: { name: string }) => entry.name === 'REDIS_SERVER' || entry.name === 'REDIS_CLI'), container.name);
    }
  });

  it('the scripts call the server and the cli only through REDIS_SERVER and REDIS_CLI', () => {
    const scripts = find(synthObjects(), 'ConfigMap', 'redis-cluster').data;
    for (const name of ['start.sh', 'probe.sh', 'pre-stop.sh']) {
      // Besides comments, log messages and the variables' defaults, no script names a binary.
      const code = scripts[name]
        .replace(/^\s*#.*$/gm, '')
        .replace(/^\s*log ".*"$/gm, '')
        .replace(/\$\{REDIS_SERVER:-redis-server\}|\$\{REDIS_CLI:-redis-cli\}/g, '');
      assert.doesNotMatch(code, /(redis|valkey)-(server|cli)/, name);
    }
    assert.match(scripts['start.sh'], /^REDIS_SERVER="\$\{REDIS_SERVER:-redis-server\}"$/m);
    for (const name of ['start.sh', 'probe.sh', 'pre-stop.sh']) assert.match(scripts[name], /^REDIS_CLI="\$\{REDIS_CLI:-redis-cli\}"$/m, name);
  });

  it('refuses an unknown server, naming what is allowed', () => {
    assert.throws(
      () => synthObjects({ ...SEED_PROPS, server: 'keydb' as any }),
      /^InvalidPropError: Invalid server: "keydb"\. Allowed: "redis" or "valkey"\.$/,
    );
  });

  it('refuses a server the image plainly contradicts, saying which image it is and what to change', () => {
    assert.throws(
      () => synthObjects({ ...SEED_PROPS, server: 'redis', image: 'valkey/valkey:9.1' }),
      /^InvalidPropError: Invalid server: "redis"\. Allowed: "valkey" with image "valkey\/valkey:9\.1", a Valkey image by its repository name \(valkey\), or no server, which follows the image; to run Redis, set a Redis image too, e\.g\. "redis:8\.2"\.$/,
    );
    assert.throws(
      () => synthObjects({ ...SEED_PROPS, server: 'valkey', image: 'redis:8.2' }),
      /^InvalidPropError: Invalid server: "valkey"\. Allowed: "redis" with image "redis:8\.2", a Redis image by its repository name \(redis\), .*to run Valkey, set a Valkey image too, e\.g\. "valkey\/valkey:9\.1"\.$/,
    );
  });
});
