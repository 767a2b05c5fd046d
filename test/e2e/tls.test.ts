// A TLS cluster from dist/, under Argo CD and under Flux, on the kubelet stand-in: main.ts with
// `tls: { issuer }`, the stand-in playing cert-manager (it issues the Certificate's Secret with openssl from a
// test CA) and the kubelet (the Secret mounted, and updated in place when it changes). The Jobs form, grow and
// shrink the cluster over TLS; clients that trust only the CA judge it; the certificate is renewed under the
// running pods, which serve the new one without a restart. Each step prints its wall time.
import assert from 'node:assert/strict';
import { X509Certificate, randomBytes } from 'node:crypto';
import path from 'node:path';
import { after, before, test, type TestContext } from 'node:test';
import { connect } from 'node:tls';
import Redis from 'ioredis';
import { CertificateAuthority, tlsSecretData } from '../support/certificates';
import { loadKeys, verifyKeysWith, type KeySet } from '../support/keyspace';
import { argoSync } from '../support/gitops-standin';
import { StandInCluster, sleep } from '../support/kubelet-standin';
import { readManifests, type KubeObject } from '../support/manifests';
import { ensureBundle } from '../support/topology-cli';
import {
  GitOpsRepository,
  clusterCheck,
  clusterClient,
  clusterRoles,
  createPasswordSecret,
  podAddress,
  postJobName,
  preJobName,
  runningOrdinals,
  statefulSetName,
  timed,
  type ClientTls,
  type GitOpsTool,
} from './gitops-repo';

const keys: KeySet = { prefix: 'tls', count: 3000, valueSize: 64 };
/** What a user puts in main.ts (docs/operations.md, "TLS"); the stand-in's cert-manager answers for any issuer. */
const TLS_PROPS = { namespace: 'default', tls: { issuer: { kind: 'ClusterIssuer', name: 'cluster-ca' } } };
/** start.sh looks at the Secret's files every 10 s (TLS_RELOAD_INTERVAL_SECONDS). */
const ROTATION_DEADLINE_MS = 45_000;

before(() => ensureBundle());

function tlsScenario(tool: GitOpsTool, subnet: number): void {
  test(
    `${tool}: a TLS cluster from dist/: formed, grown and shrunk over TLS, its certificate renewed under the running pods`,
    { timeout: 900_000 },
    async (t) => {
      const password = randomBytes(12).toString('hex');
      const ca = new CertificateAuthority(`${tool} stand-in cluster CA`);
      const requested: KubeObject[] = [];
      const cluster = new StandInCluster({
        subnet,
        issueCertificate: (certificate) => {
          requested.push(certificate);
          const issued = ca.issue({ commonName: certificate.metadata.name, dnsNames: certificate.spec.dnsNames });
          return tlsSecretData(issued, ca);
        },
      });
      const repository = new GitOpsRepository(tool);
      const client = ca.issue({ commonName: 'e2e test client' });
      const tls: ClientTls = { caFile: ca.certificateFile, certFile: client.certificateFile, keyFile: client.privateKeyFile };
      after(async () => {
        await cluster.destroy();
        repository.remove();
        ca.remove();
      });
      await createPasswordSecret(cluster, password);
      const step = storySteps(t);

      const assertShape = async (masters: number, replicasPerMaster: number) => {
        const check = await clusterCheck(cluster, password, tls);
        assert.ok(check.ok, `redis-cli --tls --cluster check failed:\n${check.output}`);
        const roles = await clusterRoles(cluster, password, tls);
        assert.equal(roles.masters.size, masters, `masters: ${[...roles.masters.keys()]}`);
        for (const [ordinal, slots] of roles.masters) {
          assert.ok(Math.abs(slots - 16384 / masters) < 1, `redis-cluster-${ordinal} holds ${slots} slots`);
          assert.equal([...roles.replicas.values()].filter((master) => master === ordinal).length, replicasPerMaster);
        }
        assert.deepEqual(new Set(roles.states), new Set(['ok']));
      };
      const assertAllKeys = async () => {
        const reader = clusterClient(cluster, password, tls);
        try {
          const result = await verifyKeysWith(reader, keys, 1000);
          assert.equal(result.missing + result.wrong, 0, `keys lost or wrong: ${result.examples.join(', ')}`);
        } finally {
          reader.disconnect();
        }
      };
      const jobLogs = (name: string) => cluster.jobs.get(name)?.logs ?? '(job did not run)';
      /** The serial of the certificate a pod serves to a new connection, verified against the CA for the pod's name. */
      const servedSerial = (ordinal: number) =>
        new Promise<string>((resolve, reject) => {
          const socket = connect({
            host: podAddress(cluster, ordinal),
            port: 6379,
            servername: `${statefulSetName}-${ordinal}.redis-cluster-svc.default.svc.cluster.local`,
            ca: ca.certificate,
            cert: client.certificate,
            key: client.privateKey,
          });
          socket.once('secureConnect', () => {
            resolve(socket.getPeerCertificate().serialNumber.replace(/^0+/, '').toUpperCase());
            socket.destroy();
          });
          socket.once('error', reject);
          socket.setTimeout(10_000, () => socket.destroy(new Error('TLS handshake timed out')));
        });
      /** The serial of the certificate the Secret holds now. */
      const secretSerial = () => {
        const secret = cluster.get('Secret', 'redis-cluster-tls')!;
        return new X509Certificate(Buffer.from(secret.data['tls.crt'], 'base64')).serialNumber.replace(/^0+/, '').toUpperCase();
      };

      await step('first sync: cert-manager issues the Certificate, the pods serve TLS only, the post Job forms the cluster over TLS', async () => {
        await repository.synth(TLS_PROPS);
        const result = await timed(`${tool} first sync with TLS`, () => repository.sync(cluster));
        assert.ok(result.ok, `sync failed at ${result.failedStep}: ${result.error}\n${jobLogs(postJobName)}`);
        assert.deepEqual(runningOrdinals(cluster), [0, 1, 2, 3, 4, 5]);
        assert.equal(requested.length, 1);
        // The pre Job mounts the Secret as optional: on the first sync it runs before cert-manager wrote it (Argo CD:
        // PreSync; Flux: the pre Kustomization) and, finding no pod, has nothing to connect to.
        const preDone = cluster.events.indexOf(`job succeeded ${preJobName}`);
        assert.ok(preDone >= 0 && preDone < cluster.events.indexOf('certificate issued redis-cluster-tls'), cluster.events.join(', '));
        assert.ok(requested[0].spec.usages.includes('client auth'), "the pods are each other's clients on the bus");
        await assertShape(3, 1);
        // No plaintext port: a client without TLS gets nothing.
        const plaintext = new Redis({
          host: podAddress(cluster, 0),
          port: 6379,
          password,
          lazyConnect: true,
          maxRetriesPerRequest: 0,
          retryStrategy: () => null,
          connectTimeout: 2000,
        });
        plaintext.on('error', () => {});
        await assert.rejects(plaintext.connect().then(() => plaintext.ping()));
        plaintext.disconnect();
        const application = clusterClient(cluster, password, tls);
        try {
          assert.equal(await application.set('k1', 'v1'), 'OK');
          assert.equal(await application.get('k1'), 'v1');
          await loadKeys(application, keys);
          // Clients are sent to nodes by the DNS name their certificate carries.
          const slots = (await application.cluster('SLOTS')) as unknown as Array<[number, number, [string, number, ...unknown[]]]>;
          assert.ok(
            slots.every(([, , [endpoint]]) => /^redis-cluster-\d+\.redis-cluster-svc\.default\.svc\.cluster\.local$/.test(endpoint)),
            JSON.stringify(slots),
          );
        } finally {
          application.disconnect();
        }
        assert.doesNotMatch(jobLogs(postJobName), new RegExp(password));
      });

      await step('masters 3 -> 4 over TLS: the keys move with MIGRATE between the pods over TLS, every key present', async () => {
        await repository.synth({ ...TLS_PROPS, masters: 4 });
        const result = await timed(`${tool} sync to 4 masters with TLS`, () => repository.sync(cluster));
        assert.ok(result.ok, `sync failed at ${result.failedStep}: ${result.error}\n${jobLogs(postJobName)}`);
        assert.deepEqual(runningOrdinals(cluster), [0, 1, 2, 3, 4, 5, 6, 7]);
        await assertShape(4, 1);
        await assertAllKeys();
      });

      await step(
        'cert-manager renews the certificate: every pod serves the new one within seconds, no pod restarts, clients and the cluster carry on',
        async () => {
          const before = await Promise.all(runningOrdinals(cluster).map(servedSerial));
          assert.equal(new Set(before).size, 1);
          const eventsBefore = cluster.events.length;
          const renewedAt = Date.now();
          await cluster.renewCertificate('redis-cluster-tls');
          const renewed = secretSerial();
          assert.notEqual(renewed, before[0]);
          for (;;) {
            const served = await Promise.all(runningOrdinals(cluster).map(servedSerial));
            if (served.every((serial) => serial === renewed)) break;
            if (Date.now() - renewedAt > ROTATION_DEADLINE_MS) assert.fail(`pods still serve ${served.join(', ')}, not ${renewed}`);
            await sleep(500);
          }
          console.log(`${tool}: every pod served the renewed certificate ${((Date.now() - renewedAt) / 1000).toFixed(1)} s after the Secret changed`);
          const events = cluster.events.slice(eventsBefore);
          assert.ok(!events.some((event) => event.startsWith('pod ')), `pods restarted: ${events.join(', ')}`);
          await assertShape(4, 1);
          await assertAllKeys();
        },
      );

      await step('masters 4 -> 3 over TLS with the renewed certificate: pods 6 and 7 go only after their slots moved, every key present', async () => {
        await repository.synth({ ...TLS_PROPS, masters: 3 });
        const eventsBefore = cluster.events.length;
        const result = await timed(`${tool} sync to 3 masters with TLS`, () => repository.sync(cluster));
        assert.ok(result.ok, `sync failed at ${result.failedStep}: ${result.error}\n${jobLogs(preJobName)}`);
        const events = cluster.events.slice(eventsBefore);
        const preDone = events.indexOf(`job succeeded ${preJobName}`);
        assert.ok(preDone >= 0, events.join(', '));
        for (const pod of ['redis-cluster-6', 'redis-cluster-7']) assert.ok(events.indexOf(`pod stopped ${pod}`) > preDone, events.join(', '));
        assert.deepEqual(runningOrdinals(cluster), [0, 1, 2, 3, 4, 5]);
        await assertShape(3, 1);
        await assertAllKeys();
      });
    },
  );
}

/**
 * Turning TLS on for a running cluster, as docs/operations.md says: the pods switch first, without the Jobs
 * (Argo CD: a sync with the apply strategy; Flux: `kubectl apply -f dist/main/`) and restart at once; then the
 * normal sync, whose Jobs now reach TLS pods. (A normal sync straight away stops at the pre Job, whose TLS cannot
 * reach the plaintext pods, before anything changes.)
 */
function switchScenario(tool: GitOpsTool, subnet: number): void {
  test(`${tool}: a running plaintext cluster switched to TLS as docs/operations.md says, every key kept`, { timeout: 900_000 }, async (t) => {
    const password = randomBytes(12).toString('hex');
    const ca = new CertificateAuthority(`${tool} switch stand-in CA`);
    const cluster = new StandInCluster({
      subnet,
      issueCertificate: (certificate) => tlsSecretData(ca.issue({ commonName: certificate.metadata.name, dnsNames: certificate.spec.dnsNames }), ca),
    });
    const repository = new GitOpsRepository(tool);
    const client = ca.issue({ commonName: 'e2e test client' });
    const tls: ClientTls = { caFile: ca.certificateFile, certFile: client.certificateFile, keyFile: client.privateKeyFile };
    after(async () => {
      await cluster.destroy();
      repository.remove();
      ca.remove();
    });
    await createPasswordSecret(cluster, password);
    const step = storySteps(t);
    const jobLogs = (name: string) => cluster.jobs.get(name)?.logs ?? '(job did not run)';

    await step('a plaintext cluster with keys', async () => {
      await repository.synth({ namespace: 'default' });
      const result = await timed(`${tool} first sync without TLS`, () => repository.sync(cluster));
      assert.ok(result.ok, `sync failed at ${result.failedStep}: ${result.error}`);
      const application = clusterClient(cluster, password);
      try {
        await loadKeys(application, keys);
      } finally {
        application.disconnect();
      }
    });

    await step('the pods switch first (no Jobs), restart at once and heal over TLS; then the normal sync passes; every key kept', async () => {
      await repository.synth(TLS_PROPS);
      await timed(`${tool}: the new pods applied without the Jobs`, async () => {
        if (tool === 'argocd') {
          const result = await argoSync(cluster, repository.dist, { strategy: 'apply' });
          assert.ok(result.ok, `sync failed at ${result.failedStep}: ${result.error}`);
        } else {
          // `kubectl apply` returns at once and the rollout waits for cert-manager's Secret; the stand-in rolls the
          // pods inside apply, so the Certificate goes first.
          const objects = readManifests(path.join(repository.dist, 'main'), true);
          for (const object of [...objects.filter((o) => o.kind === 'Certificate'), ...objects.filter((o) => o.kind !== 'Certificate')]) {
            await cluster.apply(object);
          }
        }
      });
      await timed(`${tool}: every pod restarted at once`, () => cluster.restartAllPods(statefulSetName));
      const restartedAt = Date.now();
      for (;;) {
        const healthy = await clusterRoles(cluster, password, tls)
          .then(async (roles) => roles.states.every((state) => state === 'ok') && (await clusterCheck(cluster, password, tls)).ok)
          .catch(() => false);
        if (healthy) break;
        if (Date.now() - restartedAt > 60_000) assert.fail('the cluster did not heal over TLS within 60 s');
        await sleep(500);
      }
      console.log(`${tool}: healthy over TLS ${((Date.now() - restartedAt) / 1000).toFixed(1)} s after the restart`);
      const result = await timed(`${tool} sync with TLS`, () => repository.sync(cluster));
      assert.ok(result.ok, `sync failed at ${result.failedStep}: ${result.error}\n${jobLogs(preJobName)}\n${jobLogs(postJobName)}`);
      const check = await clusterCheck(cluster, password, tls);
      assert.ok(check.ok, check.output);
      const reader = clusterClient(cluster, password, tls);
      try {
        const verified = await verifyKeysWith(reader, keys, 1000);
        assert.equal(verified.missing + verified.wrong, 0, verified.examples.join(', '));
      } finally {
        reader.disconnect();
      }
    });
  });
}

/** Runs the steps of one story in order; once a step fails, the rest are skipped, not run on a broken world. */
function storySteps(t: TestContext): (name: string, step: () => Promise<void>) => Promise<void> {
  let failed = false;
  return async (name, step) => {
    await t.test(name, { skip: failed ? 'an earlier step failed' : false, timeout: 300_000 }, async () => {
      try {
        await step();
      } catch (error) {
        failed = true;
        throw error;
      }
    });
  };
}

tlsScenario('argocd', 74);
tlsScenario('flux', 76);
switchScenario('argocd', 92);
switchScenario('flux', 94);
