import { parseArgs } from 'node:util';
import type { RedisClusterChartProps } from './props';
import { displayPath, StatefulSetReplacementError, synthToDist } from './synth-to-dist';
import { InvalidPropError } from './validate';

const USAGE = `usage: npm run synth -- [--outdir DIR] [--allow-statefulset-replacement]
  --outdir DIR                       write the manifests to DIR instead of dist/ (or REDIS_CLUSTER_OUTDIR, CDK8S_OUTDIR)
  --allow-statefulset-replacement    write a change Kubernetes refuses on the live StatefulSet (storage size, service
                                     name...); delete the StatefulSet with --cascade=orphan before the sync
  -h, --help                         print this
env: REDIS_CLUSTER_PROPS_JSON='{"gitops":"flux"}' overrides main.ts's props (shallow merge)`;

/** A command line or environment the synth cannot run with; printed as the last line, after the usage. */
class SynthUsageError extends Error {}

function readOverrides(): RedisClusterChartProps {
  const json = process.env.REDIS_CLUSTER_PROPS_JSON;
  if (!json) return {};
  let overrides: unknown;
  try {
    overrides = JSON.parse(json);
  } catch (error) {
    throw new SynthUsageError(`REDIS_CLUSTER_PROPS_JSON is not valid JSON (${(error as Error).message}); give an object of props, e.g. '{"masters":4}'`);
  }
  if (typeof overrides !== 'object' || overrides === null || Array.isArray(overrides)) {
    throw new SynthUsageError(`REDIS_CLUSTER_PROPS_JSON must be a JSON object of props, e.g. '{"masters":4}', not ${json}`);
  }
  return overrides as RedisClusterChartProps;
}

function parseCommandLine(argv: readonly string[]): { outdir: string; allowStatefulSetReplacement: boolean; help: boolean } {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        outdir: { type: 'string' },
        'allow-statefulset-replacement': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new SynthUsageError((error as Error).message.split('\n')[0]);
  }
  if (values.outdir === '') throw new SynthUsageError('--outdir needs a directory');
  return {
    outdir: values.outdir ?? process.env.REDIS_CLUSTER_OUTDIR ?? process.env.CDK8S_OUTDIR ?? 'dist',
    allowStatefulSetReplacement: values['allow-statefulset-replacement'],
    help: values.help,
  };
}

/**
 * The `npm run synth` command: synthesizes `props` into dist/ and prints what changed.
 *
 * For tests and experiments, without editing main.ts:
 * - `--outdir DIR` or `REDIS_CLUSTER_OUTDIR` (or cdk8s's `CDK8S_OUTDIR`) writes elsewhere than `dist`;
 * - `REDIS_CLUSTER_PROPS_JSON='{"gitops":"flux"}'` overrides props (shallow merge over main.ts's).
 * Exits 1 with one message when a prop is invalid or the change would replace the StatefulSet, 2 on a
 * bad command line; the output directory is then left as it was, and the error is the last line.
 */
export function runSynthCli(props: RedisClusterChartProps, argv: readonly string[] = process.argv.slice(2)): void {
  try {
    const options = parseCommandLine(argv);
    if (options.help) {
      console.log(USAGE);
      return;
    }
    const overrides = readOverrides();
    const result = synthToDist({ props: { ...props, ...overrides }, outdir: options.outdir, allowStatefulSetReplacement: options.allowStatefulSetReplacement });
    const where = displayPath(options.outdir);
    console.log(result.changed ? `synth: wrote ${result.files.size} file(s) to ${where}/` : `synth: ${where}/ is up to date`);
    for (const line of result.summary) console.log(`  ${line}`);
  } catch (error) {
    if (error instanceof SynthUsageError) {
      console.error(`${USAGE}\nsynth: ${error.message}. Nothing was written.`);
      process.exitCode = 2;
      return;
    }
    if (error instanceof InvalidPropError) {
      console.error(`synth: ${error.message}\nNothing was written.`);
    } else if (error instanceof StatefulSetReplacementError) {
      console.error(`synth: ${error.message}\nNothing was written; to write it anyway: npm run synth -- --allow-statefulset-replacement`);
    } else {
      console.error(`synth: failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\nNothing was written.`);
    }
    process.exitCode = 1;
  }
}
