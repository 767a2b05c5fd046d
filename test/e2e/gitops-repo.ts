// The end-to-end scenarios' world: a GitOps repository holding dist/ as `npm run synth` writes it,
// a kubelet stand-in that runs it, and Argo CD or Flux applying it in their order.
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import Redis, { type Cluster } from 'ioredis';
import { argoSync, fluxSync, type SyncResult } from '../support/gitops-standin';
import { StandInCluster } from '../support/kubelet-standin';
import { readManifests } from '../support/manifests';

const execFileAsync = promisify(execFile);
export const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export type GitOpsTool = 'argocd' | 'flux';

export const statefulSetName = 'redis-cluster';
export const preJobName = 'redis-cluster-topology-pre';
export const postJobName = 'redis-cluster-topology-post';

/** A checkout of the user's GitOps repository: dist/ is what Argo CD or Flux reads. */
export class GitOpsRepository {
  readonly root = mkdtempSync(path.join(tmpdir(), 'gitops-repo-'));

  constructor(readonly tool: GitOpsTool) {}

  get dist(): string {
    return path.join(this.root, 'dist');
  }

  /** The project's committed dist/, as the user commits it after `npm run synth`. */
  useCommittedDist(): void {
    rmSync(this.dist, { recursive: true, force: true });
    cpSync(path.join(projectRoot, 'dist'), this.dist, { recursive: true });
  }

  /**
   * `npm run synth` with main.ts's cluster changed by `changes` (what a user edits in main.ts),
   * written to this repository's dist/. Returns what synth printed.
   */
  async synth(changes: Record<string, unknown> = {}): Promise<string> {
    const { stdout } = await execFileAsync(path.join(projectRoot, 'node_modules', '.bin', 'tsx'), ['main.ts', '--outdir', this.dist], {
      cwd: projectRoot,
      env: { ...process.env, REDIS_CLUSTER_PROPS_JSON: JSON.stringify({ gitops: this.tool, ...changes }) },
      timeout: 120_000,
    });
    return stdout;
  }

  /** One sync by the chosen tool of what dist/ holds now. */
  sync(cluster: StandInCluster, timeoutMs = 300_000): Promise<SyncResult> {
    if (this.tool === 'argocd') return argoSync(cluster, this.dist, { timeoutMs });
    const kustomizations = readManifests(path.join(this.dist, 'flux'), true).filter(
      (object) => object.kind === 'Kustomization' && object.apiVersion.startsWith('kustomize.toolkit.fluxcd.io/'),
    );
    if (kustomizations.length === 0) throw new Error(`no Flux Kustomizations under ${this.dist}/flux`);
    return fluxSync(cluster, kustomizations, this.root, { timeoutMs });
  }

  /** `kubectl delete` of everything dist/ holds (the Argo CD app deleted with cascade, or the Kustomizations pruned). */
  async deleteAll(cluster: StandInCluster): Promise<void> {
    const objects = readManifests(this.dist, true).filter((object) => !object.apiVersion.startsWith('kustomize.'));
    for (const object of objects.reverse()) await cluster.delete(object.kind, object.metadata.name);
  }

  remove(): void {
    rmSync(this.root, { recursive: true, force: true });
  }
}

/** The Secret the user creates once with kubectl (README), before the first sync. */
export async function createPasswordSecret(cluster: StandInCluster, password: string): Promise<void> {
  await cluster.apply({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'redis-cluster-auth' },
    type: 'Opaque',
    data: { password: Buffer.from(password).toString('base64') },
  });
}

export function podAddress(cluster: StandInCluster, ordinal: number): string {
  const pod = cluster.pods.get(`${statefulSetName}-${ordinal}`);
  if (!pod) throw new Error(`pod ${statefulSetName}-${ordinal} is not running`);
  return pod.ip;
}

export function runningOrdinals(cluster: StandInCluster): number[] {
  return cluster.podsOf(statefulSetName).map((pod) => pod.ordinal);
}

/** A cluster client as an application would have one, seeded with every running pod. */
/**
 * How the tests reach a TLS cluster (dist/ with `tls`): the CA the pods' certificates chain to and a client
 * certificate it signed (the pods require one), as files, for redis-cli and ioredis alike.
 */
export interface ClientTls {
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
}

/** The cluster's pods by their DNS names (what CLUSTER SLOTS gives with TLS), for clients outside the stand-in's DNS. */
function podIpsByName(cluster: StandInCluster): Map<string, string> {
  const statefulSet = cluster.get('StatefulSet', statefulSetName);
  const names = new Map<string, string>();
  if (!statefulSet) return names;
  for (const pod of cluster.podsOf(statefulSetName)) names.set(cluster.podDnsName(statefulSet, pod.ordinal), pod.ip);
  return names;
}

function tlsOptions(tls: ClientTls, servername: string) {
  return { ca: readFileSync(tls.caFile), cert: readFileSync(tls.certFile), key: readFileSync(tls.keyFile), servername };
}

/**
 * With `tls`: the nodes send clients to each other by DNS name, which this process cannot resolve, so each name
 * is mapped to its pod's address (natMap), and every node is checked for the client Service's name, which the
 * certificate carries too (what an application outside the cluster DNS does).
 */
export function clusterClient(cluster: StandInCluster, password: string, tls?: ClientTls): Cluster {
  const seeds = cluster.podsOf(statefulSetName).map((pod) => ({ host: pod.ip, port: 6379 }));
  return new Redis.Cluster(seeds, {
    redisOptions: {
      password,
      connectTimeout: 2000,
      maxRetriesPerRequest: 3,
      ...(tls ? { tls: tlsOptions(tls, `${statefulSetName}-client.${cluster.namespace}.svc.${cluster.clusterDomain}`) } : {}),
    },
    ...(tls
      ? {
          natMap: (key: string) => {
            const [host, port] = [key.slice(0, key.lastIndexOf(':')), Number(key.slice(key.lastIndexOf(':') + 1))];
            return { host: podIpsByName(cluster).get(host) ?? host, port };
          },
        }
      : {}),
    slotsRefreshTimeout: 2000,
    retryDelayOnTryAgain: 100,
    retryDelayOnClusterDown: 300,
    maxRedirections: 32,
  });
}

/** `redis-cli --cluster check` (the cli of the server the pods run, `valkey-cli` on Valkey) against pod 0, the independent judge. */
export async function clusterCheck(cluster: StandInCluster, password: string, tls?: ClientTls): Promise<{ ok: boolean; output: string }> {
  const tlsArgs = tls ? ['--tls', '--cacert', tls.caFile, '--cert', tls.certFile, '--key', tls.keyFile] : [];
  try {
    const { stdout } = await execFileAsync(cluster.binaries.cli, [...tlsArgs, '--cluster', 'check', `${podAddress(cluster, 0)}:6379`], {
      env: { ...process.env, REDISCLI_AUTH: password },
      timeout: 60_000,
    });
    return { ok: true, output: stdout };
  } catch (error) {
    const failure = error as { stdout?: string; stderr?: string };
    return { ok: false, output: `${failure.stdout ?? ''}${failure.stderr ?? ''}` };
  }
}

/** Each running pod's role as its own CLUSTER NODES says, and how many slots each master has. */
export async function clusterRoles(
  cluster: StandInCluster,
  password: string,
  tls?: ClientTls,
): Promise<{ masters: Map<number, number>; replicas: Map<number, number>; states: string[] }> {
  const masters = new Map<number, number>();
  const replicas = new Map<number, number>();
  const states: string[] = [];
  const idToOrdinal = new Map<string, number>();
  const lines = new Map<number, string[]>();
  for (const ordinal of runningOrdinals(cluster)) {
    // Over TLS each pod is checked for its own DNS name.
    const name = `${statefulSetName}-${ordinal}.${cluster.get('StatefulSet', statefulSetName)?.spec.serviceName}.${cluster.namespace}.svc.${cluster.clusterDomain}`;
    const client = new Redis({
      host: podAddress(cluster, ordinal),
      port: 6379,
      password,
      lazyConnect: true,
      maxRetriesPerRequest: 1,
      ...(tls ? { tls: tlsOptions(tls, name) } : {}),
    });
    client.on('error', () => {});
    try {
      await client.connect();
      const nodes = String(await client.call('CLUSTER', 'NODES'))
        .trim()
        .split('\n');
      const info = String(await client.call('CLUSTER', 'INFO'));
      states.push(/cluster_state:(\w+)/.exec(info)?.[1] ?? 'unknown');
      const self = nodes.find((line) => line.split(' ')[2].includes('myself'))!;
      idToOrdinal.set(self.split(' ')[0], ordinal);
      lines.set(ordinal, nodes);
    } finally {
      client.disconnect();
    }
  }
  for (const [ordinal, nodes] of lines) {
    const self = nodes.find((line) => line.split(' ')[2].includes('myself'))!.split(' ');
    if (self[2].includes('master')) {
      let slots = 0;
      for (const range of self.slice(8)) {
        const match = /^(\d+)(?:-(\d+))?$/.exec(range);
        if (match) slots += (match[2] === undefined ? 0 : Number(match[2]) - Number(match[1])) + 1;
      }
      masters.set(ordinal, slots);
    } else {
      replicas.set(ordinal, idToOrdinal.get(self[3]) ?? -1);
    }
  }
  return { masters, replicas, states };
}

export async function timed<T>(label: string, action: () => Promise<T>): Promise<T> {
  const started = Date.now();
  try {
    return await action();
  } finally {
    console.log(`${label}: ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }
}
