// The integration tests again on the other servers users run (see docs/testing.md): on Valkey 9
// all of them; the seed story, kills mid-migration and writes during grow/shrink on Valkey 8 and
// Redis 8. Each run is node's test runner with TEST_SERVER set; any failure fails. (The end-to-end
// walkthrough of manifests synthesized for Valkey, test/e2e/valkey.test.ts, runs on Valkey 9 in
// the main suite: it chooses its server.)
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';

const integration = readdirSync('test/integration')
  .filter((file) => file.endsWith('.test.ts'))
  .map((file) => `test/integration/${file}`);
// servers.test.ts and atomic-slot-migration.test.ts choose their servers themselves.
const choosesItsServers = ['servers', 'atomic-slot-migration'];
const everywhere = integration.filter((file) => !choosesItsServers.some((name) => file.endsWith(`/${name}.test.ts`)));
const core = ['seed-story', 'kill-resume', 'writes-during-reshard'].map((name) => `test/integration/${name}.test.ts`);

const killResume = 'test/integration/kill-resume.test.ts';
// On Valkey 9 the servers' own migration finishes before most random kills land; the kills
// mid-migration (of both engines' runs) are covered by kill-resume with MIGRATE there and by
// atomic-slot-migration.test.ts for the servers' jobs.
const runs: Array<{ server: string; files: string[]; env?: Record<string, string> }> = [
  { server: 'valkey9', files: everywhere.filter((file) => file !== killResume) },
  { server: 'valkey9', files: [killResume], env: { TEST_MIGRATION_ENGINE: 'migrate' } },
  { server: 'valkey8', files: core },
  { server: 'redis8', files: core },
];

let failed = 0;
for (const { server, files, env } of runs) {
  const settings = Object.entries(env ?? {})
    .map(([name, value]) => ` ${name}=${value}`)
    .join('');
  console.log(`\n=== ${files.length} test files on ${server}${settings} ===`);
  const started = Date.now();
  const run = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=1', ...files], {
    stdio: 'inherit',
    env: { ...process.env, ...env, TEST_SERVER: server },
  });
  console.log(`=== ${server}: ${run.status === 0 ? 'passed' : 'FAILED'} in ${Math.round((Date.now() - started) / 1000)} s ===`);
  if (run.status !== 0) failed++;
}
console.log(`\nservers: ${runs.length - failed} passed, ${failed} failed`);
process.exitCode = failed === 0 ? 0 : 1;
