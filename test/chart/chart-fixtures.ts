// Shared by the chart tests: synthesize the chart in memory or into temporary directories.
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { App, Testing } from 'cdk8s';
import { parseAllDocuments } from 'yaml';
import { RedisClusterChart, type RedisClusterChartProps } from '../../charts';
import type { KubeObject } from './manifest-schemas';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const distDir = path.join(repoRoot, 'dist');
export const FAKE_BUNDLE = '// fake topology bundle for chart tests\nconsole.log("topology");\n';

/** The seed document's cluster, as main.ts declares it. */
export const SEED_PROPS: RedisClusterChartProps = {
  podLabels: { 'alibabacloud.com/eci': 'true' },
  storageClassName: 'alicloud-disk-essd',
  storageSize: '20Gi',
  passwordSecret: { name: 'redis-cluster-auth', key: 'password' },
};

export function synthObjects(props: RedisClusterChartProps = SEED_PROPS): KubeObject[] {
  const chart = new RedisClusterChart(Testing.app(), 'test', props, { topologyBundle: FAKE_BUNDLE });
  return Testing.synth(chart) as KubeObject[];
}

export function chartOf(props: RedisClusterChartProps = SEED_PROPS): RedisClusterChart {
  return new RedisClusterChart(new App(), 'test', props, { topologyBundle: FAKE_BUNDLE });
}

export function find<T = any>(objects: readonly KubeObject[], kind: string, name: string): T {
  const found = objects.find((object) => object.kind === kind && object.metadata?.name === name);
  if (!found) throw new Error(`no ${kind} ${name} among ${objects.map((o) => `${o.kind}/${o.metadata?.name}`).join(', ')}`);
  return found as T;
}

export function tempDir(prefix: string): string {
  return mkdtempSync(path.join(os.tmpdir(), `redis-cluster-${prefix}-`));
}

export function parseYamlObjects(content: string): KubeObject[] {
  return parseAllDocuments(content)
    .map((document) => document.toJS() as KubeObject)
    .filter(Boolean);
}
