import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { App } from 'cdk8s';
import { summarizeChanges } from './change-summary';
import type { RedisClusterChartProps } from './props';
import { RedisClusterChart } from './redis-cluster-chart';
import { renderManifests, type ManifestFiles } from './render-manifests';

export interface SynthToDistOptions {
  /** The desired cluster. */
  readonly props: RedisClusterChartProps;
  /** Directory that receives the manifests; it is replaced as a whole. */
  readonly outdir: string;
  /**
   * The bundled topology program's text.
   * @default - read from jobs/bundle/topology.cjs
   */
  readonly topologyBundle?: string;
}

export interface SynthResult {
  /** Files written, relative to outdir. */
  readonly files: ManifestFiles;
  /** Whether outdir's content changed. */
  readonly changed: boolean;
  /** What changed against the previous content of outdir, in lines for a person. */
  readonly summary: string[];
}

/** Every file under dir, relative to it (posix separators), sorted. */
export function readManifestDirectory(dir: string): ManifestFiles {
  const files: ManifestFiles = new Map();
  if (!existsSync(dir)) return files;
  const walk = (relative: string) => {
    for (const entry of readdirSync(path.join(dir, relative), { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const child = relative ? `${relative}/${entry.name}` : entry.name;
      if (entry.isDirectory()) walk(child);
      else files.set(child, readFileSync(path.join(dir, child), 'utf8'));
    }
  };
  walk('');
  return files;
}

function sameFiles(a: ManifestFiles, b: ManifestFiles): boolean {
  return a.size === b.size && [...a].every(([file, content]) => b.get(file) === content);
}

/**
 * Validates the props, synthesizes the chart, and replaces outdir with the result: written to a
 * sibling temporary directory first, then swapped in by two renames, so outdir never holds half an
 * output and keeps no file that no longer belongs. Invalid props throw before anything is written.
 */
export function synthToDist(options: SynthToDistOptions): SynthResult {
  const chart = new RedisClusterChart(new App(), 'redis-cluster', options.props, { topologyBundle: options.topologyBundle });
  const files = renderManifests(chart);
  const outdir = path.resolve(options.outdir);
  const previous = readManifestDirectory(outdir);

  let summary: string[];
  try {
    summary = summarizeChanges(previous, files);
  } catch (error) {
    summary = [`(could not compare with the previous ${options.outdir}: ${(error as Error).message})`];
  }
  if (sameFiles(previous, files)) return { files, changed: false, summary };

  const staging = `${outdir}.synth-${process.pid}`;
  const retired = `${outdir}.previous-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  try {
    for (const [file, content] of files) {
      mkdirSync(path.dirname(path.join(staging, file)), { recursive: true });
      writeFileSync(path.join(staging, file), content);
    }
    mkdirSync(staging, { recursive: true });
    if (existsSync(outdir)) {
      if (!statSync(outdir).isDirectory()) throw new Error(`${outdir} exists and is not a directory`);
      renameSync(outdir, retired);
    }
    renameSync(staging, outdir);
  } catch (error) {
    rmSync(staging, { recursive: true, force: true });
    if (existsSync(retired) && !existsSync(outdir)) renameSync(retired, outdir);
    throw error;
  }
  rmSync(retired, { recursive: true, force: true });
  return { files, changed: true, summary };
}
