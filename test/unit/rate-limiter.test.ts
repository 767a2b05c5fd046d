// RateLimiter: the key rate cap. Timing tests with generous bounds (timers never fire early by
// much, but a loaded machine can make them late).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { RateLimiter } from '../../jobs/migrate/rate-limiter';

/** Milliseconds until `units` in takes of `chunk` have all been let through (the last take(0) waits for the rest). */
async function timeToPass(limiter: RateLimiter, units: number, chunk: number): Promise<number> {
  const started = performance.now();
  for (let taken = 0; taken < units; taken += chunk) await limiter.take(chunk);
  await limiter.take(0);
  return performance.now() - started;
}

test('3000 units at 10000/s take 300 ms, less the 100 ms a fresh limiter may burst', async () => {
  const elapsed = await timeToPass(new RateLimiter(10_000), 3000, 100);
  assert.ok(elapsed >= 150, `took ${elapsed.toFixed(0)} ms, expected about 200`);
  assert.ok(elapsed < 1500, `took ${elapsed.toFixed(0)} ms, expected about 200`);
});

test('idle time is not saved up: after a pause the rate holds again', async () => {
  const limiter = new RateLimiter(10_000);
  await timeToPass(limiter, 1000, 100);
  await sleep(400);
  const elapsed = await timeToPass(limiter, 3000, 500);
  assert.ok(elapsed >= 150, `took ${elapsed.toFixed(0)} ms after a pause, expected about 200`);
});

test('0 per second means no cap: nothing waits', async () => {
  const limiter = new RateLimiter(0);
  const started = performance.now();
  for (let index = 0; index < 100; index++) await limiter.take(1_000_000);
  assert.ok(performance.now() - started < 100);
});
