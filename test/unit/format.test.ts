// Numbers as the log prints them.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatDuration, formatMegabytes } from '../../jobs/format';

test('formatDuration: seconds, then minutes and seconds, then hours and minutes', () => {
  const cases: Array<[number, string]> = [
    [0, '0s'],
    [499, '0s'],
    [500, '1s'],
    [59_499, '59s'],
    [59_500, '1m00s'],
    [61_000, '1m01s'],
    [754_000, '12m34s'],
    [3_599_499, '59m59s'],
    [3_599_500, '1h00m'],
    [3_661_000, '1h01m'],
    [27 * 3_600_000 + 5 * 60_000, '27h05m'],
  ];
  for (const [ms, text] of cases) assert.equal(formatDuration(ms), text, `${ms} ms`);
});

test('formatDuration: an unknown ETA is "?"', () => {
  assert.equal(formatDuration(Infinity), '?');
  assert.equal(formatDuration(Number.NaN), '?');
});

test('formatMegabytes rounds to whole MiB', () => {
  assert.equal(formatMegabytes(0), '0 MiB');
  assert.equal(formatMegabytes(1024 * 1024), '1 MiB');
  assert.equal(formatMegabytes(1.5 * 1024 * 1024), '2 MiB');
  assert.equal(formatMegabytes(64 * 1024 * 1024 - 1), '64 MiB');
});
