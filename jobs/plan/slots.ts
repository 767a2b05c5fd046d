// Hash slot numbers and the ranges Redis prints them in.

export const slotCount = 16384;

/** Sorted, de-duplicated slots -> [start, end] inclusive ranges. */
export function toRanges(slots: readonly number[]): Array<[number, number]> {
  const sorted = [...new Set(slots)].sort((a, b) => a - b);
  const ranges: Array<[number, number]> = [];
  for (const slot of sorted) {
    const last = ranges[ranges.length - 1];
    if (last && last[1] === slot - 1) last[1] = slot;
    else ranges.push([slot, slot]);
  }
  return ranges;
}

export function formatRanges(slots: readonly number[]): string {
  if (slots.length === 0) return 'none';
  const ranges = toRanges(slots).map(([start, end]) => (start === end ? `${start}` : `${start}-${end}`));
  if (ranges.length <= 6) return ranges.join(',');
  return `${ranges.slice(0, 5).join(',')},... (${ranges.length} ranges)`;
}

/** Even share of the 16384 slots for `masters` masters: base and how many get one more. */
export function evenShare(masters: number): { base: number; withExtra: number } {
  return { base: Math.floor(slotCount / masters), withExtra: slotCount % masters };
}
