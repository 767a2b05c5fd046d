// Where the pods run: each pod's node (spec.nodeName) and that node's zone label, read from the
// Kubernetes API with the Job's service account (read-only: list pods in the namespace, get nodes),
// over HTTPS verified against the mounted CA. The planner gets it as data in the view
// (PodNode.placement). Without access (a local run with --pods, no token mounted, RBAC refusing)
// placement is unknown and shards are placed as before; the run says so once.
import { readFile } from 'node:fs/promises';
import { request } from 'node:https';
import { describeError } from '../errors';
import type { ClusterView, Placement } from '../plan/model';
import type { Log } from '../progress';
import type { Settings } from '../settings';

/** Where Kubernetes mounts a pod's service account token, CA and namespace. */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** How to reach the API server: the in-cluster environment, or a test's stand-in. */
export interface ApiAccess {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly serviceAccountDir: string;
}

const inCluster: ApiAccess = { env: process.env, serviceAccountDir: SERVICE_ACCOUNT_DIR };

/** What a run keeps between rounds, per way of access (one in a Job). */
interface RunMemory {
  /** Each reason placement is (partly) unknown, and each placement, is logged once. */
  readonly said: Set<string>;
  /** Zones do not move: each node is asked once. */
  readonly zoneOfNode: Map<string, string | undefined>;
}

const memories = new WeakMap<ApiAccess, RunMemory>();

function memoryOf(access: ApiAccess): RunMemory {
  let memory = memories.get(access);
  if (!memory) {
    memory = { said: new Set(), zoneOfNode: new Map() };
    memories.set(access, memory);
  }
  return memory;
}

/** An API answer other than 200, with what it said. */
class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

interface Client {
  get(path: string): Promise<any>;
}

async function apiClient(access: ApiAccess): Promise<Client | string> {
  const host = access.env.KUBERNETES_SERVICE_HOST;
  if (!host) return 'no Kubernetes API address (KUBERNETES_SERVICE_HOST) in the environment';
  const port = Number(access.env.KUBERNETES_SERVICE_PORT || 443);
  let token: string;
  let ca: string;
  try {
    [token, ca] = await Promise.all([readFile(`${access.serviceAccountDir}/token`, 'utf8'), readFile(`${access.serviceAccountDir}/ca.crt`, 'utf8')]);
  } catch (error) {
    return `no service account token is mounted (${(error as NodeJS.ErrnoException).code ?? describeError(error)} at ${access.serviceAccountDir})`;
  }
  return {
    get: (path) =>
      new Promise((resolve, reject) => {
        const call = request(
          { host, port, path, method: 'GET', ca, timeout: 10_000, headers: { Authorization: `Bearer ${token.trim()}`, Accept: 'application/json' } },
          (response) => {
            const chunks: Buffer[] = [];
            response.on('data', (chunk: Buffer) => chunks.push(chunk));
            response.on('end', () => {
              const body = Buffer.concat(chunks).toString('utf8');
              if (response.statusCode === 200) {
                try {
                  resolve(JSON.parse(body));
                } catch (error) {
                  reject(new Error(`GET ${path}: not JSON (${describeError(error)})`));
                }
                return;
              }
              let reason = body.slice(0, 200);
              try {
                reason = JSON.parse(body).message ?? reason;
              } catch {
                // not a Status object: the text as it came
              }
              reject(new ApiError(response.statusCode ?? 0, `GET ${path}: HTTP ${response.statusCode}: ${reason}`));
            });
            response.on('error', reject);
          },
        );
        call.on('timeout', () => call.destroy(new Error(`GET ${path}: no answer within 10 s`)));
        call.on('error', reject);
        call.end();
      }),
  };
}

/** The node of each of the StatefulSet's pods, by pod name (list pods, in pages). */
async function podNodes(client: Client, namespace: string): Promise<Map<string, string>> {
  const nodes = new Map<string, string>();
  let next = '';
  do {
    const page = await client.get(
      `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods?labelSelector=${encodeURIComponent('statefulset.kubernetes.io/pod-name')}&limit=500${next ? `&continue=${encodeURIComponent(next)}` : ''}`,
    );
    for (const pod of page.items ?? []) if (pod?.metadata?.name && pod?.spec?.nodeName) nodes.set(pod.metadata.name, pod.spec.nodeName);
    next = page.metadata?.continue ?? '';
  } while (next);
  return nodes;
}

/** Each node's zone label (undefined: the node has none); nodes asked a few at a time. */
async function nodeZones(client: Client, names: readonly string[], zoneLabel: string, zoneOfNode: Map<string, string | undefined>): Promise<void> {
  const queue = names.filter((name) => !zoneOfNode.has(name));
  const worker = async () => {
    for (let name = queue.shift(); name !== undefined; name = queue.shift()) {
      const node = await client.get(`/api/v1/nodes/${encodeURIComponent(name)}`);
      zoneOfNode.set(name, node?.metadata?.labels?.[zoneLabel]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(8, queue.length) }, worker));
}

function denied(error: unknown): boolean {
  return error instanceof ApiError && (error.status === 401 || error.status === 403);
}

/**
 * The view with each pod's placement, as far as it can be learnt. Never fails the run: what cannot
 * be read is unknown, said once.
 */
export async function withPlacement(view: ClusterView, settings: Settings, log: Log, access: ApiAccess = inCluster): Promise<ClusterView> {
  const { said, zoneOfNode } = memoryOf(access);
  const sayOnce = (message: string) => {
    if (said.has(message)) return;
    said.add(message);
    log.info(message);
  };
  const unknown = (why: string) => {
    sayOnce(`placement: where the pods run is unknown (${why}); shards are placed without it`);
    return view;
  };
  if (settings.pods) return unknown('pods were given with --pods');
  const client = await apiClient(access);
  if (typeof client === 'string') return unknown(client);
  const { statefulSetName, namespace } = settings.discovery;
  let nodeOfPod: Map<string, string>;
  try {
    nodeOfPod = await podNodes(client, namespace);
  } catch (error) {
    return unknown(denied(error) ? `the service account may not list pods: ${describeError(error)}` : describeError(error));
  }
  const names = [...new Set(view.pods.flatMap((pod) => nodeOfPod.get(`${statefulSetName}-${pod.ordinal}`) ?? []))].sort();
  try {
    await nodeZones(client, names, settings.placement.zoneLabel, zoneOfNode);
  } catch (error) {
    const why = denied(error) ? `the service account may not get nodes: ${describeError(error)}` : describeError(error);
    sayOnce(`placement: zones are unknown (${why}); shards are spread over nodes only`);
  }
  const pods = view.pods.map((pod) => {
    const node = nodeOfPod.get(`${statefulSetName}-${pod.ordinal}`);
    const zone = node === undefined ? undefined : zoneOfNode.get(node);
    const placement: Placement = { ...(settings.placement.nodes && node !== undefined ? { node } : {}), ...(zone !== undefined ? { zone } : {}) };
    return Object.keys(placement).length === 0 ? pod : { ...pod, placement };
  });
  sayOnce(`placement: ${describePlacement(pods, settings.placement.zoneLabel)}`);
  return { ...view, pods };
}

/** "zone a: pods 0,3 (nodes n1, n2); zone b: ..." for the log. */
function describePlacement(pods: ClusterView['pods'], zoneLabel: string): string {
  const byZone = new Map<string, { ordinals: number[]; nodes: Set<string> }>();
  for (const pod of pods) {
    const zone = pod.placement?.zone === undefined ? `no ${zoneLabel} label` : `zone ${pod.placement.zone}`;
    const entry = byZone.get(zone) ?? { ordinals: [], nodes: new Set<string>() };
    entry.ordinals.push(pod.ordinal);
    if (pod.placement?.node) entry.nodes.add(pod.placement.node);
    byZone.set(zone, entry);
  }
  return [...byZone]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(
      ([zone, { ordinals, nodes }]) => `${zone}: pods ${ordinals.join(',')}${nodes.size > 0 ? ` on ${nodes.size} node(s) ${[...nodes].sort().join(' ')}` : ''}`,
    )
    .join('; ');
}
