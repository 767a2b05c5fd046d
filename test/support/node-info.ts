// INFO fields and CONFIG of single pods, read and set from outside.
import type { LocalRedisPods } from './redis-pods.js';

/** One INFO section of a pod as name -> value. */
export async function readInfo(pods: LocalRedisPods, ordinal: number, section: string): Promise<Record<string, string>> {
  const client = pods.connect(ordinal);
  client.on('error', () => {});
  try {
    const text = await client.info(section);
    return Object.fromEntries(
      text
        .split('\n')
        .map((line) => line.trim())
        .filter((line) => line.includes(':') && !line.startsWith('#'))
        .map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 1)]),
    );
  } finally {
    client.disconnect();
  }
}

/** CONFIG SET name value on each of these pods. */
export async function configSet(pods: LocalRedisPods, ordinals: number[], name: string, value: string): Promise<void> {
  for (const ordinal of ordinals) {
    const client = pods.connect(ordinal);
    client.on('error', () => {});
    try {
      await client.config('SET', name, value);
    } finally {
      client.disconnect();
    }
  }
}

/** CONFIG GET name on each of these pods, in order. */
export async function configGet(pods: LocalRedisPods, ordinals: number[], name: string): Promise<string[]> {
  const values: string[] = [];
  for (const ordinal of ordinals) {
    const client = pods.connect(ordinal);
    client.on('error', () => {});
    try {
      const reply = (await client.config('GET', name)) as string[];
      values.push(reply[1] ?? '');
    } finally {
      client.disconnect();
    }
  }
  return values;
}
