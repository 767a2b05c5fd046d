// The program's command line and environment -> Settings, against the contract's names and bounds.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ENV, MAX_PODS } from '../../jobs/contract';
import { HelpRequested, parseSettings, usage, type Settings } from '../../jobs/settings';
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

test('--help text is finished: no template placeholder left in it', () => {
  assert.ok(!usage.includes('${'), usage);
  for (const name of Object.values(ENV)) assert.ok(usage.includes(name), `--help mentions ${name}`);
});

test('--dry-run takes no value: --dry-run=yes is refused, naming it', () => {
  assert.throws(
    () => parseSettings([...base, '--dry-run=yes'], {}),
    (error: unknown) => error instanceof UsageError && error.message === '--dry-run takes no value',
  );
  assert.equal(parseSettings([...base, '--dry-run'], {}).dryRun, true);
});

test('migration engine: auto by default, migrate on request, nothing else', () => {
  assert.equal(parseSettings(base, {}).migrationEngine, 'auto');
  assert.equal(parseSettings([...base, '--migration-engine', 'migrate'], {}).migrationEngine, 'migrate');
  assert.throws(
    () => parseSettings([...base, '--migration-engine', 'fast'], {}),
    /--migration-engine \(MIGRATION_ENGINE\) must be auto or migrate, got 'fast'/,
  );
});

test('TLS: on with a CA; a certificate file alone holds its key; a key, a certificate or a server name without a CA is refused', () => {
  assert.equal(parseSettings(base, {}).tls, undefined);
  assert.deepEqual(parseSettings([...base, '--tls-ca-file', '/tls/ca.crt', '--tls-cert-file', '/tls/both.pem'], {}).tls, {
    caFile: '/tls/ca.crt',
    certFile: '/tls/both.pem',
    keyFile: '/tls/both.pem',
  });
  assert.deepEqual(parseSettings([...base, '--tls-server-name', 'redis-cluster-{ordinal}.svc.cluster.local'], { TLS_CA_FILE: '/ca' }).tls, {
    caFile: '/ca',
    serverName: 'redis-cluster-{ordinal}.svc.cluster.local',
  });
  const refused: Array<[string[], RegExp]> = [
    [['--tls-cert-file', '/tls/tls.crt'], /^--tls-cert-file needs --tls-ca-file \(TLS_CA_FILE\)/],
    [['--tls-server-name', 'a.b'], /^--tls-server-name needs --tls-ca-file/],
    [['--tls-ca-file', '/ca', '--tls-key-file', '/k'], /^--tls-key-file \(TLS_KEY_FILE\) needs --tls-cert-file/],
    [['--tls-ca-file', '/ca', '--tls-server-name', 'redis_{ordinal}'], /^--tls-server-name \(TLS_SERVER_NAME\) must be a DNS name.*got 'redis_\{ordinal\}'/],
  ];
  for (const [flags, message] of refused) {
    assert.throws(
      () => parseSettings([...base, ...flags], {}),
      (error: unknown) => error instanceof UsageError && message.test(error.message),
      flags.join(' '),
    );
  }
});

test(`masters x (1 + replicas) over ${MAX_PODS} pods is refused, at the edge too`, () => {
  const shape = (masters: number, replicas: number) => ['--phase', 'post', '--masters', String(masters), '--replicas-per-master', String(replicas)];
  assert.equal(parseSettings(shape(500, 1), {}).masters, 500, '1000 pods is allowed');
  assert.equal(parseSettings(shape(MAX_PODS, 0), {}).masters, MAX_PODS);
  assert.throws(
    () => parseSettings(shape(501, 1), {}),
    (error: unknown) =>
      error instanceof UsageError && error.message === `--masters 501 with --replicas-per-master 1 means 1002 pods; Redis Cluster allows at most ${MAX_PODS}`,
  );
  assert.throws(() => parseSettings(shape(200, 5), {}), /means 1200 pods/);
});

/** The least a run needs; each case below changes one variable away from it. */
const required = { [ENV.phase]: 'post', [ENV.masters]: '3', [ENV.replicasPerMaster]: '1' };
const readPasswordFile = (path: string) => (path === '/run/secrets/redis' ? 'from-file\n' : 'from-another-file');

// Keyed by the contract: a variable added there without a case here does not compile.
// `with`: other variables the case needs to mean anything (a client certificate needs TLS on).
const envCases: { [Name in keyof typeof ENV]: { value: string; read: (settings: Settings) => unknown; expected: unknown; with?: Record<string, string> } } = {
  phase: { value: 'pre', read: (settings) => settings.phase, expected: 'pre' },
  masters: { value: '4', read: (settings) => settings.masters, expected: 4 },
  replicasPerMaster: { value: '2', read: (settings) => settings.replicasPerMaster, expected: 2 },
  pods: {
    value: 'a:7000,b:7001',
    read: (settings) => settings.pods,
    expected: [
      { host: 'a', port: 7000 },
      { host: 'b', port: 7001 },
    ],
  },
  passwordFile: { value: '/run/secrets/redis', read: (settings) => settings.password, expected: 'from-file' },
  password: { value: 'from-env', read: (settings) => settings.password, expected: 'from-env' },
  dryRun: { value: 'true', read: (settings) => settings.dryRun, expected: true },
  statefulSetName: { value: 'cache', read: (settings) => settings.discovery.statefulSetName, expected: 'cache' },
  headlessService: { value: 'cache-headless', read: (settings) => settings.discovery.headlessService, expected: 'cache-headless' },
  namespace: { value: 'redis', read: (settings) => settings.discovery.namespace, expected: 'redis' },
  clusterDomain: { value: 'example.org', read: (settings) => settings.discovery.clusterDomain, expected: 'example.org' },
  port: { value: '7000', read: (settings) => settings.discovery.port, expected: 7000 },
  zoneLabel: { value: 'failure-domain.example.com/rack', read: (settings) => settings.placement.zoneLabel, expected: 'failure-domain.example.com/rack' },
  placementNodes: { value: 'false', read: (settings) => settings.placement.nodes, expected: false },
  podWaitTimeoutSeconds: { value: '30', read: (settings) => settings.podWaitTimeoutMs, expected: 30_000 },
  convergeTimeoutSeconds: { value: '45', read: (settings) => settings.convergeTimeoutMs, expected: 45_000 },
  replicaSyncTimeoutSeconds: { value: '60', read: (settings) => settings.replicaSyncTimeoutMs, expected: 60_000 },
  slotsInFlight: { value: '8', read: (settings) => settings.slotsInFlight, expected: 8 },
  maxKeysPerSecond: { value: '5000', read: (settings) => settings.maxKeysPerSecond, expected: 5000 },
  tlsCaFile: { value: '/tls/ca.crt', read: (settings) => settings.tls, expected: { caFile: '/tls/ca.crt' } },
  tlsCertFile: { value: '/tls/tls.pem', read: (settings) => settings.tls?.certFile, expected: '/tls/tls.pem', with: { [ENV.tlsCaFile]: '/tls/ca.crt' } },
  tlsKeyFile: {
    value: '/tls/tls.key',
    read: (settings) => settings.tls?.keyFile,
    expected: '/tls/tls.key',
    with: { [ENV.tlsCaFile]: '/tls/ca.crt', [ENV.tlsCertFile]: '/tls/tls.crt' },
  },
  tlsServerName: {
    value: 'redis-{ordinal}.svc',
    read: (settings) => settings.tls?.serverName,
    expected: 'redis-{ordinal}.svc',
    with: { [ENV.tlsCaFile]: '/tls/ca.crt' },
  },
  migrationEngine: { value: 'migrate', read: (settings) => settings.migrationEngine, expected: 'migrate' },
};

test("every variable of the contract's ENV is read, and changes its setting", () => {
  for (const [key, { value, read, expected, with: needed }] of Object.entries(envCases)) {
    const name = ENV[key as keyof typeof ENV];
    const without = read(parseSettings([], { ...required, ...needed }, readPasswordFile));
    assert.notDeepEqual(without, expected, `${name}: the case must differ from what a run gets without it`);
    assert.deepEqual(read(parseSettings([], { ...required, ...needed, [name]: value }, readPasswordFile)), expected, name);
  }
});

test('every flag wins over its variable', () => {
  const cases: Array<[string, string, string, (settings: Settings) => unknown, unknown]> = [
    ['--phase', 'pre', ENV.phase, (settings) => settings.phase, 'pre'],
    ['--masters', '5', ENV.masters, (settings) => settings.masters, 5],
    ['--replicas-per-master', '0', ENV.replicasPerMaster, (settings) => settings.replicasPerMaster, 0],
    ['--pods', 'c:1', ENV.pods, (settings) => settings.pods, [{ host: 'c', port: 1 }]],
    ['--password-file', '/run/secrets/redis', ENV.passwordFile, (settings) => settings.password, 'from-file'],
    ['--slots-in-flight', '2', ENV.slotsInFlight, (settings) => settings.slotsInFlight, 2],
    ['--max-keys-per-second', '100', ENV.maxKeysPerSecond, (settings) => settings.maxKeysPerSecond, 100],
  ];
  const fromEnv = { ...required, [ENV.pods]: 'a:1', [ENV.passwordFile]: '/elsewhere', [ENV.slotsInFlight]: '64', [ENV.maxKeysPerSecond]: '9' };
  for (const [flag, value, variable, read, expected] of cases) {
    assert.deepEqual(read(parseSettings([flag, value], fromEnv, readPasswordFile)), expected, `${flag} over ${variable}`);
  }
  assert.equal(parseSettings(['--dry-run'], { ...required, [ENV.dryRun]: 'false' }).dryRun, true, '--dry-run over DRY_RUN=false');
});

test('placement: the zone label and whether nodes count, with their defaults; a bad label key is refused, naming the variable', () => {
  const required = { [ENV.phase]: 'post', [ENV.masters]: '3', [ENV.replicasPerMaster]: '1' };
  assert.deepEqual(parseSettings([], required).placement, { zoneLabel: 'topology.kubernetes.io/zone', nodes: true });
  assert.deepEqual(parseSettings([], { ...required, [ENV.zoneLabel]: 'zone', [ENV.placementNodes]: 'true' }).placement, { zoneLabel: 'zone', nodes: true });
  assert.throws(
    () => parseSettings([], { ...required, [ENV.zoneLabel]: 'not a label' }),
    /PLACEMENT_ZONE_LABEL must be a node label key such as topology\.kubernetes\.io\/zone, got 'not a label'/,
  );
  assert.throws(() => parseSettings([], { ...required, [ENV.placementNodes]: 'maybe' }), /PLACEMENT_NODES must be true or false, got 'maybe'/);
});
