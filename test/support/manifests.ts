// Reads manifests the way a GitOps tool does: every YAML document of every file below a folder.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    [key: string]: unknown;
  };
  // The rest is per kind; the stand-in reads what it needs.
  [key: string]: any;
}

/** Every object in the YAML files directly in `folder` (sorted by file name), or below it when `recursive`. */
export function readManifests(folder: string, recursive = false): KubeObject[] {
  const objects: KubeObject[] = [];
  for (const entry of readdirSync(folder).sort()) {
    const file = path.join(folder, entry);
    if (statSync(file).isDirectory()) {
      if (recursive) objects.push(...readManifests(file, true));
      continue;
    }
    if (!/\.ya?ml$/.test(entry)) continue;
    for (const document of parseAllDocuments(readFileSync(file, 'utf8'))) {
      if (document.errors.length > 0) throw new Error(`${file}: ${document.errors[0].message}`);
      const object = document.toJS() as KubeObject | null;
      if (object) objects.push(object);
    }
  }
  return objects;
}

export function objectKey(object: Pick<KubeObject, 'kind' | 'metadata'>): string {
  return `${object.kind}/${object.metadata.name}`;
}

export function annotation(object: KubeObject, name: string): string | undefined {
  return object.metadata.annotations?.[name];
}
