// MigrateLanes: per pod, at most `width` MIGRATEs outstanding, as source or target.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { MigrateLanes } from '../../jobs/migrate/lanes';
import type { Pod } from '../../jobs/pod';

const pods: Pod[] = Array.from({ length: 4 }, (_, ordinal) => ({
  ordinal,
  host: `h${ordinal}`,
  port: 6379,
  ip: `10.0.0.${ordinal + 1}`,
  name: `pod ${ordinal}`,
}));

/** Counts the operations running on each pod, and the most ever at once. */
function tracker() {
  const running = new Map<number, number>();
  const most = new Map<number, number>();
  return {
    most,
    operation: (source: Pod, target: Pod, work: () => Promise<void>) => async () => {
      for (const pod of [source, target]) {
        running.set(pod.ordinal, (running.get(pod.ordinal) ?? 0) + 1);
        most.set(pod.ordinal, Math.max(most.get(pod.ordinal) ?? 0, running.get(pod.ordinal)!));
      }
      try {
        await work();
      } finally {
        for (const pod of [source, target]) running.set(pod.ordinal, running.get(pod.ordinal)! - 1);
      }
    },
  };
}

/** Fails the test instead of hanging when the lanes deadlock. */
async function within<T>(ms: number, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`not done within ${ms} ms: deadlock?`)), ms)));
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

test('never more than width operations outstanding per pod, across many pairs in both directions', async () => {
  for (const width of [1, 2, 3]) {
    const lanes = new MigrateLanes(width);
    const { most, operation } = tracker();
    const pairs = [
      [0, 1],
      [1, 0],
      [1, 2],
      [2, 3],
      [3, 0],
      [0, 2],
      [2, 0],
    ] as const;
    const all = Array.from({ length: 60 }, (_, index) => {
      const [source, target] = pairs[index % pairs.length]!;
      return lanes.run(
        pods[source]!,
        pods[target]!,
        operation(pods[source]!, pods[target]!, () => sleep(index % 3)),
      );
    });
    await within(5000, Promise.all(all));
    for (const [ordinal, count] of most) assert.ok(count <= width, `pod ${ordinal} had ${count} outstanding, width ${width}`);
    assert.equal(Math.max(...most.values()), width, 'the lanes are used up to their width');
  }
});

test('two pairs sharing a pod: the second waits for the shared pod, not for the whole first pair', async () => {
  const lanes = new MigrateLanes(1);
  const started: string[] = [];
  let releaseFirst!: () => void;
  const first = lanes.run(pods[0]!, pods[1]!, async () => {
    started.push('0->1');
    await new Promise<void>((resolve) => (releaseFirst = resolve));
  });
  await sleep(5);
  assert.deepEqual(started, ['0->1']);
  const second = lanes.run(pods[2]!, pods[1]!, async () => void started.push('2->1'));
  const unrelated = lanes.run(pods[2]!, pods[3]!, async () => void started.push('2->3'));
  await sleep(20);
  assert.deepEqual(started, ['0->1', '2->3'], 'pod 1 is busy; pods 2 and 3 are not');
  releaseFirst();
  await within(1000, Promise.all([first, second, unrelated]));
  assert.deepEqual(started, ['0->1', '2->3', '2->1']);
});

test('a failed operation frees its lanes', async () => {
  const lanes = new MigrateLanes(1);
  await assert.rejects(
    lanes.run(pods[0]!, pods[1]!, async () => {
      throw new Error('IOERR error or timeout reading to target instance');
    }),
    /IOERR/,
  );
  assert.equal(
    await within(
      1000,
      lanes.run(pods[1]!, pods[0]!, async () => 'ran'),
    ),
    'ran',
  );
});

test('no deadlock: pairs in a ring and in opposite directions, all at once, width 1', async () => {
  const lanes = new MigrateLanes(1);
  let done = 0;
  const ring = [
    [0, 1],
    [1, 2],
    [2, 3],
    [3, 0],
    [1, 0],
    [0, 3],
  ] as const;
  const all = Array.from({ length: 120 }, (_, index) => {
    const [source, target] = ring[index % ring.length]!;
    return lanes.run(pods[source]!, pods[target]!, async () => {
      await sleep(0);
      done++;
    });
  });
  await within(5000, Promise.all(all));
  assert.equal(done, 120);
});
