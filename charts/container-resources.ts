import { k8s } from 'cdk8s-plus-27';
import type { ResourceSettings } from './props';

/** ResourceSettings as the L1 ResourceRequirements; unset entries are left out. */
export function containerResources(settings: ResourceSettings): k8s.ResourceRequirements {
  const toQuantities = (values?: { readonly cpu?: string; readonly memory?: string }) => {
    if (values === undefined) return undefined;
    const entries = Object.entries(values).filter((entry): entry is [string, string] => entry[1] !== undefined);
    return Object.fromEntries(entries.map(([name, value]) => [name, k8s.Quantity.fromString(value)]));
  };
  return { requests: toQuantities(settings.requests), limits: toQuantities(settings.limits) };
}
