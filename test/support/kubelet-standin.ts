// A small stand-in for a Kubernetes API server and kubelet, enough to run the manifests of
// dist/ on one host: StatefulSet pods and Jobs run their containers' own commands as real
// processes, each in a private mount namespace where its volumes (ConfigMaps, Secrets,
// emptyDirs, and a persistent directory per volume claim) and a cluster-wide /etc/hosts (the
// pods' DNS names) are bind-mounted at the paths the manifests name. Each pod gets a fresh
// loopback address each time it starts, as a pod gets a new IP.
//
// Secret volumes are written as the kubelet writes them (files behind a `..data` link swapped at once), and a
// Secret applied again updates them in every running container, as the kubelet does within a minute. With
// `issueCertificate`, it also stands in for cert-manager: a Certificate gets its Secret.
//
// What is mapped here rather than in the manifests: pods share the host's network, so a pod's
// redis-server is made to bind its own address, and `redis-cli` without -h (or with
// localhost) is pointed at it (small shims first on PATH). The image's binaries are those of the
// server TEST_SERVER names (server-binaries.ts; Redis 7.0 unless it says otherwise), under the names
// that server's image has them: `redis-server` and `redis-cli`, and on Valkey also `valkey-server`
// and `valkey-cli`, so manifests that call Valkey's names fail on a Redis server. Containers run as root.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { chmodSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { objectKey, type KubeObject } from './manifests';
import { writeVolumeFiles } from './secret-volume';
import { serverBinaries, type ServerBinaries, type ServerName } from './server-binaries';

const execFileAsync = promisify(execFile);

const liveProcesses = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of liveProcesses) child.kill('SIGKILL');
});

export interface StandInOptions {
  /** Third octet of the pod addresses (127.A.subnet.N); one per test file. */
  subnet: number;
  namespace?: string;
  /** The server the pods' image holds. @default TEST_SERVER, else 'redis7' */
  server?: ServerName;
  clusterDomain?: string;
  /**
   * cert-manager's part: the data (`tls.crt`, `tls.key`, `ca.crt`) of the Secret a Certificate asks for. Called
   * when a Certificate is applied and by renewCertificate.
   * @default - Certificates are stored, and nothing issues them
   */
  issueCertificate?: (certificate: KubeObject) => Record<string, string>;
}

interface PodRuntime {
  name: string;
  ordinal: number;
  statefulSet: string;
  ip: string;
  process: ChildProcess;
  dir: string;
  exited: Promise<number | null>;
  /** Why the pod cannot run, when it cannot (a missing ConfigMap or Secret). */
}

export interface JobRun {
  name: string;
  status: 'running' | 'succeeded' | 'failed';
  /** stdout and stderr of every attempt, in order. */
  logs: string;
  attempts: number;
  durationMs: number;
  done: Promise<void>;
}

/** The object a pod or Job needs but which has not been applied: it cannot start. */
export class ConfigError extends Error {}

const secondOctet = 20 + (process.pid % 200);
const standInRoot = '/var/tmp/kubelet-standin';

export class StandInCluster {
  readonly namespace: string;
  readonly clusterDomain: string;
  readonly baseDir: string;
  readonly objects = new Map<string, KubeObject>();
  readonly pods = new Map<string, PodRuntime>();
  /** Pods that could not start, with the reason (CreateContainerConfigError). */
  readonly pendingPods = new Map<string, string>();
  readonly jobs = new Map<string, JobRun>();
  /** What happened, in order: `pod started redis-cluster-6`, `job succeeded redis-cluster-topology-pre`, ... */
  readonly events: string[] = [];
  /** The server the pods run, and its cli (the tests' judge); the constructor throws when it is not installed. */
  readonly binaries: ServerBinaries;
  private readonly hostsFile: string;
  private readonly nsswitchFile: string;
  private destroyed = false;
  private readonly shimDir: string;
  private nextAddress = 10;
  private readonly options: StandInOptions;

  constructor(options: StandInOptions) {
    this.options = options;
    this.binaries = serverBinaries(options.server);
    this.namespace = options.namespace ?? 'default';
    this.clusterDomain = options.clusterDomain ?? 'cluster.local';
    // Not under /tmp: containers mount their own /tmp, which would hide the volumes' sources.
    mkdirSync(standInRoot, { recursive: true });
    this.baseDir = mkdtempSync(path.join(standInRoot, `${options.subnet}-`));
    this.hostsFile = path.join(this.baseDir, 'hosts');
    this.nsswitchFile = path.join(this.baseDir, 'nsswitch.conf');
    writeFileSync(this.nsswitchFile, 'passwd: files\ngroup: files\nhosts: files\n');
    this.shimDir = path.join(this.baseDir, 'shims');
    this.writeShims();
    this.writeHosts();
  }

  // ---- the API server side -------------------------------------------------------------

  get(kind: string, name: string): KubeObject | undefined {
    return this.objects.get(`${kind}/${name}`);
  }

  /** Creates or updates an object, as `kubectl apply` would; a Job's spec is immutable. */
  async apply(object: KubeObject, { force = false } = {}): Promise<void> {
    const key = objectKey(object);
    const previous = this.objects.get(key);
    if (object.kind === 'Job') {
      if (previous && JSON.stringify(previous.spec) === JSON.stringify(object.spec)) {
        this.objects.set(key, object);
        return;
      }
      if (previous) {
        if (!force) throw new Error(`Job ${object.metadata.name}: spec.template is immutable (apply with force to replace it)`);
        await this.delete('Job', object.metadata.name);
      }
      this.objects.set(key, object);
      this.startJob(object);
      return;
    }
    this.objects.set(key, object);
    if (object.kind === 'Secret' && previous) this.refreshSecretVolumes(object.metadata.name);
    // cert-manager issues a new or changed Certificate; applying the same one again issues nothing.
    const certificateChanged = !previous || JSON.stringify(previous.spec) !== JSON.stringify(object.spec);
    if (object.kind === 'Certificate' && this.options.issueCertificate && certificateChanged) await this.renewCertificate(object.metadata.name);
    if (object.kind === 'StatefulSet') await this.reconcileStatefulSet(object, previous);
    if (object.kind === 'Service' || object.kind === 'StatefulSet') this.writeHosts();
    await this.retryPendingPods();
  }

  /** cert-manager issuing (or renewing) a Certificate: its Secret gets a new certificate and key. */
  async renewCertificate(name: string): Promise<void> {
    const certificate = this.mustGet('Certificate', name);
    const data = this.options.issueCertificate!(certificate);
    await this.apply({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: certificate.spec.secretName, labels: certificate.spec.secretTemplate?.labels ?? {} },
      type: 'kubernetes.io/tls',
      data: Object.fromEntries(Object.entries(data).map(([key, value]) => [key, Buffer.from(value).toString('base64')])),
    });
    this.events.push(`certificate issued ${name}`);
  }

  /** A kubelet keeps trying to start a pod whose ConfigMap or Secret was missing. */
  private async retryPendingPods(): Promise<void> {
    for (const podName of [...this.pendingPods.keys()]) {
      const match = /^(.*)-(\d+)$/.exec(podName);
      const statefulSet = match && this.get('StatefulSet', match[1]);
      if (!statefulSet || Number(match[2]) >= (statefulSet.spec.replicas ?? 1)) {
        this.pendingPods.delete(podName);
        continue;
      }
      await this.startPod(statefulSet, Number(match[2]));
    }
  }

  async delete(kind: string, name: string): Promise<void> {
    const object = this.objects.get(`${kind}/${name}`);
    if (!object) return;
    this.objects.delete(`${kind}/${name}`);
    if (kind === 'StatefulSet') {
      const ordinals = this.podsOf(name).map((pod) => pod.ordinal);
      await Promise.all(ordinals.map((ordinal) => this.stopPod(object, ordinal)));
      for (const key of [...this.pendingPods.keys()]) if (key.startsWith(`${name}-`)) this.pendingPods.delete(key);
      if (object.spec.persistentVolumeClaimRetentionPolicy?.whenDeleted === 'Delete') {
        for (const claim of this.claimsOf(object)) rmSync(this.claimDir(claim), { recursive: true, force: true });
      }
      this.writeHosts();
    }
    if (kind === 'Job') {
      const run = this.jobs.get(name);
      if (run?.status === 'running') this.jobProcesses.get(name)?.kill('SIGKILL');
      await run?.done;
      this.jobs.delete(name);
    }
  }

  /** Volume claims that exist (their directories), as `kubectl get pvc` would list them. */
  volumeClaims(): string[] {
    const claimsDir = path.join(this.baseDir, 'volumes');
    if (!existsSync(claimsDir)) return [];
    return readdirNames(claimsDir);
  }

  /** Whether an applied object is healthy the way Argo CD and Flux judge it. */
  async isHealthy(object: KubeObject): Promise<boolean> {
    if (object.kind === 'Job') return this.jobs.get(object.metadata.name)?.status === 'succeeded';
    // cert-manager's Ready condition: the Secret is written.
    if (object.kind === 'Certificate') return this.get('Secret', object.spec.secretName) !== undefined;
    if (object.kind === 'StatefulSet') {
      const live = this.get('StatefulSet', object.metadata.name);
      if (!live) return false;
      const pods = this.podsOf(object.metadata.name);
      if (pods.length !== live.spec.replicas) return false;
      for (const pod of pods) if (!(await this.isReady(live, pod))) return false;
      return true;
    }
    return true;
  }

  async waitHealthy(object: KubeObject, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (object.kind === 'Job') {
        const run = this.jobs.get(object.metadata.name);
        if (run?.status === 'failed') throw new Error(`Job ${object.metadata.name} failed:\n${tail(run.logs)}`);
      }
      await this.retryPendingPods();
      if (await this.isHealthy(object)) return;
      if (Date.now() > deadline) {
        const pending = [...this.pendingPods.entries()].map(([pod, why]) => `${pod}: ${why}`).join('; ');
        throw new Error(`${objectKey(object)} not healthy after ${timeoutMs} ms${pending ? ` (${pending})` : ''}`);
      }
      await sleep(200);
    }
  }

  // ---- StatefulSet pods ---------------------------------------------------------------

  podName(statefulSet: string, ordinal: number): string {
    return `${statefulSet}-${ordinal}`;
  }

  podsOf(statefulSet: string): PodRuntime[] {
    return [...this.pods.values()].filter((pod) => pod.statefulSet === statefulSet).sort((a, b) => a.ordinal - b.ordinal);
  }

  podDnsName(statefulSet: KubeObject, ordinal: number): string {
    return `${this.podName(statefulSet.metadata.name, ordinal)}.${statefulSet.spec.serviceName}.${this.namespace}.svc.${this.clusterDomain}`;
  }

  /**
   * Restarts every pod of a StatefulSet at once; each comes back with a new address. `crash`
   * kills them (SIGKILL, no preStop), as when their nodes fail; otherwise they are deleted gracefully.
   */
  async restartAllPods(statefulSet: string, { crash = false } = {}): Promise<void> {
    const object = this.mustGet('StatefulSet', statefulSet);
    const ordinals = this.podsOf(statefulSet).map((pod) => pod.ordinal);
    await Promise.all(ordinals.map((ordinal) => this.stopPod(object, ordinal, crash ? 'SIGKILL' : 'SIGTERM')));
    this.writeHosts();
    for (const ordinal of ordinals) await this.startPod(object, ordinal);
  }

  /** A rolling restart (`kubectl rollout restart`): highest ordinal first, each ready before the next. */
  async rollingRestart(statefulSet: string, timeoutPerPodMs = 120_000): Promise<void> {
    const object = this.mustGet('StatefulSet', statefulSet);
    const ordinals = this.podsOf(statefulSet)
      .map((pod) => pod.ordinal)
      .reverse();
    for (const ordinal of ordinals) {
      await this.stopPod(object, ordinal);
      await this.startPod(object, ordinal);
      const deadline = Date.now() + timeoutPerPodMs;
      for (;;) {
        const pod = this.pods.get(this.podName(statefulSet, ordinal));
        if (pod && (await this.isReady(object, pod))) break;
        if (Date.now() > deadline) throw new Error(`pod ${this.podName(statefulSet, ordinal)} not ready after restart`);
        await sleep(200);
      }
    }
  }

  /** Stops every process and removes every directory this stand-in made. */
  async destroy(): Promise<void> {
    this.destroyed = true;
    for (const [name, child] of this.jobProcesses) if (this.jobs.get(name)?.status === 'running') child.kill('SIGKILL');
    await Promise.all([...this.jobs.values()].map((run) => run.done));
    for (const statefulSet of [...this.objects.values()].filter((object) => object.kind === 'StatefulSet')) {
      await Promise.all(this.podsOf(statefulSet.metadata.name).map((pod) => this.stopPod(statefulSet, pod.ordinal, 'SIGKILL')));
    }
    rmSync(this.baseDir, { recursive: true, force: true });
  }

  private async reconcileStatefulSet(object: KubeObject, previous: KubeObject | undefined): Promise<void> {
    const name = object.metadata.name;
    const replicas: number = object.spec.replicas ?? 1;
    const running = this.podsOf(name);
    const toRemove = running.filter((pod) => pod.ordinal >= replicas).map((pod) => pod.ordinal);
    await Promise.all(toRemove.map((ordinal) => this.stopPod(object, ordinal)));
    if (object.spec.persistentVolumeClaimRetentionPolicy?.whenScaled === 'Delete') {
      for (const ordinal of toRemove) for (const claim of this.claimsOf(object, ordinal)) rmSync(this.claimDir(claim), { recursive: true, force: true });
    }
    const templateChanged = previous && JSON.stringify(previous.spec.template) !== JSON.stringify(object.spec.template);
    if (templateChanged) {
      this.writeHosts();
      await this.rollingRestart(name);
    }
    for (let ordinal = 0; ordinal < replicas; ordinal++) {
      if (!this.pods.has(this.podName(name, ordinal))) await this.startPod(object, ordinal);
    }
  }

  private async startPod(statefulSet: KubeObject, ordinal: number): Promise<void> {
    const name = this.podName(statefulSet.metadata.name, ordinal);
    const ip = this.allocateAddress();
    const dir = path.join(this.baseDir, 'pods', `${name}-${Date.now()}-${Math.random().toString(36).slice(2, 6)}`);
    mkdirSync(dir, { recursive: true });
    const podSpec = statefulSet.spec.template.spec;
    let child: ChildProcess;
    try {
      const claimDirs = new Map<string, string>();
      for (const template of statefulSet.spec.volumeClaimTemplates ?? []) {
        const claim = `${template.metadata.name}-${name}`;
        mkdirSync(this.claimDir(claim), { recursive: true });
        claimDirs.set(template.metadata.name, this.claimDir(claim));
      }
      const context = { podName: name, ip, dir, claimDirs };
      for (const init of podSpec.initContainers ?? []) {
        const { code, output } = await this.runToEnd(this.containerProcess(podSpec, init, context));
        if (code !== 0) throw new Error(`init container ${init.name} exited ${code}: ${tail(output)}`);
      }
      child = this.containerProcess(podSpec, podSpec.containers[0], context, path.join(dir, 'container.log'));
    } catch (error) {
      if (error instanceof ConfigError) {
        this.pendingPods.set(name, error.message);
        rmSync(dir, { recursive: true, force: true });
        return;
      }
      throw error;
    }
    this.pendingPods.delete(name);
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    this.pods.set(name, { name, ordinal, statefulSet: statefulSet.metadata.name, ip, process: child, dir, exited });
    this.events.push(`pod started ${name}`);
    this.writeHosts();
  }

  private async stopPod(statefulSet: KubeObject, ordinal: number, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const name = this.podName(statefulSet.metadata.name, ordinal);
    const pod = this.pods.get(name);
    if (!pod) return;
    const preStop = statefulSet.spec.template.spec.containers[0].lifecycle?.preStop?.exec?.command as string[] | undefined;
    if (preStop && signal === 'SIGTERM' && pod.process.exitCode === null) {
      const grace = (statefulSet.spec.template.spec.terminationGracePeriodSeconds ?? 30) * 1000;
      await this.execInPod(pod, preStop, grace).catch(() => undefined);
    }
    if (pod.process.exitCode === null && pod.process.signalCode === null) {
      pod.process.kill(signal);
      const grace = (statefulSet.spec.template.spec.terminationGracePeriodSeconds ?? 30) * 1000;
      const timer = setTimeout(() => pod.process.kill('SIGKILL'), grace);
      await pod.exited;
      clearTimeout(timer);
    }
    this.pods.delete(name);
    this.events.push(`pod stopped ${name}`);
    this.lastReady.delete(name);
    rmSync(pod.dir, { recursive: true, force: true });
  }

  private async isReady(statefulSet: KubeObject, pod: PodRuntime): Promise<boolean> {
    const ready = await this.probeReadiness(statefulSet, pod);
    if (ready !== this.lastReady.has(pod.name)) {
      if (ready) this.lastReady.add(pod.name);
      else this.lastReady.delete(pod.name);
      this.writeHosts();
    }
    return ready;
  }

  private async probeReadiness(statefulSet: KubeObject, pod: PodRuntime): Promise<boolean> {
    if (pod.process.exitCode !== null || pod.process.signalCode !== null) return false;
    const probe = statefulSet.spec.template.spec.containers[0].readinessProbe;
    if (!probe) return true;
    if (probe.exec) {
      try {
        await this.execInPod(pod, probe.exec.command, (probe.timeoutSeconds ?? 1) * 1000 + 2000);
        return true;
      } catch {
        return false;
      }
    }
    if (probe.tcpSocket) return canConnect(pod.ip, Number(probe.tcpSocket.port));
    return true;
  }

  /** Runs a command inside a running pod (its mount namespace and environment), as kubectl exec. */
  async execInPod(pod: PodRuntime, command: string[], timeoutMs = 10_000): Promise<string> {
    const environment = JSON.parse(readFileSync(path.join(pod.dir, 'env.json'), 'utf8')) as Record<string, string>;
    const { stdout } = await execFileAsync('nsenter', ['--target', String(pod.process.pid), '--mount', '--', ...command], {
      env: environment,
      timeout: timeoutMs,
      cwd: '/',
    });
    return stdout;
  }

  // ---- Jobs -----------------------------------------------------------------------------

  private readonly jobProcesses = new Map<string, ChildProcess>();

  private startJob(job: KubeObject): void {
    const name = job.metadata.name;
    const started = Date.now();
    const run: JobRun = { name, status: 'running', logs: '', attempts: 0, durationMs: 0, done: Promise.resolve() };
    const backoffLimit: number = job.spec.backoffLimit ?? 6;
    const deadlineMs = (job.spec.activeDeadlineSeconds ?? 3600) * 1000;
    run.done = (async () => {
      for (;;) {
        run.attempts++;
        const dir = path.join(this.baseDir, 'jobs', `${name}-${run.attempts}-${Date.now()}`);
        mkdirSync(dir, { recursive: true });
        let child: ChildProcess;
        try {
          const podSpec = job.spec.template.spec;
          child = this.containerProcess(podSpec, podSpec.containers[0], { podName: `${name}-${run.attempts}`, ip: '127.0.0.1', dir, claimDirs: new Map() });
        } catch (error) {
          run.logs += `cannot start: ${(error as Error).message}\n`;
          if (error instanceof ConfigError && !this.destroyed && Date.now() - started < 30_000 && this.objects.has(objectKey(job))) {
            await sleep(500); // a pod waits for its ConfigMap / Secret
            run.attempts--;
            continue;
          }
          run.status = 'failed';
          break;
        }
        this.jobProcesses.set(name, child);
        const timer = setTimeout(() => child.kill('SIGKILL'), Math.max(1, deadlineMs - (Date.now() - started)));
        const { code, output } = await this.runToEnd(child);
        clearTimeout(timer);
        rmSync(dir, { recursive: true, force: true });
        run.logs += output;
        if (code === 0) {
          run.status = 'succeeded';
          break;
        }
        if (this.destroyed || !this.objects.has(objectKey(job)) || run.attempts > backoffLimit || Date.now() - started >= deadlineMs) {
          run.status = 'failed';
          break;
        }
        await sleep(Math.min(10_000, 500 * 2 ** (run.attempts - 1)));
      }
      run.durationMs = Date.now() - started;
      this.events.push(`job ${run.status} ${name}`);
    })();
    this.events.push(`job started ${name}`);
    this.jobs.set(name, run);
  }

  // ---- processes ------------------------------------------------------------------------

  /**
   * Starts one container as a process in its own mount namespace, with its volumes mounted at
   * their paths and its environment resolved from the objects applied so far.
   */
  private containerProcess(
    podSpec: any,
    container: any,
    context: { podName: string; ip: string; dir: string; claimDirs: Map<string, string> },
    logFile?: string,
  ): ChildProcess {
    const environment = this.containerEnvironment(container, context);
    const mounts: string[] = [];
    for (const mount of container.volumeMounts ?? []) {
      if (this.baseDir.startsWith(`${mount.mountPath.replace(/\/$/, '')}/`)) {
        throw new Error(`${context.podName}: mountPath ${mount.mountPath} would hide the stand-in's own files under ${this.baseDir}`);
      }
      const volume = (podSpec.volumes ?? []).find((candidate: any) => candidate.name === mount.name);
      const source = volume ? this.materializeVolume(volume, context) : context.claimDirs.get(mount.name);
      if (!source) throw new Error(`${context.podName}: volumeMount ${mount.name} has no volume`);
      const from = mount.subPath ? path.join(source, mount.subPath) : source;
      const fromIsFile = mount.subPath && existsSync(from) && !isDirectory(from);
      if (fromIsFile) {
        mkdirSync(path.dirname(mount.mountPath), { recursive: true });
        if (!existsSync(mount.mountPath)) closeSync(openSync(mount.mountPath, 'a'));
      } else {
        mkdirSync(from, { recursive: true });
        mkdirSync(mount.mountPath, { recursive: true });
      }
      mounts.push(`mount --bind ${shellQuote(from)} ${shellQuote(mount.mountPath)}`);
      if (mount.readOnly || volume?.configMap || volume?.secret) mounts.push(`mount -o remount,bind,ro ${shellQuote(mount.mountPath)}`);
    }
    // Cluster DNS is the hosts file alone: a name it lacks fails at once, and no query leaves the host.
    mounts.push(`mount --bind ${shellQuote(this.hostsFile)} /etc/hosts`);
    mounts.push(`mount --bind ${shellQuote(this.nsswitchFile)} /etc/nsswitch.conf`);
    const command: string[] = [...(container.command ?? []), ...(container.args ?? [])].map((part: string) => expandReferences(part, environment));
    if (command.length === 0) throw new Error(`${context.podName}: container ${container.name} has no command; the stand-in does not know image entrypoints`);
    writeFileSync(path.join(context.dir, 'env.json'), JSON.stringify(environment));
    const script = `set -e\n${mounts.join('\n')}\nexec "$@"`;
    const child = spawn('unshare', ['--mount', '--propagation', 'private', '--', 'sh', '-c', script, 'standin-container', ...command], {
      env: environment,
      cwd: container.workingDir ?? '/',
      stdio: logFile ? ['ignore', openSync(logFile, 'a'), openSync(logFile, 'a')] : ['ignore', 'pipe', 'pipe'],
    });
    liveProcesses.add(child);
    child.once('exit', () => liveProcesses.delete(child));
    return child;
  }

  private containerEnvironment(container: any, context: { podName: string; ip: string }): Record<string, string> {
    const environment: Record<string, string> = {
      PATH: `${this.shimDir}:/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin`,
      HOME: '/tmp',
      HOSTNAME: context.podName,
      STANDIN_POD_IP: context.ip,
      STANDIN_SERVER: hostBinary(this.binaries.server),
      STANDIN_CLI: hostBinary(this.binaries.cli),
    };
    for (const source of container.envFrom ?? []) {
      const data = source.configMapRef
        ? this.configMapData(source.configMapRef.name, source.configMapRef.optional)
        : this.secretData(source.secretRef.name, source.secretRef.optional);
      Object.assign(environment, data);
    }
    for (const variable of container.env ?? []) {
      if (variable.value !== undefined) {
        environment[variable.name] = expandReferences(String(variable.value), environment);
        continue;
      }
      const from = variable.valueFrom ?? {};
      if (from.fieldRef) {
        const fields: Record<string, string> = {
          'metadata.name': context.podName,
          'metadata.namespace': this.namespace,
          'status.podIP': context.ip,
          'status.hostIP': '127.0.0.1',
          'spec.nodeName': 'standin-node',
          'spec.serviceAccountName': 'default',
        };
        const value = fields[from.fieldRef.fieldPath];
        if (value === undefined) throw new Error(`fieldRef ${from.fieldRef.fieldPath} is not supported by the stand-in`);
        environment[variable.name] = value;
      } else if (from.secretKeyRef) {
        const value = this.secretData(from.secretKeyRef.name, from.secretKeyRef.optional)[from.secretKeyRef.key];
        if (value === undefined && !from.secretKeyRef.optional)
          throw new ConfigError(`couldn't find key ${from.secretKeyRef.key} in Secret ${from.secretKeyRef.name}`);
        if (value !== undefined) environment[variable.name] = value;
      } else if (from.configMapKeyRef) {
        const value = this.configMapData(from.configMapKeyRef.name, from.configMapKeyRef.optional)[from.configMapKeyRef.key];
        if (value === undefined && !from.configMapKeyRef.optional)
          throw new ConfigError(`couldn't find key ${from.configMapKeyRef.key} in ConfigMap ${from.configMapKeyRef.name}`);
        if (value !== undefined) environment[variable.name] = value;
      } else if (from.resourceFieldRef) {
        environment[variable.name] = '0';
      }
    }
    return environment;
  }

  private materializeVolume(volume: any, context: { dir: string; claimDirs: Map<string, string> }): string {
    const target = path.join(context.dir, 'volumes', volume.name);
    if (volume.persistentVolumeClaim) {
      const claim = context.claimDirs.get(volume.persistentVolumeClaim.claimName);
      if (claim) return claim;
      const dir = this.claimDir(volume.persistentVolumeClaim.claimName);
      mkdirSync(dir, { recursive: true });
      return dir;
    }
    mkdirSync(target, { recursive: true });
    if (volume.emptyDir) return target;
    let data: Record<string, string> | undefined;
    if (volume.configMap) data = this.configMapData(volume.configMap.name, volume.configMap.optional);
    if (volume.secret) data = this.secretData(volume.secret.secretName, volume.secret.optional);
    if (!data) throw new Error(`volume ${volume.name}: kind not supported by the stand-in`);
    const source = volume.configMap ?? volume.secret;
    const items: Array<{ key: string; path: string; mode?: number }> = source.items ?? Object.keys(data).map((key) => ({ key, path: key }));
    if (volume.secret) {
      this.secretVolumes.push({ dir: target, volume });
      writeVolumeFiles(target, this.secretVolumeFiles(volume), volume.secret.defaultMode ?? 0o644);
      return target;
    }
    for (const item of items) {
      if (data[item.key] === undefined) throw new ConfigError(`volume ${volume.name}: key ${item.key} not found`);
      const file = path.join(target, item.path);
      mkdirSync(path.dirname(file), { recursive: true });
      writeFileSync(file, data[item.key]);
      chmodSync(file, item.mode ?? source.defaultMode ?? 0o644);
    }
    return target;
  }

  /** Every Secret volume materialized so far, to update when its Secret changes. */
  private readonly secretVolumes: Array<{ dir: string; volume: any }> = [];

  /** A Secret volume's files; a missing key (or Secret) is an error unless the volume is optional. */
  private secretVolumeFiles(volume: any): Record<string, string> {
    const data = this.secretData(volume.secret.secretName, volume.secret.optional);
    const items: Array<{ key: string; path: string }> = volume.secret.items ?? Object.keys(data).map((key) => ({ key, path: key }));
    const files: Record<string, string> = {};
    for (const item of items) {
      if (data[item.key] !== undefined) files[item.path] = data[item.key];
      else if (!volume.secret.optional) throw new ConfigError(`volume ${volume.name}: key ${item.key} not found in Secret ${volume.secret.secretName}`);
    }
    return files;
  }

  /** The kubelet's update of Secret volumes in running containers: the whole set swapped at once. */
  private refreshSecretVolumes(secretName: string): void {
    for (let index = this.secretVolumes.length - 1; index >= 0; index--) {
      const { dir, volume } = this.secretVolumes[index];
      if (!existsSync(dir)) {
        this.secretVolumes.splice(index, 1);
        continue;
      }
      if (volume.secret.secretName !== secretName) continue;
      writeVolumeFiles(dir, this.secretVolumeFiles(volume), volume.secret.defaultMode ?? 0o644);
    }
  }

  private configMapData(name: string, optional?: boolean): Record<string, string> {
    const configMap = this.get('ConfigMap', name);
    if (!configMap) {
      if (optional) return {};
      throw new ConfigError(`configmap "${name}" not found`);
    }
    return { ...(configMap.data ?? {}) };
  }

  private secretData(name: string, optional?: boolean): Record<string, string> {
    const secret = this.get('Secret', name);
    if (!secret) {
      if (optional) return {};
      throw new ConfigError(`secret "${name}" not found`);
    }
    const data: Record<string, string> = {};
    for (const [key, value] of Object.entries(secret.data ?? {})) data[key] = Buffer.from(String(value), 'base64').toString('utf8');
    Object.assign(data, secret.stringData ?? {});
    return data;
  }

  private runToEnd(child: ChildProcess): Promise<{ code: number | null; output: string }> {
    let output = '';
    child.stdout?.on('data', (chunk) => (output += chunk));
    child.stderr?.on('data', (chunk) => (output += chunk));
    return new Promise((resolve) => child.once('close', (code) => resolve({ code, output })));
  }

  // ---- DNS, addresses, shims ----------------------------------------------------------

  /** The cluster's DNS as one hosts file, bind-mounted at /etc/hosts in every container. */
  private writeHosts(): void {
    const lines = ['127.0.0.1 localhost'];
    for (const statefulSet of [...this.objects.values()].filter((object) => object.kind === 'StatefulSet')) {
      const service = this.get('Service', statefulSet.spec.serviceName);
      if (!service || service.spec.clusterIP !== 'None') continue;
      for (const pod of this.podsOf(statefulSet.metadata.name)) {
        // Not-ready pods are published only when the headless Service says so.
        if (!service.spec.publishNotReadyAddresses && !this.lastReady.has(pod.name)) continue;
        lines.push(`${pod.ip} ${this.podDnsName(statefulSet, pod.ordinal)} ${pod.name}.${statefulSet.spec.serviceName}.${this.namespace}.svc`);
      }
    }
    // Same inode: the bind mounts in running containers see the new content.
    writeFileSync(this.hostsFile, `${lines.join('\n')}\n`);
  }

  private readonly lastReady = new Set<string>();

  private allocateAddress(): string {
    const address = `127.${secondOctet}.${this.options.subnet}.${this.nextAddress}`;
    this.nextAddress = this.nextAddress >= 250 ? 10 : this.nextAddress + 1;
    return address;
  }

  private writeShims(): void {
    mkdirSync(this.shimDir, { recursive: true });
    // A pod's server binds the pod's own address (pods share the host network here). The process keeps the name
    // the pod called (`ps` shows valkey-server or redis-server), as a link in an image would.
    const server = `#!/bin/bash\nexec -a "\${0##*/}" "$STANDIN_SERVER" "$@" --bind "$STANDIN_POD_IP"\n`;
    // In a pod, 127.0.0.1 / localhost is the pod's own server.
    const cli = [
      '#!/bin/bash',
      'args=(); has_host=no; previous=',
      'for argument in "$@"; do',
      '  if [ "$previous" = "-h" ]; then has_host=yes; case "$argument" in 127.0.0.1|localhost) argument="$STANDIN_POD_IP";; esac; fi',
      '  args+=("$argument"); previous="$argument"',
      'done',
      'if [ $has_host = no ]; then exec "$STANDIN_CLI" -h "$STANDIN_POD_IP" "${args[@]}"; fi',
      'exec "$STANDIN_CLI" "${args[@]}"',
      '',
    ].join('\n');
    // Valkey's images also have the Redis names (links `make install` puts next to Valkey's); Redis's only its own.
    const names = this.binaries.flavor === 'valkey' ? ['valkey', 'redis'] : ['redis'];
    for (const name of names) {
      writeFileSync(path.join(this.shimDir, `${name}-server`), server, { mode: 0o755 });
      writeFileSync(path.join(this.shimDir, `${name}-cli`), cli, { mode: 0o755 });
    }
  }

  private claimDir(claim: string): string {
    return path.join(this.baseDir, 'volumes', claim);
  }

  private claimsOf(statefulSet: KubeObject, ordinal?: number): string[] {
    const templates: string[] = (statefulSet.spec.volumeClaimTemplates ?? []).map((template: any) => template.metadata.name);
    return this.volumeClaims().filter((claim) =>
      templates.some((template) =>
        ordinal === undefined
          ? claim.startsWith(`${template}-${statefulSet.metadata.name}-`)
          : claim === `${template}-${this.podName(statefulSet.metadata.name, ordinal)}`,
      ),
    );
  }

  private mustGet(kind: string, name: string): KubeObject {
    const object = this.get(kind, name);
    if (!object) throw new Error(`${kind} ${name} has not been applied`);
    return object;
  }
}

function readdirNames(folder: string): string[] {
  return readdirSync(folder).sort();
}

function isDirectory(file: string): boolean {
  return statSync(file).isDirectory();
}

/** A binary as a path: server-binaries.ts gives Redis 7.0 as a name on PATH, which the shims must not find again. */
function hostBinary(binary: string): string {
  return binary.includes('/') ? binary : which(binary);
}

const whichCache = new Map<string, string>();
function which(command: string): string {
  const cached = whichCache.get(command);
  if (cached) return cached;
  for (const folder of ['/usr/local/bin', '/usr/bin', '/bin']) {
    const candidate = path.join(folder, command);
    if (existsSync(candidate)) {
      whichCache.set(command, candidate);
      return candidate;
    }
  }
  throw new Error(`${command} is not installed (apt-get install redis-server redis-tools)`);
}

/** Kubernetes' $(VAR) expansion in env values, command and args. */
function expandReferences(text: string, environment: Record<string, string>): string {
  return text.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (match, name: string | undefined) =>
    match === '$$' ? '$' : name !== undefined && environment[name] !== undefined ? environment[name] : match,
  );
}

function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: 1000 });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

function tail(text: string, lines = 30): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
