import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { readManifestDirectory } from '../../charts/synth-to-dist';
import { synthToDist } from '../../charts';
import { distDir, FAKE_BUNDLE, parseYamlObjects, SEED_PROPS, synthObjects, tempDir } from './chart-fixtures';
import { schemaErrors, type KubeObject } from './manifest-schemas';

function objectsIn(dir: string): KubeObject[] {
  return [...readManifestDirectory(dir).entries()].filter(([file]) => file !== 'kustomization.yaml').flatMap(([, content]) => parseYamlObjects(content));
}

describe('Kubernetes schemas', () => {
  it('accept every object of the committed dist/', async () => {
    const objects = objectsIn(distDir);
    assert.ok(objects.length >= 8, `dist/ has ${objects.length} objects`);
    assert.deepEqual(await schemaErrors(objects), []);
  });

  it('accept every object of the Flux layout, NetworkPolicy and namespace included', async () => {
    const outdir = path.join(tempDir('schema-flux'), 'dist');
    synthToDist({
      props: { ...SEED_PROPS, gitops: 'flux', namespace: 'cache', networkPolicy: {} },
      outdir,
      topologyBundle: FAKE_BUNDLE,
    });
    const objects = objectsIn(outdir);
    assert.ok(objects.some((object) => object.kind === 'Kustomization'));
    assert.ok(objects.some((object) => object.kind === 'NetworkPolicy'));
    assert.deepEqual(await schemaErrors(objects), []);
    const root = parseYamlObjects(readFileSync(path.join(outdir, 'kustomization.yaml'), 'utf8'));
    assert.deepEqual(root, [{ apiVersion: 'kustomize.config.k8s.io/v1beta1', kind: 'Kustomization', resources: ['flux/kustomizations.yaml'] }]);
  });

  it('reject unknown fields at any depth, wrong types and missing required fields', async () => {
    const objects = synthObjects();
    const statefulSet = structuredClone(objects.find((object) => object.kind === 'StatefulSet')) as any;
    statefulSet.spec.template.spec.containers[0].readinessProbe.execute = statefulSet.spec.template.spec.containers[0].readinessProbe.exec;
    const service = structuredClone(objects.find((object) => object.kind === 'Service')) as any;
    service.spec.ports[0].port = '6379';
    const job = structuredClone(objects.find((object) => object.kind === 'Job')) as any;
    delete job.spec.template.spec.containers[0].name;
    const errors = await schemaErrors([statefulSet, service, job]);
    assert.ok(
      errors.some((error) => /StatefulSet .*execute.* does not exist/s.test(error)),
      errors.join('\n'),
    );
    assert.ok(
      errors.some((error) => /Service .*port/s.test(error)),
      errors.join('\n'),
    );
    assert.ok(
      errors.some((error) => /Job .*name/s.test(error)),
      errors.join('\n'),
    );
  });
});
