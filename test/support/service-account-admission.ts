// The kubelet stand-in with a Kubernetes API beside it (kube-api-standin.ts), and Kubernetes' part in
// between: every Job container gets the API's address in env (KUBERNETES_SERVICE_HOST/PORT, as the
// kubelet sets), and a Job pod that does not opt out of its service account token gets one mounted at
// /var/run/secrets/kubernetes.io/serviceaccount (token, ca.crt, namespace), as the ServiceAccount
// admission plugin arranges. Pods run on the nodes the test names; the API lists them there.
import { KubeApiStandIn, SERVICE_ACCOUNT_MOUNT } from './kube-api-standin';
import { StandInCluster, type StandInOptions } from './kubelet-standin';
import type { KubeObject } from './manifests';

export interface PlacedStandInOptions extends StandInOptions {
  /** The node a pod runs on, by pod name (undefined: not scheduled). */
  readonly nodeOf: (podName: string) => string | undefined;
  /** Node name -> its labels (the zone label among them). */
  readonly nodes: Readonly<Record<string, Record<string, string>>>;
}

export class PlacedStandInCluster extends StandInCluster {
  readonly api: KubeApiStandIn;
  /** What Kubernetes would have refused (a pod naming a ServiceAccount that does not exist). */
  readonly admissionErrors: string[] = [];
  private readonly tokenSecrets = new Map<string, string>();

  constructor(placed: PlacedStandInOptions) {
    super(placed);
    this.api = new KubeApiStandIn({
      pods: () =>
        [...this.pods.values()].map((pod) => ({
          name: pod.name,
          namespace: this.namespace,
          labels: { ...(this.get('StatefulSet', pod.statefulSet)?.spec.template.metadata?.labels ?? {}), 'statefulset.kubernetes.io/pod-name': pod.name },
          nodeName: placed.nodeOf(pod.name),
        })),
      nodes: () => placed.nodes,
      objects: () => this.objects.values(),
      defaultNamespace: this.namespace,
    });
  }

  start(): Promise<void> {
    return this.api.start();
  }

  override async apply(object: KubeObject, options: { force?: boolean } = {}): Promise<void> {
    await super.apply(object.kind === 'Job' ? await this.admit(object) : object, options);
  }

  override async destroy(): Promise<void> {
    await super.destroy();
    await this.api.stop();
  }

  private async admit(job: KubeObject): Promise<KubeObject> {
    const admitted = structuredClone(job);
    const pod = admitted.spec.template.spec;
    const env = [
      { name: 'KUBERNETES_SERVICE_HOST', value: this.api.host },
      { name: 'KUBERNETES_SERVICE_PORT', value: String(this.api.port) },
    ];
    for (const container of pod.containers) container.env = [...(container.env ?? []), ...env];
    if (pod.automountServiceAccountToken === false) return admitted;
    const account = pod.serviceAccountName ?? 'default';
    if (account !== 'default' && !this.get('ServiceAccount', account)) {
      this.admissionErrors.push(`Job ${job.metadata.name}: serviceaccount "${account}" not found`);
    }
    const secretName = await this.tokenSecret(account);
    pod.volumes = [...(pod.volumes ?? []), { name: 'kube-api-access', secret: { secretName, defaultMode: 0o444 } }];
    for (const container of pod.containers) {
      container.volumeMounts = [...(container.volumeMounts ?? []), { name: 'kube-api-access', mountPath: SERVICE_ACCOUNT_MOUNT, readOnly: true }];
    }
    return admitted;
  }

  /** One token per ServiceAccount, in a Secret the stand-in mounts like any other. */
  private async tokenSecret(account: string): Promise<string> {
    const known = this.tokenSecrets.get(account);
    if (known) return known;
    const name = `standin-token-${account}`;
    const data = { token: this.api.issueToken(this.namespace, account), 'ca.crt': this.api.ca, namespace: this.namespace };
    await super.apply({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name },
      type: 'Opaque',
      data: Object.fromEntries(Object.entries(data).map(([key, value]) => [key, Buffer.from(value).toString('base64')])),
    });
    this.tokenSecrets.set(account, name);
    return name;
  }
}
