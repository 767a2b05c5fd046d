// A stand-in for the part of the Kubernetes API server the topology program reads: pods (list, in
// pages) and nodes (get), over HTTPS on loopback with a CA made here by openssl, answering only to
// service account tokens it issued, and only as far as the RBAC objects it is shown allow
// (Role/ClusterRole through RoleBinding/ClusterRoleBinding, as Kubernetes' RBAC authorizer decides).
// `ServiceAccountAdmission` does the kubelet's and admission's part for the kubelet stand-in: a Job
// whose pod asks for its token gets it mounted where Kubernetes mounts it, and the API's address in env.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { KubeObject } from './manifests';

export const SERVICE_ACCOUNT_MOUNT = '/var/run/secrets/kubernetes.io/serviceaccount';

/** A pod as the API lists it: the part the program reads. */
export interface ApiPod {
  readonly name: string;
  readonly namespace: string;
  readonly labels: Record<string, string>;
  readonly nodeName?: string;
}

export interface KubeApiOptions {
  /** The pods that exist now. */
  readonly pods: () => readonly ApiPod[];
  /** Node name -> its labels. */
  readonly nodes: () => Readonly<Record<string, Record<string, string>>>;
  /** The RBAC objects applied so far (others are ignored); a namespaced one without namespace is in `defaultNamespace`. */
  readonly objects: () => Iterable<KubeObject>;
  readonly defaultNamespace: string;
  /** Items per page of a list, whatever the client asks (a real server may send fewer than `limit` too). */
  readonly pageSize?: number;
}

interface Request {
  readonly method: string;
  readonly path: string;
  readonly user: string;
  readonly status: number;
}

export class KubeApiStandIn {
  readonly host = '127.0.0.1';
  port = 0;
  /** The CA the server's certificate chains to (PEM), what a pod finds in ca.crt. */
  ca = '';
  readonly requests: Request[] = [];
  private server?: Server;
  private readonly dir = mkdtempSync(path.join(tmpdir(), 'kube-api-standin-'));
  private readonly tokens = new Map<string, { namespace: string; name: string }>();

  constructor(private readonly options: KubeApiOptions) {}

  async start(): Promise<void> {
    const file = (name: string) => path.join(this.dir, name);
    const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
    openssl(
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '2',
      '-subj',
      '/CN=kube-api-standin-ca',
      '-keyout',
      file('ca.key'),
      '-out',
      file('ca.crt'),
    );
    openssl(
      'req',
      '-new',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-subj',
      '/CN=kubernetes',
      '-keyout',
      file('server.key'),
      '-out',
      file('server.csr'),
    );
    writeFileSync(file('server.ext'), `subjectAltName=IP:${this.host},DNS:kubernetes.default.svc\n`);
    openssl(
      'x509',
      '-req',
      '-in',
      file('server.csr'),
      '-CA',
      file('ca.crt'),
      '-CAkey',
      file('ca.key'),
      '-CAcreateserial',
      '-days',
      '2',
      '-extfile',
      file('server.ext'),
      '-out',
      file('server.crt'),
    );
    this.ca = readFileSync(file('ca.crt'), 'utf8');
    const server = createServer({ key: readFileSync(file('server.key')), cert: readFileSync(file('server.crt')) }, (request, response) => {
      const { status, body, user } = this.answer(request.method ?? 'GET', request.url ?? '/', request.headers.authorization);
      this.requests.push({ method: request.method ?? 'GET', path: request.url ?? '/', user, status });
      response.writeHead(status, { 'Content-Type': 'application/json' });
      response.end(JSON.stringify(body));
    });
    await new Promise<void>((resolve) => server.listen(0, this.host, resolve));
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
  }

  /** A token for a service account, as the kubelet gets one for a pod. */
  issueToken(namespace: string, name: string): string {
    const token = `standin.${namespace}.${name}.${Math.random().toString(36).slice(2)}`;
    this.tokens.set(token, { namespace, name });
    return token;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (server) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }

  private answer(method: string, url: string, authorization: string | undefined): { status: number; body: unknown; user: string } {
    const account = this.tokens.get(/^Bearer (.+)$/.exec(authorization ?? '')?.[1] ?? '');
    if (!account) return { status: 401, body: status(401, 'Unauthorized', 'Unauthorized'), user: 'anonymous' };
    const user = `system:serviceaccount:${account.namespace}:${account.name}`;
    const { pathname, searchParams } = new URL(url, 'https://standin');
    const pods = /^\/api\/v1\/namespaces\/([^/]+)\/pods$/.exec(pathname);
    const node = /^\/api\/v1\/nodes\/([^/]+)$/.exec(pathname);
    if (method !== 'GET' || (!pods && !node)) return { status: 404, body: status(404, 'NotFound', `the server could not find the requested resource`), user };
    if (pods) {
      const namespace = decodeURIComponent(pods[1]!);
      if (!this.allows(account, 'list', 'pods', namespace)) {
        return {
          status: 403,
          body: status(403, 'Forbidden', `pods is forbidden: User "${user}" cannot list resource "pods" in API group "" in the namespace "${namespace}"`),
          user,
        };
      }
      const wanted = (searchParams.get('labelSelector') ?? '').split(',').filter(Boolean);
      const matches = (labels: Record<string, string>) =>
        wanted.every((term) => (term.includes('=') ? labels[term.slice(0, term.indexOf('='))] === term.slice(term.indexOf('=') + 1) : term in labels));
      const all = this.options.pods().filter((pod) => pod.namespace === namespace && matches(pod.labels));
      const from = Number(searchParams.get('continue') || 0);
      const size = Math.min(Number(searchParams.get('limit') || all.length) || all.length, this.options.pageSize ?? Infinity);
      const page = all.slice(from, from + size);
      const more = from + size < all.length;
      return {
        status: 200,
        body: {
          kind: 'PodList',
          apiVersion: 'v1',
          metadata: { resourceVersion: '1', ...(more ? { continue: String(from + size) } : {}) },
          items: page.map((pod) => ({
            metadata: { name: pod.name, namespace: pod.namespace, labels: pod.labels },
            spec: pod.nodeName === undefined ? {} : { nodeName: pod.nodeName },
            status: { phase: pod.nodeName === undefined ? 'Pending' : 'Running' },
          })),
        },
        user,
      };
    }
    const name = decodeURIComponent(node![1]!);
    if (!this.allows(account, 'get', 'nodes', undefined)) {
      return {
        status: 403,
        body: status(403, 'Forbidden', `nodes "${name}" is forbidden: User "${user}" cannot get resource "nodes" in API group "" at the cluster scope`),
        user,
      };
    }
    const labels = this.options.nodes()[name];
    if (!labels) return { status: 404, body: status(404, 'NotFound', `nodes "${name}" not found`), user };
    return { status: 200, body: { kind: 'Node', apiVersion: 'v1', metadata: { name, labels } }, user };
  }

  /** RBAC: some binding of the account grants the verb on the resource (namespace undefined: cluster scope). */
  private allows(account: { namespace: string; name: string }, verb: string, resource: string, namespace: string | undefined): boolean {
    const objects = [...this.options.objects()];
    const namespaceOf = (object: KubeObject) => object.metadata.namespace ?? this.options.defaultNamespace;
    const grants = (role: KubeObject | undefined) =>
      (role?.rules ?? []).some(
        (rule: any) =>
          (rule.apiGroups ?? []).some((group: string) => group === '' || group === '*') &&
          (rule.resources ?? []).some((name: string) => name === resource || name === '*') &&
          (rule.verbs ?? []).some((name: string) => name === verb || name === '*') &&
          (rule.resourceNames === undefined || rule.resourceNames.length === 0),
      );
    // A subject without namespace is the binding's own (RoleBinding only; a ClusterRoleBinding must name it).
    const names = (binding: KubeObject, bindingNamespace: string | undefined) =>
      (binding.subjects ?? []).some(
        (subject: any) => subject.kind === 'ServiceAccount' && subject.name === account.name && (subject.namespace ?? bindingNamespace) === account.namespace,
      );
    const find = (kind: string, name: string, inNamespace?: string) =>
      objects.find((object) => object.kind === kind && object.metadata.name === name && (inNamespace === undefined || namespaceOf(object) === inNamespace));
    for (const binding of objects.filter((object) => object.kind === 'ClusterRoleBinding')) {
      if (names(binding, undefined) && binding.roleRef?.kind === 'ClusterRole' && grants(find('ClusterRole', binding.roleRef.name))) return true;
    }
    if (namespace === undefined) return false;
    for (const binding of objects.filter((object) => object.kind === 'RoleBinding' && namespaceOf(object) === namespace)) {
      if (!names(binding, namespace)) continue;
      const role = binding.roleRef?.kind === 'ClusterRole' ? find('ClusterRole', binding.roleRef.name) : find('Role', binding.roleRef?.name, namespace);
      if (grants(role)) return true;
    }
    return false;
  }
}

function status(code: number, reason: string, message: string) {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
}
