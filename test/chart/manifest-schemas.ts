// Checks Kubernetes objects against the Kubernetes OpenAPI schemas (kubernetes-models' validators; the Flux,
// Prometheus Operator and cert-manager custom resources against their CRDs' schemas) and, because those accept unknown
// fields, also against the models' TypeScript types with excess-property checks, so a misspelt or misplaced
// field anywhere in an object is an error.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

export interface KubeObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata?: { readonly name?: string };
  readonly [field: string]: unknown;
}

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Module of the model class for an apiVersion/kind, or undefined when there is none. */
export function modelModule(object: Pick<KubeObject, 'apiVersion' | 'kind'>): string | undefined {
  const [group, version] = object.apiVersion.includes('/') ? object.apiVersion.split('/') : ['', object.apiVersion];
  if (group === 'kustomize.toolkit.fluxcd.io') return `@kubernetes-models/flux-cd/${group}/${version}/${object.kind}`;
  if (group === 'monitoring.coreos.com') return `@kubernetes-models/prometheus-operator/${group}/${version}/${object.kind}`;
  if (group === 'cert-manager.io') return `@kubernetes-models/cert-manager/${group}/${version}/${object.kind}`;
  if (group === '' || !group.includes('.') || group.endsWith('.k8s.io')) {
    return group === '' ? `kubernetes-models/${version}/${object.kind}` : `kubernetes-models/${group}/${version}/${object.kind}`;
  }
  return undefined;
}

function describe(object: KubeObject): string {
  return `${object.apiVersion} ${object.kind} ${object.metadata?.name ?? '(no name)'}`;
}

/** Errors of the OpenAPI validation (required fields, types, formats, enums). */
async function openApiErrors(objects: readonly KubeObject[]): Promise<string[]> {
  const errors: string[] = [];
  for (const object of objects) {
    const module = modelModule(object);
    if (!module) {
      errors.push(`${describe(object)}: no schema known for this apiVersion/kind`);
      continue;
    }
    const exports = (await import(module)) as Record<string, new (data: unknown) => { validate(): void }>;
    const Model = exports[object.kind];
    try {
      new Model(object).validate();
    } catch (error) {
      errors.push(`${describe(object)}: ${(error as Error).message}`);
    }
  }
  return errors;
}

/** Errors of type-checking each object as a literal of its model's interface (unknown fields included). */
function typeErrors(objects: readonly KubeObject[]): string[] {
  const checkDir = path.join(repoRoot, 'node_modules', '.cache', 'redis-cluster-schema-check');
  mkdirSync(checkDir, { recursive: true });
  const file = path.join(checkDir, `objects-${process.pid}.ts`);
  const lines: string[] = [];
  const owners: { firstLine: number; object: KubeObject }[] = [];
  objects.forEach((object, index) => {
    lines.push(`import type { I${object.kind} as T${index} } from '${modelModule(object)}';`);
  });
  objects.forEach((object, index) => {
    owners.push({ firstLine: lines.length, object });
    lines.push(...`export const object${index}: T${index} = ${JSON.stringify(object, null, 1)};`.split('\n'));
  });
  writeFileSync(file, lines.join('\n'));
  const program = ts.createProgram([file], {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    skipLibCheck: true,
    types: [],
  });
  return ts.getPreEmitDiagnostics(program).map((diagnostic) => {
    const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n');
    if (!diagnostic.file || diagnostic.start === undefined) return message;
    const { line } = diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start);
    const owner = [...owners].reverse().find((candidate) => candidate.firstLine <= line);
    return `${owner ? describe(owner.object) : path.basename(diagnostic.file.fileName)}: line ${line - (owner?.firstLine ?? 0) + 1}: ${message}`;
  });
}

/** Every problem found in the objects; empty when all are valid. */
export async function schemaErrors(objects: readonly KubeObject[]): Promise<string[]> {
  const openApi = await openApiErrors(objects);
  const known = objects.filter((object) => modelModule(object) !== undefined);
  return [...openApi, ...typeErrors(known)];
}
