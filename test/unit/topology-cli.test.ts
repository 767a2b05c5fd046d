import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HelpRequested, parseSettings } from '../../jobs/settings';
import { UsageError, describeError, redact, registerSecret } from '../../jobs/errors';

const base = ['--phase', 'post', '--masters', '3', '--replicas-per-master', '1'];

test('flags parse into settings with DNS defaults', () => {
  const settings = parseSettings(base, {});
  assert.equal(settings.phase, 'post');
  assert.equal(settings.masters, 3);
  assert.equal(settings.replicasPerMaster, 1);
  assert.equal(settings.pods, null);
  assert.equal(settings.dryRun, false);
  assert.equal(settings.password, undefined);
  assert.deepEqual(settings.discovery, {
    statefulSetName: 'redis-cluster',
    headlessService: 'redis-cluster-svc',
    namespace: 'default',
    clusterDomain: 'cluster.local',
    port: 6379,
  });
  assert.equal(settings.podWaitTimeoutMs, 600_000);
});

test('environment equivalents, flags win over env', () => {
  const env = { PHASE: 'pre', MASTERS: '4', REPLICAS_PER_MASTER: '2', PODS: 'a:1, b:2', DRY_RUN: 'true', REDIS_PASSWORD: 'pw', POD_NAMESPACE: 'redis' };
  const settings = parseSettings([], env);
  assert.equal(settings.phase, 'pre');
  assert.equal(settings.masters, 4);
  assert.deepEqual(settings.pods, [
    { host: 'a', port: 1 },
    { host: 'b', port: 2 },
  ]);
  assert.equal(settings.dryRun, true);
  assert.equal(settings.password, 'pw');
  assert.equal(settings.discovery.namespace, 'redis');
  assert.equal(parseSettings(['--masters', '5'], env).masters, 5);
  assert.equal(parseSettings(['--masters=6'], env).masters, 6);
});

test('migration slots in flight: default, flag, env, and its bounds', () => {
  assert.equal(parseSettings(base, {}).slotsInFlight, 32);
  assert.equal(parseSettings([...base, '--slots-in-flight', '8'], {}).slotsInFlight, 8);
  assert.equal(parseSettings(base, { MIGRATION_SLOTS_IN_FLIGHT: '64' }).slotsInFlight, 64);
  assert.equal(parseSettings([...base, '--slots-in-flight=4'], { MIGRATION_SLOTS_IN_FLIGHT: '64' }).slotsInFlight, 4);
  for (const value of ['0', '1025', 'fast']) {
    assert.throws(
      () => parseSettings([...base, '--slots-in-flight', value], {}),
      (error) => error instanceof UsageError && /slots-in-flight/.test(error.message),
    );
  }
});

test('migration key rate cap: none by default, flag, env, and its bounds', () => {
  assert.equal(parseSettings(base, {}).maxKeysPerSecond, 0);
  assert.equal(parseSettings([...base, '--max-keys-per-second', '20000'], {}).maxKeysPerSecond, 20000);
  assert.equal(parseSettings(base, { MIGRATION_MAX_KEYS_PER_SECOND: '5000' }).maxKeysPerSecond, 5000);
  assert.equal(parseSettings([...base, '--max-keys-per-second=0'], { MIGRATION_MAX_KEYS_PER_SECOND: '5000' }).maxKeysPerSecond, 0);
  for (const value of ['-1', '1000000001', '10k']) {
    assert.throws(
      () => parseSettings([...base, '--max-keys-per-second', value], {}),
      (error) => error instanceof UsageError && /max-keys-per-second \(MIGRATION_MAX_KEYS_PER_SECOND\)/.test(error.message),
    );
  }
});

test('password file wins over REDIS_PASSWORD and loses its trailing newline', () => {
  const settings = parseSettings([...base, '--password-file', '/secret'], { REDIS_PASSWORD: 'env' }, () => 'from-file\n');
  assert.equal(settings.password, 'from-file');
  assert.throws(
    () =>
      parseSettings([...base, '--password-file', '/missing'], {}, () => {
        throw Object.assign(new Error('nope'), { code: 'ENOENT' });
      }),
    /cannot read the password file \/missing \(ENOENT\)/,
  );
});

test('bad input gets one clear error', () => {
  const cases: Array<[string[], RegExp]> = [
    [['--masters', '3', '--replicas-per-master', '1'], /--phase .* is required/],
    [['--phase', 'grow', '--masters', '3', '--replicas-per-master', '1'], /--phase must be pre, post or all, got 'grow'/],
    [['--phase', 'post', '--masters', '2', '--replicas-per-master', '1'], /--masters must be at least 3.*got 2/],
    [['--phase', 'post', '--masters', '3.5', '--replicas-per-master', '1'], /--masters .* must be an integer, got '3.5'/],
    [['--phase', 'post', '--masters', 'x', '--replicas-per-master', '1'], /must be an integer/],
    [['--phase', 'post', '--masters', '3', '--replicas-per-master', '6'], /--replicas-per-master must be an integer from 0 to 5, got 6/],
    [['--phase', 'post', '--masters', '3', '--replicas-per-master', '-1'], /from 0 to 5/],
    [['--phase', 'post', '--masters', '3'], /--replicas-per-master .* is required/],
    [[...base, '--pods', 'host-without-port'], /is not HOST:PORT/],
    [[...base, '--pods', 'a:1,,b:2'], /empty entry/],
    [[...base, '--pods', 'a:1,a:1'], /lists a:1 twice/],
    [[...base, '--pods', 'a:70000'], /expected 1..55535/],
    [[...base, '--bogus'], /unknown argument '--bogus'/],
    [[...base, '--pods'], /--pods needs a value/],
  ];
  for (const [argv, message] of cases)
    assert.throws(
      () => parseSettings(argv, {}),
      (error: unknown) => error instanceof UsageError && message.test(error.message),
      argv.join(' '),
    );
  assert.throws(() => parseSettings(base, { DRY_RUN: 'maybe' }), /DRY_RUN must be true or false/);
});

test('IPv6 pods in brackets and --help', () => {
  assert.deepEqual(parseSettings([...base, '--pods', '[::1]:7000'], {}).pods, [{ host: '::1', port: 7000 }]);
  assert.throws(() => parseSettings(['--help'], {}), HelpRequested);
});

test('the password never appears in messages', () => {
  registerSecret('hunter2-secret');
  assert.equal(redact('MIGRATE 10.0.0.1 6379 "" 0 60000 AUTH hunter2-secret KEYS a'), 'MIGRATE 10.0.0.1 6379 "" 0 60000 AUTH *** KEYS a');
  assert.equal(describeError(new Error('ERR wrong hunter2-secret')), 'ERR wrong ***');
});
