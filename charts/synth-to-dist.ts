import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { App } from 'cdk8s';
import { statefulSetReplacement, statefulSetReplacementSteps, summarizeChanges } from './change-summary';
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
  /**
   * Write a change to fields Kubernetes will not change on the live StatefulSet (volume claim template,
   * service name, selector, pod management policy); the user deletes the StatefulSet with
   * `--cascade=orphan` before the sync.
   * @default false - such a change is refused and outdir is left as it was
   */
  readonly allowStatefulSetReplacement?: boolean;
}

/**
 * A change Kubernetes refuses on the live StatefulSet, so the sync of it would fail: refused unless
 * allowed, with the steps that do work. Nothing was written.
 */
export class StatefulSetReplacementError extends Error {
  constructor(
    readonly fields: readonly string[],
    readonly steps: readonly string[],
    statefulSetName: string,
  ) {
    super(
      `StatefulSet ${statefulSetName}: this change touches spec.${fields.join(', spec.')}, which Kubernetes refuses to change on a live StatefulSet, so the sync would fail. What works:\n` +
        steps.map((step) => `  ${step}`).join('\n') +
        '\n(docs/operations.md, "Growing the disks, and other fields Kubernetes will not change")',
    );
    this.name = 'StatefulSetReplacementError';
  }
}

/** How to name a directory to the user: relative to the working directory when it is below it, else absolute. */
export function displayPath(dir: string): string {
  const relative = path.relative(process.cwd(), path.resolve(dir));
  if (relative === '') return '.';
  return relative.startsWith('..') || path.isAbsolute(relative) ? path.resolve(dir) : relative;
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

  let replacement: ReturnType<typeof statefulSetReplacement>;
  try {
    replacement = statefulSetReplacement(previous, files);
  } catch {
    // A previous outdir that does not parse holds no StatefulSet to protect; the summary says it could not compare.
    replacement = undefined;
  }
  if (replacement && !options.allowStatefulSetReplacement) {
    throw new StatefulSetReplacementError(replacement.fields, statefulSetReplacementSteps(replacement), replacement.statefulSetName);
  }
  let summary: string[];
  try {
    summary = summarizeChanges(previous, files, displayPath(outdir));
  } catch (error) {
    summary = [`(could not compare with the previous ${displayPath(outdir)}: ${(error as Error).message})`];
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
