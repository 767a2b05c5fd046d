// The redis_exporter sidecar for real: Debian's prometheus-redis-exporter run with the sidecar's own
// arguments and env, taken from the synthesized StatefulSet, against a real 3 x 1 cluster. Only what a pod
// would see differently is mapped: `localhost` is the pod's loopback address here, the listen port is one per
// exporter on 127.0.0.1, the mounted ConfigMap is a directory, and the Secret is the test's password. Its
// /metrics is scraped over HTTP and checked for the series the alerts use, healthy and broken.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { readClusterNodes } from '../support/cluster-view.js';
import { tagForSlot } from '../support/key-slots.js';
import { bulkClient, loadKeys } from '../support/keyspace.js';
import { LocalRedisPods } from '../support/redis-pods.js';
import { ensureBundle, runTopologyOk, topologyArgs } from '../support/topology-cli.js';
import { find, SEED_PROPS, synthObjects, tempDir } from '../chart/chart-fixtures.js';

const password = 'metrics-test-Pa55word';
const maxmemoryBytes = 64 * 1024 * 1024;
const pods = new LocalRedisPods({ subnet: 52, password, maxmemory: '64mb' });
const range = (count: number, from = 0) => Array.from({ length: count }, (_, index) => from + index);
/** One loopback port per exporter, derived from the pid so concurrent runs do not collide. */
const exporterPort = (ordinal: number) => 20000 + (process.pid % 1000) * 8 + ordinal;
const DEADLINE_MS = 30_000;
/**
 * Debian's build of redis_exporter (1.45), or the binary REDIS_EXPORTER names, e.g. the release of the image the
 * chart pins (v1.91.1): its flags and the metrics the alerts use are the same.
 */
const exporterBinary = process.env.REDIS_EXPORTER ?? 'prometheus-redis-exporter';

// The sidecar as the chart synthesizes it.
const objects = synthObjects({ ...SEED_PROPS, monitoring: { prometheusRule: {} } });
const statefulSet = find(objects, 'StatefulSet', 'redis-cluster');
const podSpec = statefulSet.spec.template.spec;
const sidecar = podSpec.containers.find((container: any) => container.name === 'metrics');
const rule = find(objects, 'PrometheusRule', 'redis-cluster');

/** The ConfigMaps the sidecar mounts, written out as directories: mount path -> local directory. */
function mountedConfigMaps(): Map<string, string> {
  const mounts = new Map<string, string>();
  const root = tempDir('exporter-mounts');
  for (const mount of sidecar.volumeMounts) {
    const volume = podSpec.volumes.find((candidate: any) => candidate.name === mount.name);
    assert.ok(volume?.configMap, `the sidecar mounts ${mount.name}, which is not a ConfigMap: the test does not know how to provide it`);
    const data: Record<string, string> = find(objects, 'ConfigMap', volume.configMap.name).data;
    const dir = path.join(root, mount.name);
    mkdirSync(dir, { recursive: true });
    for (const [key, content] of Object.entries(data)) writeFileSync(path.join(dir, key), content);
    mounts.set(mount.mountPath, dir);
  }
  return mounts;
}

/** The sidecar's arguments with what differs outside a pod mapped, and nothing else changed. */
function exporterArgs(ordinal: number, mounts: Map<string, string>): string[] {
  return sidecar.args.map((arg: string) => {
    const [flag, value] = arg.split(/=(.*)/s, 2);
    if (flag === '--redis.addr') return `${flag}=${value.replace('//localhost:', `//${pods.hostOf(ordinal)}:`)}`;
    if (flag === '--web.listen-address') {
      assert.match(value, /^:9121$/);
      return `${flag}=127.0.0.1:${exporterPort(ordinal)}`;
    }
    for (const [mountPath, dir] of mounts) {
      if (value?.startsWith(`${mountPath}/`)) return `${flag}=${dir}${value.slice(mountPath.length)}`;
    }
    return arg;
  });
}

/** The sidecar's env as Kubernetes would give it: plain values, and the Secret's password. */
function exporterEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const entry of sidecar.env) {
    if (entry.value !== undefined) env[entry.name] = entry.value;
    else if (entry.valueFrom?.secretKeyRef) {
      assert.deepEqual(entry.valueFrom.secretKeyRef, { ...SEED_PROPS.passwordSecret, optional: false });
      env[entry.name] = password;
    } else assert.fail(`env ${entry.name} has a source the test does not resolve: ${JSON.stringify(entry)}`);
  }
  return env;
}

const exporters = new Map<number, ChildProcess>();
const exporterLogs = new Map<number, string>();

function startExporter(ordinal: number, mounts: Map<string, string>): void {
  // Only PATH from the test's own environment: the exporter reads REDIS_* variables, which must come from the manifest alone.
  const child = spawn(exporterBinary, exporterArgs(ordinal, mounts), {
    env: { PATH: process.env.PATH!, ...exporterEnv() },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  exporterLogs.set(ordinal, '');
  const append = (chunk: Buffer) => exporterLogs.set(ordinal, (exporterLogs.get(ordinal)! + chunk.toString()).slice(-4000));
  child.stdout!.on('data', append);
  child.stderr!.on('data', append);
  exporters.set(ordinal, child);
}

async function stopExporters(): Promise<void> {
  await Promise.all(
    [...exporters.values()].map(async (child) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }),
  );
}

interface Sample {
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly value: number;
}

/** Prometheus' text format, the lines the tests read. */
function parseMetrics(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) continue;
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[key] = value;
    samples.push({ name: match[1], labels, value: Number(match[3]) });
  }
  return samples;
}

async function scrape(ordinal: number): Promise<Sample[]> {
  const response = await fetch(`http://127.0.0.1:${exporterPort(ordinal)}/metrics`, { signal: AbortSignal.timeout(10_000) });
  assert.equal(response.status, 200);
  return parseMetrics(await response.text());
}

function value(samples: readonly Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  return samples.find((sample) => sample.name === name && Object.entries(labels).every(([key, wanted]) => sample.labels[key] === wanted))?.value;
}

const script = (samples: readonly Sample[], key: string) => value(samples, 'redis_script_values', { key });

/** Scrapes until `check` holds (real state changes such as a replica losing its link take a moment). */
async function waitForMetrics(ordinal: number, what: string, check: (samples: Sample[]) => boolean): Promise<Sample[]> {
  const deadline = Date.now() + DEADLINE_MS;
  let samples: Sample[] = [];
  for (;;) {
    try {
      samples = await scrape(ordinal);
      if (check(samples)) return samples;
    } catch (error) {
      if (Date.now() > deadline) throw error;
    }
    if (Date.now() > deadline) {
      const shown = samples.filter((sample) =>
        /^redis_(up|cluster_state|cluster_slots|connected_slaves|master_link|memory_(used|max)_bytes|evicted|script)/.test(sample.name),
      );
      assert.fail(
        `pod ${ordinal}: ${what} not seen in ${DEADLINE_MS / 1000} s; the exporter said:\n${shown.map((s) => `${s.name}${JSON.stringify(s.labels)} ${s.value}`).join('\n')}\nlog: ${exporterLogs.get(ordinal)}`,
      );
    }
    await sleep(200);
  }
}

async function onPod<T>(ordinal: number, action: (client: ReturnType<typeof pods.connect>) => Promise<T>): Promise<T> {
  const client = pods.connect(ordinal);
  client.on('error', () => {});
  try {
    return await action(client);
  } finally {
    client.disconnect();
  }
}

/** Masters and, for each, its replica's ordinal, from CLUSTER NODES. */
async function shards(): Promise<{ master: number; replica: number; slots: number[] }[]> {
  const entries = await readClusterNodes(pods, 0);
  const ordinalOf = (address: string) => range(6).find((ordinal) => pods.addresses(6)[ordinal] === address)!;
  return entries
    .filter((entry) => entry.role === 'master')
    .map((master) => ({
      master: ordinalOf(master.address),
      replica: ordinalOf(entries.find((entry) => entry.masterId === master.id)!.address),
      slots: master.slots,
    }))
    .sort((a, b) => a.master - b.master);
}

describe('the redis_exporter sidecar against real cluster nodes', () => {
  before(async () => {
    ensureBundle();
    await pods.startMany(6);
    await runTopologyOk(topologyArgs({ phase: 'post', masters: 3, replicasPerMaster: 1, pods: pods.addresses(6) }), { env: { REDIS_PASSWORD: password } });
    const mounts = mountedConfigMaps();
    for (const ordinal of range(6)) startExporter(ordinal, mounts);
    for (const ordinal of range(6)) await waitForMetrics(ordinal, 'a first scrape with redis_up 1', (samples) => value(samples, 'redis_up') === 1);
  });

  after(async () => {
    await stopExporters();
    await pods.destroy();
  });

  test('exposes every series the alerts use, from the real exporter', async () => {
    const names = new Set<string>();
    for (const ordinal of range(6)) for (const sample of await scrape(ordinal)) names.add(sample.name);
    const used = new Set<string>();
    for (const entry of rule.spec.groups.flatMap((group: any) => group.rules)) {
      for (const [, name] of String(entry.expr).matchAll(/([a-z_]+)\{/g)) used.add(name);
    }
    used.delete('kube_job_failed'); // from kube-state-metrics, not the exporter
    assert.ok(used.size >= 10, [...used].join(' '));
    assert.deepEqual(
      [...used].filter((name) => !names.has(name)),
      [],
      'series the alerts use that the exporter does not expose',
    );
  });

  test('a healthy cluster: state ok, all slots, a replica per master, links up, maxmemory, no evictions, no open slots', async () => {
    let ownedSlots = 0;
    for (const { master, replica } of await shards()) {
      const masterSamples = await waitForMetrics(master, 'its replica connected', (samples) => value(samples, 'redis_connected_slaves') === 1);
      const replicaSamples = await waitForMetrics(replica, 'its master link up', (samples) => value(samples, 'redis_master_link_up') === 1);
      assert.equal(value(masterSamples, 'redis_instance_info', { role: 'master' }), 1);
      assert.equal(value(replicaSamples, 'redis_instance_info', { role: 'slave' }), 1);
      assert.equal(value(replicaSamples, 'redis_master_sync_in_progress'), 0);
      assert.equal(script(replicaSamples, 'cluster_owned_slots'), 0);
      ownedSlots += script(masterSamples, 'cluster_owned_slots')!;
      for (const samples of [masterSamples, replicaSamples]) {
        assert.equal(value(samples, 'redis_up'), 1);
        assert.equal(value(samples, 'redis_cluster_state'), 1);
        assert.equal(value(samples, 'redis_cluster_slots_ok'), 16384);
        assert.equal(value(samples, 'redis_cluster_known_nodes'), 6);
        assert.equal(value(samples, 'redis_memory_max_bytes'), maxmemoryBytes);
        assert.ok(value(samples, 'redis_memory_used_bytes')! > 0);
        assert.equal(value(samples, 'redis_evicted_keys_total'), 0);
        assert.equal(script(samples, 'cluster_slots_migrating'), 0);
        assert.equal(script(samples, 'cluster_slots_importing'), 0);
        assert.equal(script(samples, 'cluster_open_slot_lowest'), -1);
      }
    }
    assert.equal(ownedSlots, 16384, 'the masters own every slot between them');
  });

  test('a slot left open shows as MIGRATING on its source and IMPORTING on its target, and clears', async () => {
    const [source, target] = await shards();
    const slot = source.slots[7];
    const idOf = (ordinal: number) => onPod(ordinal, async (client) => String(await client.call('CLUSTER', 'MYID')));
    await onPod(target.master, async (client) => client.call('CLUSTER', 'SETSLOT', slot, 'IMPORTING', await idOf(source.master)));
    await onPod(source.master, async (client) => client.call('CLUSTER', 'SETSLOT', slot, 'MIGRATING', await idOf(target.master)));
    try {
      const sourceSamples = await scrape(source.master);
      assert.equal(script(sourceSamples, 'cluster_slots_migrating'), 1);
      assert.equal(script(sourceSamples, 'cluster_open_slot_lowest'), slot);
      const targetSamples = await scrape(target.master);
      assert.equal(script(targetSamples, 'cluster_slots_importing'), 1);
      assert.equal(script(targetSamples, 'cluster_open_slot_lowest'), slot);
    } finally {
      for (const ordinal of [source.master, target.master]) await onPod(ordinal, (client) => client.call('CLUSTER', 'SETSLOT', slot, 'STABLE'));
    }
    for (const ordinal of [source.master, target.master]) {
      const samples = await scrape(ordinal);
      assert.equal(script(samples, 'cluster_slots_migrating')! + script(samples, 'cluster_slots_importing')!, 0);
      assert.equal(script(samples, 'cluster_open_slot_lowest'), -1);
    }
  });

  test('a replica whose link is down: master_link_up 0 on it, connected_slaves 0 on its master; both recover', async () => {
    const { master, replica } = (await shards())[1];
    await onPod(replica, async (client) => {
      await client.call('CONFIG', 'SET', 'masterauth', 'not-the-password');
      await client.call('CLIENT', 'KILL', 'TYPE', 'master');
    });
    try {
      const replicaSamples = await waitForMetrics(replica, 'redis_master_link_up 0', (samples) => value(samples, 'redis_master_link_up') === 0);
      assert.equal(value(replicaSamples, 'redis_master_sync_in_progress'), 0, 'not a sync in progress: the alert must not wait it out');
      await waitForMetrics(master, 'redis_connected_slaves 0', (samples) => value(samples, 'redis_connected_slaves') === 0);
    } finally {
      await onPod(replica, (client) => client.call('CONFIG', 'SET', 'masterauth', password));
    }
    await waitForMetrics(replica, 'redis_master_link_up 1 again', (samples) => value(samples, 'redis_master_link_up') === 1);
    await waitForMetrics(master, 'redis_connected_slaves 1 again', (samples) => value(samples, 'redis_connected_slaves') === 1);
  });

  test('a node that is down: redis_up 0 from its exporter, which keeps answering', async () => {
    const { replica } = (await shards())[2];
    await pods.stop(replica);
    try {
      await waitForMetrics(replica, 'redis_up 0', (samples) => value(samples, 'redis_up') === 0);
    } finally {
      await pods.start(replica);
    }
    await waitForMetrics(
      replica,
      'redis_up 1 and its link up again',
      (samples) => value(samples, 'redis_up') === 1 && value(samples, 'redis_master_link_up') === 1,
    );
  });

  test('a master at maxmemory: used near max, and evictions counted', async () => {
    const { master, slots } = (await shards())[0];
    // The replication backlog counts against maxmemory and fills as the master writes, up to
    // repl-backlog-size (1 MiB on Redis, 10 MiB on Valkey), and evicting keys does not shrink it: the
    // master gets room for the backlog still to come, and 2 MiB for keys.
    const { used, backlogToCome } = await onPod(master, async (client) => {
      const memory = await client.info('memory');
      const field = (name: string) => Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(memory)![1]);
      const [, backlogSize] = (await client.call('CONFIG', 'GET', 'repl-backlog-size')) as string[];
      return { used: field('used_memory'), backlogToCome: Math.max(0, Number(backlogSize) - field('mem_replication_backlog')) };
    });
    const smallMaxmemory = used + backlogToCome + 2 * 1024 * 1024;
    await onPod(master, async (client) => {
      await client.call('CONFIG', 'SET', 'maxmemory-policy', 'allkeys-lru');
      await client.call('CONFIG', 'SET', 'maxmemory', String(smallMaxmemory));
    });
    try {
      // 4 MiB more than that room, all in one slot of this master.
      const cluster = bulkClient(pods);
      try {
        const count = Math.ceil((backlogToCome + 6 * 1024 * 1024) / 1000);
        await loadKeys(cluster, { prefix: `evict:{${tagForSlot(slots[0])}}`, count, valueSize: 1000 }, 0, 500);
      } finally {
        await cluster.quit();
      }
      const samples = await waitForMetrics(master, 'evictions', (current) => value(current, 'redis_evicted_keys_total')! > 0);
      assert.equal(value(samples, 'redis_memory_max_bytes'), smallMaxmemory);
      const ratio = value(samples, 'redis_memory_used_bytes')! / value(samples, 'redis_memory_max_bytes')!;
      assert.ok(ratio > 0.9, `used/max = ${ratio}`);
      assert.equal(value(samples, 'redis_instance_info', { role: 'master', maxmemory_policy: 'allkeys-lru' }), 1);
    } finally {
      await onPod(master, async (client) => {
        await client.call('CONFIG', 'SET', 'maxmemory', String(maxmemoryBytes));
        await client.call('CONFIG', 'SET', 'maxmemory-policy', 'noeviction');
      });
    }
  });

  test('a node that lost a slot: cluster_state 0 and fewer slots ok; back when the slot is back', async () => {
    const { master, slots } = (await shards())[2];
    const slot = slots[0];
    await onPod(master, (client) => client.call('CLUSTER', 'DELSLOTS', slot));
    try {
      const samples = await waitForMetrics(master, 'cluster_state 0', (current) => value(current, 'redis_cluster_state') === 0);
      assert.equal(value(samples, 'redis_cluster_slots_ok'), 16383);
      assert.equal(value(samples, 'redis_cluster_slots_assigned'), 16383);
      assert.equal(value(samples, 'redis_cluster_known_nodes'), 6, 'a joined node: the alert does not take it for a new pod');
    } finally {
      await onPod(master, (client) => client.call('CLUSTER', 'ADDSLOTS', slot));
    }
    await waitForMetrics(
      master,
      'cluster_state 1 again',
      (current) => value(current, 'redis_cluster_state') === 1 && value(current, 'redis_cluster_slots_ok') === 16384,
    );
  });

  test('leaves the cluster as it found it', async () => {
    const check = await pods.clusterCheck();
    assert.ok(check.ok, check.output);
    for (const ordinal of range(6)) assert.ok(exporters.get(ordinal)!.exitCode === null, `exporter ${ordinal} is still running`);
  });
});
