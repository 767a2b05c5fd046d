// The chart with TLS: the objects and their wiring (Secret volume, env, ports, exporter, Jobs), the cert-manager
// Certificate against cert-manager's schema, the redis.conf lines, what the topology program reads back from
// the Jobs, and one clear message for each invalid TLS prop.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ICertificate } from '@kubernetes-models/cert-manager/cert-manager.io/v1/Certificate';
import path from 'node:path';
import { InvalidPropError, synthToDist, validateProps, type RedisClusterChartProps } from '../../charts';
import { readManifestDirectory } from '../../charts/synth-to-dist';
import { parseSettings } from '../../jobs/settings';
import { FAKE_BUNDLE, find, parseYamlObjects, SEED_PROPS, synthObjects, tempDir } from './chart-fixtures';
import { schemaErrors } from './manifest-schemas';

/** What a user copies from docs/operations.md: a cert-manager ClusterIssuer signs the pods' certificate. */
const WITH_ISSUER: RedisClusterChartProps = {
  ...SEED_PROPS,
  namespace: 'cache',
  tls: { issuer: { kind: 'ClusterIssuer', name: 'cluster-ca' } },
};
const WITH_SECRET: RedisClusterChartProps = { ...SEED_PROPS, tls: { secretName: 'redis-tls' } };

const podSpecOf = (objects: ReturnType<typeof synthObjects>) => find(objects, 'StatefulSet', 'redis-cluster').spec.template.spec;
const container = (objects: ReturnType<typeof synthObjects>, name: string) => podSpecOf(objects).containers.find((entry: any) => entry.name === name);
const envOf = (entry: any) =>
  Object.fromEntries((entry.env as Array<{ name: string; value?: string }>).map((variable) => [variable.name, variable.value ?? 'from']));
const redisConfOf = (objects: ReturnType<typeof synthObjects>) => (find(objects, 'ConfigMap', 'redis-cluster').data['redis.conf'] as string).split('\n');

describe('TLS in the chart', () => {
  it('with an issuer: a Certificate for every pod and the client Service, server and client auth, written to <statefulSetName>-tls', async () => {
    const objects = synthObjects(WITH_ISSUER);
    const certificate = find<ICertificate>(objects, 'Certificate', 'redis-cluster-tls');
    const spec = certificate.spec!;
    assert.equal(certificate.metadata?.namespace, 'cache');
    assert.deepEqual(spec.issuerRef, { name: 'cluster-ca', kind: 'ClusterIssuer', group: 'cert-manager.io' });
    assert.equal(spec.secretName, 'redis-cluster-tls');
    assert.deepEqual(spec.dnsNames, [
      '*.redis-cluster-svc.cache.svc.cluster.local',
      '*.redis-cluster-svc.cache.svc',
      'redis-cluster-client.cache.svc.cluster.local',
      'redis-cluster-client.cache.svc',
      'redis-cluster-client.cache',
      'redis-cluster-client',
    ]);
    assert.deepEqual(spec.usages, ['server auth', 'client auth', 'digital signature']);
    assert.equal(spec.privateKey?.rotationPolicy, 'Always');
    // Argo CD: applied (and Ready) before the StatefulSet whose pods mount its Secret.
    assert.equal(certificate.metadata?.annotations?.['argocd.argoproj.io/sync-wave'], '-1');
    assert.deepEqual(await schemaErrors(objects), []);
  });

  it('every pod name the program checks is covered by the Certificate (a wildcard covers one label)', () => {
    const objects = synthObjects({ ...WITH_ISSUER, masters: 4, replicasPerMaster: 2 });
    const [wildcard] = find<ICertificate>(objects, 'Certificate', 'redis-cluster-tls').spec!.dnsNames!;
    for (let ordinal = 0; ordinal < 12; ordinal++) {
      const podName = `redis-cluster-${ordinal}.redis-cluster-svc.cache.svc.cluster.local`;
      assert.equal(podName.split('.').slice(1).join('.'), wildcard.slice(2), podName);
    }
  });

  it('the Flux layout with TLS validates too; the Certificate goes with the Redis objects (main/)', async () => {
    const props: RedisClusterChartProps = {
      ...WITH_ISSUER,
      gitops: 'flux',
      monitoring: { serviceMonitor: {} },
      networkPolicy: {},
      tls: { ...WITH_ISSUER.tls, plaintextPort: 6380 },
    };
    const outdir = path.join(tempDir('tls-flux'), 'dist');
    synthToDist({ props, outdir, topologyBundle: FAKE_BUNDLE });
    const files = [...readManifestDirectory(outdir).entries()].filter(([file]) => file !== 'kustomization.yaml');
    const holding = files.filter(([, content]) => /^kind: Certificate$/m.test(content)).map(([file]) => file);
    assert.deepEqual(holding, ['main/redis-cluster-main.yaml']);
    const objects = files.flatMap(([, content]) => parseYamlObjects(content));
    assert.equal(find<ICertificate>(objects, 'Certificate', 'redis-cluster-tls').metadata?.annotations, undefined);
    assert.deepEqual(await schemaErrors(objects), []);
  });

  it('with a Secret of your own: no Certificate; the pods mount its three keys, updated in place (no subPath)', () => {
    const objects = synthObjects(WITH_SECRET);
    assert.ok(!objects.some((object) => object.kind === 'Certificate'));
    const podSpec = podSpecOf(objects);
    assert.deepEqual(
      podSpec.volumes.find((volume: any) => volume.name === 'tls'),
      {
        name: 'tls',
        secret: {
          secretName: 'redis-tls',
          items: [
            { key: 'tls.crt', path: 'tls.crt' },
            { key: 'tls.key', path: 'tls.key' },
            { key: 'ca.crt', path: 'ca.crt' },
          ],
          defaultMode: 0o440,
        },
      },
    );
    for (const name of ['redis']) {
      const mount = container(objects, name).volumeMounts.find((entry: any) => entry.name === 'tls');
      assert.deepEqual(mount, { name: 'tls', mountPath: '/etc/redis-cluster-tls', readOnly: true });
    }
    assert.deepEqual(
      { ...envOf(container(objects, 'redis')) },
      {
        ...envOf(container(synthObjects(SEED_PROPS), 'redis')),
        TLS_CA_FILE: '/etc/redis-cluster-tls/ca.crt',
        TLS_CERT_FILE: '/etc/redis-cluster-tls/tls.crt',
        TLS_KEY_FILE: '/etc/redis-cluster-tls/tls.key',
      },
    );
  });

  it('redis.conf: TLS on 6379 and no plaintext port, TLS on the bus and for replication, client certificates required', () => {
    const lines = redisConfOf(synthObjects(WITH_SECRET));
    for (const line of [
      'port 0',
      'tls-port 6379',
      'tls-cert-file /etc/redis-cluster-tls/tls.crt',
      'tls-key-file /etc/redis-cluster-tls/tls.key',
      'tls-ca-cert-file /etc/redis-cluster-tls/ca.crt',
      'tls-auth-clients yes',
      'tls-cluster yes',
      'tls-replication yes',
      'cluster-preferred-endpoint-type hostname',
      'cluster-port 16379',
    ]) {
      assert.ok(lines.includes(line), `redis.conf lacks "${line}"`);
    }
    assert.ok(!lines.includes('port 6379'));
    const relaxed = redisConfOf(synthObjects({ ...SEED_PROPS, tls: { secretName: 'redis-tls', requireClientCertificates: false } }));
    assert.ok(relaxed.includes('tls-auth-clients no'));
    const without = redisConfOf(synthObjects(SEED_PROPS));
    assert.ok(without.includes('port 6379'));
    assert.ok(!without.some((line) => line.startsWith('tls-')));
  });

  it('a plaintext port kept beside TLS: in redis.conf, the container, both Services and the NetworkPolicy', () => {
    const objects = synthObjects({ ...SEED_PROPS, networkPolicy: {}, tls: { secretName: 'redis-tls', plaintextPort: 6380 } });
    assert.ok(redisConfOf(objects).includes('port 6380'));
    assert.deepEqual(container(objects, 'redis').ports.at(-1), { name: 'plaintext', containerPort: 6380, protocol: 'TCP' });
    for (const service of ['redis-cluster-svc', 'redis-cluster-client']) {
      const ports = find(objects, 'Service', service).spec.ports.map((port: any) => `${port.name}:${port.port}`);
      assert.ok(ports.includes('plaintext:6380') && ports.includes('client:6379'), `${service}: ${ports}`);
    }
    const clientRule = find(objects, 'NetworkPolicy', 'redis-cluster').spec.ingress[0];
    assert.deepEqual(
      clientRule.ports.map((port: any) => port.port),
      [6379, 6380],
    );
  });

  it('the exporter dials its own pod by name over TLS (rediss://), with the CA and the pod certificate', () => {
    const objects = synthObjects({ ...WITH_ISSUER, monitoring: {} });
    const exporter = container(objects, 'metrics');
    assert.deepEqual(exporter.args.slice(0, 4), [
      '--redis.addr=rediss://$(POD_NAME).redis-cluster-svc.$(POD_NAMESPACE).svc.cluster.local:6379',
      '--tls-ca-cert-file=/etc/redis-cluster-tls/ca.crt',
      '--tls-client-cert-file=/etc/redis-cluster-tls/tls.crt',
      '--tls-client-key-file=/etc/redis-cluster-tls/tls.key',
    ]);
    // $(VAR) in args expands only from the container's own env.
    assert.deepEqual(
      exporter.env.slice(0, 2).map((variable: any) => [variable.name, variable.valueFrom.fieldRef.fieldPath]),
      [
        ['POD_NAME', 'metadata.name'],
        ['POD_NAMESPACE', 'metadata.namespace'],
      ],
    );
    assert.ok(exporter.volumeMounts.some((mount: any) => mount.name === 'tls' && mount.mountPath === '/etc/redis-cluster-tls'));
    const plain = container(synthObjects({ ...SEED_PROPS, monitoring: {} }), 'metrics');
    assert.equal(plain.args[0], '--redis.addr=redis://localhost:6379');
  });

  it('the Jobs mount the same Secret (optional: the pre Job of a first sync runs before cert-manager wrote it) and the program reads their TLS env', () => {
    for (const [props, clientCertificate] of [
      [WITH_ISSUER, true],
      [{ ...WITH_ISSUER, tls: { ...WITH_ISSUER.tls, requireClientCertificates: false } }, false],
    ] as const) {
      const objects = synthObjects(props);
      for (const phase of ['pre', 'post']) {
        const podSpec = find(objects, 'Job', `redis-cluster-topology-${phase}`).spec.template.spec;
        const volume = podSpec.volumes.find((entry: any) => entry.name === 'tls');
        assert.equal(volume.secret.secretName, 'redis-cluster-tls');
        assert.equal(volume.secret.optional, true);
        // No private key where the pods ask for no client certificate.
        assert.deepEqual(
          volume.secret.items.map((item: any) => item.key),
          clientCertificate ? ['tls.crt', 'tls.key', 'ca.crt'] : ['ca.crt'],
        );
        assert.equal(podSpec.securityContext.fsGroup, 1000, 'the Job user reads the 0440 files');
        const job = podSpec.containers[0];
        const env = Object.fromEntries(
          job.env.map((variable: any) => [variable.name, variable.value ?? (variable.valueFrom.fieldRef ? 'cache' : 'the-password')]),
        );
        const settings = parseSettings(job.args, env);
        assert.deepEqual(
          settings.tls,
          clientCertificate
            ? { caFile: '/etc/redis-cluster-tls/ca.crt', certFile: '/etc/redis-cluster-tls/tls.crt', keyFile: '/etc/redis-cluster-tls/tls.key' }
            : { caFile: '/etc/redis-cluster-tls/ca.crt' },
        );
      }
    }
    const plain = find(synthObjects(SEED_PROPS), 'Job', 'redis-cluster-topology-post').spec.template.spec;
    assert.ok(!plain.volumes.some((volume: any) => volume.name === 'tls'));
    assert.equal(plain.securityContext.fsGroup, undefined);
  });

  it('refuses each invalid TLS prop with one message naming the field, the value and what is allowed', () => {
    const cases: Array<[string, RedisClusterChartProps['tls'] | 'no-namespace', RegExp]> = [
      [
        'neither a Secret nor an issuer',
        {},
        /^Invalid tls\.secretName: undefined\. Allowed: the name of a Secret holding tls\.crt, tls\.key and ca\.crt, or tls\.issuer/,
      ],
      ['a Secret name with capitals', { secretName: 'Redis_TLS' }, /^Invalid tls\.secretName: "Redis_TLS"\. Allowed: a DNS-1123 subdomain/],
      [
        'an unknown field',
        { secretName: 'redis-tls', authClients: true } as never,
        /^Invalid tls\.authClients: true\. Allowed: no such field; known fields are secretName, issuer, requireClientCertificates, plaintextPort\.$/,
      ],
      ['an issuer without a name', { issuer: {} as never }, /^Invalid tls\.issuer\.name: undefined\. Allowed: a DNS-1123 subdomain/],
      [
        'an issuer kind in lower case',
        { issuer: { name: 'ca', kind: 'clusterissuer' } },
        /^Invalid tls\.issuer\.kind: "clusterissuer"\. Allowed: a kind such as "Issuer" or "ClusterIssuer"/,
      ],
      [
        'an issuer group that is no DNS name',
        { issuer: { name: 'ca', group: 'Cert Manager' } },
        /^Invalid tls\.issuer\.group: "Cert Manager"\. Allowed: a DNS-1123 subdomain/,
      ],
      [
        'an issuer without a namespace',
        'no-namespace',
        /^Invalid namespace: undefined\. Allowed: a namespace when tls\.issuer is set: the Certificate's DNS names/,
      ],
      [
        'requireClientCertificates "yes"',
        { secretName: 'redis-tls', requireClientCertificates: 'yes' as never },
        /^Invalid tls\.requireClientCertificates: "yes"\. Allowed: true or false\.$/,
      ],
      [
        'a plaintext port out of range',
        { secretName: 'redis-tls', plaintextPort: 70000 },
        /^Invalid tls\.plaintextPort: 70000\. Allowed: an integer from 1 to 65535\.$/,
      ],
      [
        'the TLS port as plaintext port',
        { secretName: 'redis-tls', plaintextPort: 6379 },
        /^Invalid tls\.plaintextPort: 6379\. Allowed: a port other than 6379, the TLS client port\.$/,
      ],
      [
        'the bus port as plaintext port',
        { secretName: 'redis-tls', plaintextPort: 16379 },
        /^Invalid tls\.plaintextPort: 16379\. Allowed: a port other than 16379, the cluster bus port\.$/,
      ],
      ['tls "on"', 'on' as never, /^Invalid tls: "on"\. Allowed: an object\.$/],
    ];
    for (const [label, tls, message] of cases) {
      const props: RedisClusterChartProps =
        tls === 'no-namespace' ? { ...SEED_PROPS, tls: { issuer: { name: 'ca' } } } : { ...SEED_PROPS, namespace: 'cache', tls };
      assert.throws(
        () => validateProps(props),
        (error: unknown) => error instanceof InvalidPropError && message.test(error.message),
        label,
      );
    }
    assert.throws(
      () => validateProps({ ...SEED_PROPS, monitoring: {}, tls: { secretName: 'redis-tls', plaintextPort: 9121 } }),
      /^InvalidPropError: Invalid tls\.plaintextPort: 9121\. Allowed: a port other than 9121, the exporter's metrics port\.$/,
    );
  });
});
