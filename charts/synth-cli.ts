import path from 'node:path';
import type { RedisClusterChartProps } from './props';
import { synthToDist } from './synth-to-dist';
import { InvalidPropError } from './validate';

/**
 * The `npm run synth` command: synthesizes `props` into dist/ and prints what changed.
 *
 * For tests and experiments, without editing main.ts:
 * - `--outdir DIR` or `REDIS_CLUSTER_OUTDIR` (or cdk8s's `CDK8S_OUTDIR`) writes elsewhere than `dist`;
 * - `REDIS_CLUSTER_PROPS_JSON='{"gitops":"flux"}'` overrides props (shallow merge over main.ts's).
 * Exits 1 with one message when a prop is invalid; the output directory is then left as it was.
 */
export function runSynthCli(props: RedisClusterChartProps, argv: readonly string[] = process.argv.slice(2)): void {
  try {
    const outdirFlag = argv.indexOf('--outdir');
    const outdir = (outdirFlag >= 0 ? argv[outdirFlag + 1] : undefined) ?? process.env.REDIS_CLUSTER_OUTDIR ?? process.env.CDK8S_OUTDIR ?? 'dist';
    const overrides = process.env.REDIS_CLUSTER_PROPS_JSON ? (JSON.parse(process.env.REDIS_CLUSTER_PROPS_JSON) as RedisClusterChartProps) : {};
    const result = synthToDist({ props: { ...props, ...overrides }, outdir });
    const where = path.relative(process.cwd(), path.resolve(outdir)) || '.';
    console.log(result.changed ? `synth: wrote ${result.files.size} file(s) to ${where}/` : `synth: ${where}/ is up to date`);
    for (const line of result.summary) console.log(`  ${line}`);
  } catch (error) {
    if (error instanceof InvalidPropError) {
      console.error(`synth: ${error.message}\nNothing was written.`);
    } else {
      console.error(`synth: failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\nNothing was written.`);
    }
    process.exitCode = 1;
  }
}
