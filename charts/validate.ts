import { BOUNDS, MAX_PODS, desiredPodCount, type Bounds } from '../jobs/contract';
import { derivedNames, type DerivedName } from './names';
import type { RedisClusterChartProps } from './props';
import { isQuantity, quantityValue } from './quantity';
import {
  CLUSTER_BUS_PORT,
  DEFAULT_SERVER_IMAGES,
  METRICS_PORT,
  PROP_NAMES,
  REDIS_PORT,
  effectiveMaxmemoryBytes,
  resolveProps,
  type ResolvedProps,
} from './resolved-props';
import { SERVER_KINDS, SERVER_TITLES, imageRepositoryName, serverNamedBy } from './server-image';

/** A prop with a value the chart cannot build from. The message names the field, the value and what is allowed. */
export class InvalidPropError extends Error {
  constructor(
    readonly field: string,
    readonly value: unknown,
    readonly allowed: string,
  ) {
    super(`Invalid ${field}: ${describe(value)}. Allowed: ${allowed}.`);
    this.name = 'InvalidPropError';
  }
}

function describe(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  return JSON.stringify(value);
}

const KNOWN_PROPS: ReadonlySet<string> = new Set(PROP_NAMES);

export const MAXMEMORY_POLICIES = [
  'noeviction',
  'allkeys-lru',
  'allkeys-lfu',
  'allkeys-random',
  'volatile-lru',
  'volatile-lfu',
  'volatile-random',
  'volatile-ttl',
] as const;

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const SECRET_KEY = /^[-._a-zA-Z0-9]+$/;
const GO_DURATION = /^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$/;
const IMAGE = /^[^\s]+$/;
const PROMETHEUS_DURATION = /^(?!$)(\d+y)?(\d+w)?(\d+d)?(\d+h)?(\d+m)?(\d+s)?(\d+ms)?$/;

/**
 * Sane bounds for quantities: the API server takes "1e100", but nothing can provide it, and a memory size
 * past 2^53 bytes would not even be written exactly into redis.conf (a JavaScript number).
 * - storage: 1Gi (an AOF rewrite of any real data set needs more) to 64Ti (the largest block volume of
 *   every major cloud, Alibaba Cloud ESSD included);
 * - memory: 1Mi to 4Ti (the largest machines have a few TiB, and a Redis node that big could never
 *   finish a full resync);
 * - cpu: 1m to 1024 cores (no machine has more).
 */
const QUANTITY_BOUNDS = {
  storage: { min: '1Gi', max: '64Ti', example: '"20Gi"' },
  memory: { min: '1Mi', max: '4Ti', example: '"2Gi" or "512Mi"' },
  cpu: { min: '1m', max: '1024', example: '"500m" or "2"' },
} as const;
type QuantityKind = keyof typeof QUANTITY_BOUNDS;

/** Labels the chart sets on its pods itself, or Kubernetes sets on them: a podLabels entry may not replace one. */
const RESERVED_POD_LABELS: Readonly<Record<string, string>> = {
  'app.kubernetes.io/name': 'the chart selects its pods by it',
  'app.kubernetes.io/instance': 'the chart selects its pods by it',
  'app.kubernetes.io/component': 'the chart selects its pods by it',
  'app.kubernetes.io/managed-by': 'the chart sets it on every object',
  'redis-cluster-gitops/phase': "the chart sets it on the Jobs' pods",
  'statefulset.kubernetes.io/pod-name': 'Kubernetes sets it',
  'apps.kubernetes.io/pod-index': 'Kubernetes sets it',
  'controller-revision-hash': 'Kubernetes sets it',
  'job-name': 'Kubernetes sets it',
  'batch.kubernetes.io/job-name': 'Kubernetes sets it',
  'controller-uid': 'Kubernetes sets it',
  'batch.kubernetes.io/controller-uid': 'Kubernetes sets it',
};

function fail(field: string, value: unknown, allowed: string): never {
  throw new InvalidPropError(field, value, allowed);
}

function requireInteger(field: string, value: unknown, min: number, max: number): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    fail(field, value, `an integer from ${min} to ${max}`);
  }
}

/** An integer within bounds the topology program shares (jobs/contract.ts), so both sides refuse the same values. */
function requireWithin(field: string, value: unknown, bounds: Bounds): void {
  requireInteger(field, value, bounds.min, bounds.max);
}

function requireDnsLabel(field: string, value: unknown, maxLength = 63): void {
  if (typeof value !== 'string' || !DNS_LABEL.test(value) || value.length > maxLength) {
    fail(field, value, `a DNS-1123 label: lower-case letters, digits and '-', starting and ending with a letter or digit, at most ${maxLength} characters`);
  }
}

function requireDnsSubdomain(field: string, value: unknown): void {
  if (typeof value !== 'string' || !DNS_SUBDOMAIN.test(value) || value.length > 253) {
    fail(field, value, "a DNS-1123 subdomain: dot-separated DNS labels (lower-case letters, digits, '-'), at most 253 characters");
  }
}

function requireImage(field: string, value: unknown): void {
  if (typeof value !== 'string' || !IMAGE.test(value)) {
    fail(field, value, 'a non-empty container image reference without spaces, e.g. "redis:8.2"');
  }
}

/** A known server, and not one the image's name contradicts (docs/operations.md, "Valkey"). */
function requireServer(resolved: ResolvedProps): void {
  const server = resolved.server;
  if (!SERVER_KINDS.includes(server)) fail('server', server, SERVER_KINDS.map((kind) => JSON.stringify(kind)).join(' or '));
  const named = serverNamedBy(resolved.image);
  if (named !== undefined && named !== server) {
    fail(
      'server',
      server,
      `${JSON.stringify(named)} with image ${JSON.stringify(resolved.image)}, a ${SERVER_TITLES[named]} image by its repository name ` +
        `(${imageRepositoryName(resolved.image)}), or no server, which follows the image; to run ${SERVER_TITLES[server]}, set a ${SERVER_TITLES[server]} image ` +
        `too, e.g. ${JSON.stringify(DEFAULT_SERVER_IMAGES[server])}`,
    );
  }
}

function requireQuantity(field: string, value: unknown, kind: QuantityKind): void {
  const bounds = QUANTITY_BOUNDS[kind];
  if (!isQuantity(value) || quantityValue(value) < quantityValue(bounds.min) || quantityValue(value) > quantityValue(bounds.max)) {
    fail(field, value, `a Kubernetes quantity from ${bounds.min} to ${bounds.max}, such as ${bounds.example}`);
  }
}

function requireNoReservedLabels(field: string, labels: Record<string, unknown>, reserved: Readonly<Record<string, string>>): void {
  for (const key of Object.keys(labels)) {
    if (key in reserved) fail(`${field} key`, key, `a label the chart does not set itself (${key}: ${reserved[key]})`);
  }
}

function describeDerivedNameRule(name: DerivedName): string {
  switch (name.rule) {
    case 'dns-1035-label':
      return `a DNS-1035 label (a letter first, then lower-case letters, digits and '-') of at most ${name.maxLength} characters`;
    case 'dns-label':
      return `a DNS-1123 label of at most ${name.maxLength} characters`;
    case 'dns-subdomain':
      return `a DNS-1123 subdomain of at most ${name.maxLength} characters`;
    case 'dns-name':
      return `a DNS name of at most ${name.maxLength} characters`;
  }
}

function followsRule(name: DerivedName): boolean {
  if (name.name.length > name.maxLength) return false;
  switch (name.rule) {
    case 'dns-1035-label':
      return DNS_1035_LABEL.test(name.name);
    case 'dns-label':
      return DNS_LABEL.test(name.name);
    case 'dns-subdomain':
    case 'dns-name':
      return DNS_SUBDOMAIN.test(name.name);
  }
}

/** Every name derived from the props, against Kubernetes' limits: the first that breaks one names the prop to change. */
function requireDerivedNames(resolved: ResolvedProps): void {
  for (const derived of derivedNames(resolved)) {
    if (followsRule(derived)) continue;
    const value = resolved[derived.prop];
    fail(
      derived.prop,
      value,
      `a name from which every derived name is valid; ${derived.what} ${JSON.stringify(derived.name)} (${derived.name.length} characters) ` +
        `must be ${describeDerivedNameRule(derived)}${derived.why ? ` (${derived.why})` : ''}`,
    );
  }
}

function requirePrometheusDuration(field: string, value: unknown): asserts value is string {
  if (typeof value !== 'string' || !PROMETHEUS_DURATION.test(value)) fail(field, value, 'a Prometheus duration such as "30s" or "1m"');
}

/** Seconds of a Prometheus duration that passed requirePrometheusDuration. */
function durationSeconds(duration: string): number {
  const units: Record<string, number> = { y: 31536000, w: 604800, d: 86400, h: 3600, m: 60, s: 1, ms: 0.001 };
  let seconds = 0;
  for (const [, amount, unit] of duration.matchAll(/(\d+)(ms|y|w|d|h|m|s)/g)) seconds += Number(amount) * units[unit];
  return seconds;
}

function requireMonitoring(props: RedisClusterChartProps, resolved: ResolvedProps): void {
  const monitoring = props.monitoring;
  if (monitoring === undefined) return;
  requireObject('monitoring', monitoring, ['exporterImage', 'exporterResources', 'serviceMonitor', 'prometheusRule']);
  const settings = resolved.monitoring!;
  requireImage('monitoring.exporterImage', settings.exporterImage);
  requireResources('monitoring.exporterResources', settings.exporterResources);
  const chartLabels = {
    'app.kubernetes.io/name': 'the chart sets it',
    'app.kubernetes.io/instance': 'the chart sets it',
    'app.kubernetes.io/component': 'the chart sets it',
    'app.kubernetes.io/managed-by': 'the chart sets it',
  };
  if (monitoring.serviceMonitor !== undefined) {
    requireObject('monitoring.serviceMonitor', monitoring.serviceMonitor, ['labels', 'interval', 'scrapeTimeout']);
    const serviceMonitor = settings.serviceMonitor!;
    requireLabels('monitoring.serviceMonitor.labels', serviceMonitor.labels);
    requireNoReservedLabels('monitoring.serviceMonitor.labels', serviceMonitor.labels, chartLabels);
    requirePrometheusDuration('monitoring.serviceMonitor.interval', serviceMonitor.interval);
    requirePrometheusDuration('monitoring.serviceMonitor.scrapeTimeout', serviceMonitor.scrapeTimeout);
    if (durationSeconds(serviceMonitor.scrapeTimeout) > durationSeconds(serviceMonitor.interval)) {
      fail('monitoring.serviceMonitor.scrapeTimeout', serviceMonitor.scrapeTimeout, `at most the interval ${JSON.stringify(serviceMonitor.interval)}`);
    }
  }
  if (monitoring.prometheusRule !== undefined) {
    requireObject('monitoring.prometheusRule', monitoring.prometheusRule, ['labels', 'runbookUrl', 'memoryWarningRatio']);
    const rule = settings.prometheusRule!;
    requireLabels('monitoring.prometheusRule.labels', rule.labels);
    requireNoReservedLabels('monitoring.prometheusRule.labels', rule.labels, chartLabels);
    if (typeof rule.runbookUrl !== 'string' || !/^[^\s#]+$/.test(rule.runbookUrl)) {
      fail(
        'monitoring.prometheusRule.runbookUrl',
        rule.runbookUrl,
        'the address of docs/operations.md without spaces or "#", e.g. "https://git.example.com/platform/redis/-/blob/main/docs/operations.md"',
      );
    }
    const ratio = rule.memoryWarningRatio;
    if (typeof ratio !== 'number' || !(ratio > 0 && ratio < 1))
      fail('monitoring.prometheusRule.memoryWarningRatio', ratio, 'a number more than 0 and less than 1, e.g. 0.9');
  }
}

function requireTls(props: RedisClusterChartProps, resolved: ResolvedProps): void {
  if (props.tls === undefined) return;
  requireObject('tls', props.tls, ['secretName', 'issuer', 'requireClientCertificates', 'plaintextPort']);
  const tls = resolved.tls!;
  if (props.tls.issuer !== undefined) {
    requireObject('tls.issuer', props.tls.issuer, ['name', 'kind', 'group']);
    requireDnsSubdomain('tls.issuer.name', tls.issuer!.name);
    if (typeof tls.issuer!.kind !== 'string' || !/^[A-Z][A-Za-z0-9]{0,62}$/.test(tls.issuer!.kind)) {
      fail('tls.issuer.kind', tls.issuer!.kind, 'a kind such as "Issuer" or "ClusterIssuer" (a capital letter, then letters and digits)');
    }
    requireDnsSubdomain('tls.issuer.group', tls.issuer!.group);
    if (resolved.namespace === undefined) {
      fail(
        'namespace',
        undefined,
        "a namespace when tls.issuer is set: the Certificate's DNS names (*.<headlessServiceName>.<namespace>.svc.<clusterDomain>) contain it",
      );
    }
  }
  if (tls.secretName === undefined) {
    fail(
      'tls.secretName',
      undefined,
      'the name of a Secret holding tls.crt, tls.key and ca.crt, or tls.issuer for a cert-manager Certificate that writes one (docs/operations.md, "TLS")',
    );
  }
  requireDnsSubdomain('tls.secretName', tls.secretName);
  if (typeof tls.requireClientCertificates !== 'boolean') fail('tls.requireClientCertificates', tls.requireClientCertificates, 'true or false');
  if (tls.plaintextPort !== undefined) {
    requireInteger('tls.plaintextPort', tls.plaintextPort, 1, 65535);
    const taken: Record<number, string> = { [REDIS_PORT]: 'the TLS client port', [CLUSTER_BUS_PORT]: 'the cluster bus port' };
    if (resolved.monitoring !== undefined) taken[METRICS_PORT] = "the exporter's metrics port";
    if (taken[tls.plaintextPort] !== undefined)
      fail('tls.plaintextPort', tls.plaintextPort, `a port other than ${tls.plaintextPort}, ${taken[tls.plaintextPort]}`);
  }
}

function requireObject(field: string, value: unknown, knownKeys: readonly string[]): asserts value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(field, value, 'an object');
  for (const key of Object.keys(value)) {
    if (!knownKeys.includes(key)) fail(`${field}.${key}`, (value as Record<string, unknown>)[key], `no such field; known fields are ${knownKeys.join(', ')}`);
  }
}

function requireSpread(props: RedisClusterChartProps, resolved: ResolvedProps): void {
  if (props.spread !== undefined) requireObject('spread', props.spread, ['zoneLabel', 'byNode', 'zoneWhenUnsatisfiable', 'readPlacement']);
  const { zoneLabel, byNode, zoneWhenUnsatisfiable, readPlacement } = resolved.spread;
  const [prefix, name] = typeof zoneLabel === 'string' && zoneLabel.includes('/') ? zoneLabel.split(/\/(.*)/s) : [undefined, zoneLabel];
  const validKey =
    typeof name === 'string' && (prefix === undefined || (DNS_SUBDOMAIN.test(prefix) && prefix.length <= 253)) && LABEL_NAME.test(name) && name.length <= 63;
  if (!validKey)
    fail('spread.zoneLabel', zoneLabel, 'a node label key: optional DNS subdomain prefix and "/", then at most 63 letters, digits, "-", "_" or "."');
  if (typeof byNode !== 'boolean') fail('spread.byNode', byNode, 'true or false');
  if (zoneWhenUnsatisfiable !== 'ScheduleAnyway' && zoneWhenUnsatisfiable !== 'DoNotSchedule') {
    fail('spread.zoneWhenUnsatisfiable', zoneWhenUnsatisfiable, '"ScheduleAnyway" or "DoNotSchedule"');
  }
  if (typeof readPlacement !== 'boolean') fail('spread.readPlacement', readPlacement, 'true or false');
}

function requireLabels(field: string, value: unknown): void {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(field, value, 'an object of label names to string values');
  for (const [key, labelValue] of Object.entries(value)) {
    const [prefix, name] = key.includes('/') ? [key.slice(0, key.indexOf('/')), key.slice(key.indexOf('/') + 1)] : [undefined, key];
    const validKey = (prefix === undefined || (DNS_SUBDOMAIN.test(prefix) && prefix.length <= 253)) && LABEL_NAME.test(name) && name.length <= 63;
    if (!validKey) fail(`${field} key`, key, 'a label name: optional DNS subdomain prefix and "/", then at most 63 letters, digits, "-", "_" or "."');
    if (typeof labelValue !== 'string' || !LABEL_VALUE.test(labelValue) || labelValue.length > 63) {
      fail(
        `${field}[${JSON.stringify(key)}]`,
        labelValue,
        'a label value string: at most 63 letters, digits, "-", "_" or ".", starting and ending with a letter or digit (quote "true")',
      );
    }
  }
}

function requireResources(field: string, value: unknown): void {
  requireObject(field, value, ['requests', 'limits']);
  for (const kind of ['requests', 'limits'] as const) {
    const entry = value[kind];
    if (entry === undefined) continue;
    requireObject(`${field}.${kind}`, entry, ['cpu', 'memory']);
    for (const resource of ['cpu', 'memory'] as const) {
      if (entry[resource] !== undefined) requireQuantity(`${field}.${kind}.${resource}`, entry[resource], resource);
    }
  }
  const requests = value.requests as Record<string, string> | undefined;
  const limits = value.limits as Record<string, string> | undefined;
  for (const resource of ['cpu', 'memory'] as const) {
    const request = requests?.[resource];
    const limit = limits?.[resource];
    if (request !== undefined && limit !== undefined && quantityValue(request) > quantityValue(limit)) {
      fail(`${field}.requests.${resource}`, request, `at most the limit ${JSON.stringify(limit)}`);
    }
  }
}

/**
 * Checks every prop and throws one InvalidPropError for the first bad value; returns the props with
 * defaults filled in. Nothing is synthesized from props that did not pass.
 */
export function validateProps(props: RedisClusterChartProps): ResolvedProps {
  if (typeof props !== 'object' || props === null || Array.isArray(props)) fail('props', props, 'an object of RedisClusterChartProps');
  for (const key of Object.keys(props)) {
    if (!KNOWN_PROPS.has(key)) fail(key, (props as Record<string, unknown>)[key], `no such prop; known props are ${[...KNOWN_PROPS].join(', ')}`);
  }
  const resolved = resolveProps(props);

  requireWithin('masters', resolved.masters, BOUNDS.masters);
  requireWithin('replicasPerMaster', resolved.replicasPerMaster, BOUNDS.replicasPerMaster);
  const pods = desiredPodCount(resolved);
  if (pods > MAX_PODS) {
    fail('masters', resolved.masters, `a count whose pods, masters * (1 + replicasPerMaster) = ${pods}, stay at most ${MAX_PODS}`);
  }
  requireImage('image', resolved.image);
  requireServer(resolved);
  requireImage('jobsImage', resolved.jobsImage);
  // A StatefulSet's name goes into the pods' controller-revision-hash label, which caps it at 52.
  requireDnsLabel('statefulSetName', resolved.statefulSetName, 52);
  requireDnsLabel('headlessServiceName', resolved.headlessServiceName);
  requireDnsLabel('clientServiceName', resolved.clientServiceName);
  if (resolved.clientServiceName === resolved.headlessServiceName) {
    fail('clientServiceName', resolved.clientServiceName, `a name other than headlessServiceName ${JSON.stringify(resolved.headlessServiceName)}`);
  }
  requireDnsSubdomain('configMapName', resolved.configMapName);
  if (resolved.configMapName === resolved.topologyConfigMapName) {
    fail('configMapName', resolved.configMapName, `a name other than ${JSON.stringify(resolved.topologyConfigMapName)}, which holds the topology program`);
  }
  requireDnsLabel('volumeClaimTemplateName', resolved.volumeClaimTemplateName);
  if (resolved.namespace !== undefined) requireDnsLabel('namespace', resolved.namespace);
  requireDnsSubdomain('clusterDomain', resolved.clusterDomain);
  if (resolved.storageClassName !== undefined) requireDnsSubdomain('storageClassName', resolved.storageClassName);
  requireQuantity('storageSize', resolved.storageSize, 'storage');
  requireResources('resources', resolved.resources);
  requireResources('jobResources', resolved.jobResources);

  if (typeof resolved.allowUnauthenticated !== 'boolean') fail('allowUnauthenticated', resolved.allowUnauthenticated, 'true or false');
  if (resolved.passwordSecret === undefined && !resolved.allowUnauthenticated) {
    fail(
      'passwordSecret',
      undefined,
      'a Secret reference { name, key } holding the password: without one any pod that reaches port 6379 reads and writes every key, ' +
        'so a cluster without a password needs allowUnauthenticated: true (docs/operations.md, "No open cluster by accident")',
    );
  }
  if (resolved.passwordSecret !== undefined && resolved.allowUnauthenticated) {
    fail('allowUnauthenticated', true, 'false or unset when passwordSecret is set (the cluster does use the password)');
  }
  if (resolved.passwordSecret !== undefined) {
    requireObject('passwordSecret', resolved.passwordSecret, ['name', 'key']);
    requireDnsSubdomain('passwordSecret.name', resolved.passwordSecret.name);
    const key = resolved.passwordSecret.key;
    if (typeof key !== 'string' || !SECRET_KEY.test(key) || key.length > 253) {
      fail('passwordSecret.key', key, 'a Secret data key: letters, digits, "-", "_" or "."');
    }
  }
  requireLabels('podLabels', resolved.podLabels);
  requireNoReservedLabels('podLabels', resolved.podLabels, RESERVED_POD_LABELS);

  if (resolved.maxmemory !== undefined) requireQuantity('maxmemory', resolved.maxmemory, 'memory');
  const memoryLimit = resolved.resources.limits?.memory;
  const maxmemoryBytes = effectiveMaxmemoryBytes(resolved);
  if (resolved.maxmemory !== undefined && memoryLimit !== undefined && maxmemoryBytes! >= quantityValue(memoryLimit)) {
    fail('maxmemory', resolved.maxmemory, `less than resources.limits.memory ${JSON.stringify(memoryLimit)} (Redis needs headroom beyond its data)`);
  }
  if (maxmemoryBytes !== undefined && maxmemoryBytes < 1024 * 1024) {
    fail('maxmemory', resolved.maxmemory ?? memoryLimit, 'at least 1Mi');
  }
  if (!(MAXMEMORY_POLICIES as readonly unknown[]).includes(resolved.maxmemoryPolicy)) {
    fail('maxmemoryPolicy', resolved.maxmemoryPolicy, `one of ${MAXMEMORY_POLICIES.join(', ')}`);
  }

  if (resolved.gitops !== 'argocd' && resolved.gitops !== 'flux') fail('gitops', resolved.gitops, '"argocd" or "flux"');
  if (props.flux !== undefined) {
    requireObject('flux', props.flux, ['sourceRef', 'path', 'namespace', 'interval']);
    if (props.flux.sourceRef !== undefined) requireObject('flux.sourceRef', props.flux.sourceRef, ['kind', 'name', 'namespace']);
  }
  if (!['GitRepository', 'OCIRepository', 'Bucket'].includes(resolved.flux.sourceRef.kind)) {
    fail('flux.sourceRef.kind', resolved.flux.sourceRef.kind, '"GitRepository", "OCIRepository" or "Bucket"');
  }
  requireDnsSubdomain('flux.sourceRef.name', resolved.flux.sourceRef.name);
  requireDnsLabel('flux.sourceRef.namespace', resolved.flux.sourceRef.namespace);
  requireDnsLabel('flux.namespace', resolved.flux.namespace);
  const path = resolved.flux.path;
  if (typeof path !== 'string' || !/^\.\/[^\s]*$/.test(path) || path.split('/').includes('..')) {
    fail('flux.path', path, 'a path inside the source starting with "./", without ".." or spaces, e.g. "./dist"');
  }
  if (typeof resolved.flux.interval !== 'string' || !GO_DURATION.test(resolved.flux.interval)) {
    fail('flux.interval', resolved.flux.interval, 'a Go duration such as "10m" or "1h30m"');
  }

  requireInteger('jobActiveDeadlineSeconds', resolved.jobActiveDeadlineSeconds, 60, 7 * 24 * 3600);
  requireInteger('jobBackoffLimit', resolved.jobBackoffLimit, 0, 100);
  requireInteger('terminationGracePeriodSeconds', resolved.terminationGracePeriodSeconds, 0, 3600);
  if (resolved.migrationSlotsInFlight !== undefined) requireWithin('migrationSlotsInFlight', resolved.migrationSlotsInFlight, BOUNDS.slotsInFlight);
  if (resolved.migrationMaxKeysPerSecond !== undefined) requireWithin('migrationMaxKeysPerSecond', resolved.migrationMaxKeysPerSecond, BOUNDS.maxKeysPerSecond);
  if (resolved.networkPolicy !== undefined) {
    requireObject('networkPolicy', resolved.networkPolicy, ['clientPodLabels', 'metricsScraperNamespaceLabels', 'metricsScraperPodLabels']);
    for (const field of ['clientPodLabels', 'metricsScraperNamespaceLabels', 'metricsScraperPodLabels'] as const) {
      if (resolved.networkPolicy[field] !== undefined) requireLabels(`networkPolicy.${field}`, resolved.networkPolicy[field]);
    }
  }
  requireMonitoring(props, resolved);
  requireTls(props, resolved);
  requireSpread(props, resolved);
  requireDerivedNames(resolved);
  return resolved;
}
