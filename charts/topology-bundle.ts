import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Where `npm run bundle` writes the topology program (see jobs/build.ts). */
export const DEFAULT_TOPOLOGY_BUNDLE_PATH = fileURLToPath(new URL('../jobs/bundle/topology.cjs', import.meta.url));

/** A ConfigMap holds at most 1 MiB; leave room for metadata. */
export const MAX_BUNDLE_BYTES = 900 * 1024;

export function readTopologyBundle(path: string = DEFAULT_TOPOLOGY_BUNDLE_PATH): string {
  if (!existsSync(path)) {
    throw new Error(`The topology program bundle ${path} does not exist; run \`npm run bundle\` (npm run synth does it first).`);
  }
  const bundle = readFileSync(path, 'utf8');
  if (Buffer.byteLength(bundle) > MAX_BUNDLE_BYTES) {
    throw new Error(`The topology program bundle ${path} is ${Buffer.byteLength(bundle)} bytes; a ConfigMap takes at most ${MAX_BUNDLE_BYTES}.`);
  }
  return bundle;
}
