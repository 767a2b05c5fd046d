// Bundles the topology program into one CommonJS file that runs on plain `node` with no
// node_modules; the chart embeds it in the Jobs' ConfigMap. Output is deterministic: the module
// paths esbuild writes into it are relative to the checkout, and a node_modules that is a link
// (a worktree sharing another checkout's) is named as linked, not by where it points.
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const jobsDir = path.dirname(fileURLToPath(import.meta.url));
export const bundlePath = path.join(jobsDir, 'bundle', 'topology.cjs');

await build({
  absWorkingDir: path.dirname(jobsDir),
  preserveSymlinks: true,
  entryPoints: [path.join(jobsDir, 'main.ts')],
  outfile: bundlePath,
  bundle: true,
  platform: 'node',
  target: 'node24',
  format: 'cjs',
  minify: false,
  keepNames: true,
  legalComments: 'none',
  sourcemap: false,
  logLevel: 'warning',
  banner: { js: '// Redis Cluster topology program (bundled; source in jobs/). Do not edit.' },
});
