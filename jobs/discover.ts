// Finds the pods: from --pods, or by DNS names under the headless Service.
import { promises as dns } from 'node:dns';
import { sleep } from './clock';
import { TopologyError } from './errors';
import type { Pod, PodAddress } from './pod';
import type { Settings } from './settings';

type Lookup = (host: string) => Promise<string>;
const defaultLookup: Lookup = async (host) => (await dns.lookup(host)).address;

export function podName(ordinal: number, address: PodAddress): string {
  return `pod ${ordinal} (${address.host}:${address.port})`;
}

export function podDnsName(settings: Settings, ordinal: number): string {
  const { statefulSetName, headlessService, namespace, clusterDomain } = settings.discovery;
  return `${statefulSetName}-${ordinal}.${headlessService}.${namespace}.svc.${clusterDomain}`;
}

/** Resolves the pods given with --pods, failing with the pod's name if one does not resolve. */
export async function resolveGivenPods(addresses: readonly PodAddress[], lookup: Lookup = defaultLookup): Promise<Pod[]> {
  return Promise.all(
    addresses.map(async (address, ordinal) => {
      try {
        const ip = await lookup(address.host);
        return { ordinal, host: address.host, ip, port: address.port, name: podName(ordinal, address) };
      } catch (error) {
        throw new TopologyError(
          `${podName(ordinal, address)} does not resolve (${(error as NodeJS.ErrnoException).code ?? String(error)})`,
          'check the --pods list',
        );
      }
    }),
  );
}

/** The name authoritatively does not exist (NXDOMAIN / no address), as opposed to a lookup that failed. */
function isNoSuchName(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return code === 'ENOTFOUND' || code === 'ENODATA' || code === 'EAI_NONAME' || code === 'ENONAME';
}

/**
 * DNS discovery: ordinals 0, 1, 2, ... until one does not resolve. With `atLeast`, keeps
 * trying (bounded by `timeoutMs`) until ordinals 0..atLeast-1 all resolve.
 */
export async function discoverPods(
  settings: Settings,
  atLeast: number,
  timeoutMs: number,
  onWait: (message: string) => void,
  lookup: Lookup = defaultLookup,
): Promise<Pod[]> {
  const deadline = Date.now() + timeoutMs;
  let lastReport = 0;
  for (;;) {
    const pods: Pod[] = [];
    for (let ordinal = 0; ; ordinal++) {
      const host = podDnsName(settings, ordinal);
      let ip: string;
      try {
        ip = await lookup(host);
      } catch (error) {
        if (isNoSuchName(error)) break;
        // A DNS timeout or server failure says nothing about the pod: ask again rather than
        // conclude it is gone (pre would then plan as if the cluster were smaller).
        if (Date.now() >= deadline) {
          throw new TopologyError(`${host} could not be looked up: ${(error as NodeJS.ErrnoException).code ?? String(error)}`, 'check the cluster DNS');
        }
        onWait(`looking up ${host} failed (${(error as NodeJS.ErrnoException).code ?? String(error)}); retrying`);
        await sleep(2000);
        ordinal--;
        continue;
      }
      pods.push({ ordinal, host, ip, port: settings.discovery.port, name: podName(ordinal, { host, port: settings.discovery.port }) });
    }
    if (pods.length >= atLeast) return pods;
    const missing = podDnsName(settings, pods.length);
    if (Date.now() >= deadline) {
      throw new TopologyError(
        `${missing} does not resolve: found ${pods.length} pods, need ${atLeast}`,
        'check that the StatefulSet has scaled up and its pods are scheduled; the headless Service must publish not-ready addresses',
      );
    }
    if (Date.now() - lastReport > 10_000) {
      onWait(`waiting for ${missing} to resolve (${pods.length}/${atLeast} pods found)`);
      lastReport = Date.now();
    }
    await sleep(2000);
  }
}
