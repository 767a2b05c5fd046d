// CLUSTER NODES and INFO replies parsed into typed values. Pure.

/** One line of CLUSTER NODES. */
export interface ClusterNodesEntry {
  readonly id: string;
  /** ip:port as announced ("" ip when noaddr). */
  readonly address: string;
  /** cluster-announce-hostname, "" when the node announces none. */
  readonly hostname: string;
  readonly flags: ReadonlySet<string>;
  readonly masterId: string | null;
  readonly configEpoch: number;
  readonly connected: boolean;
  /**
   * The slot ranges as the node printed them ("0-5460 5462"): the same set always prints the
   * same, so comparing views needs no expansion.
   */
  readonly slotRanges: string;
  /** Every slot, expanded on first use (N replies of up to 16384 slots each add up at 200 pods). */
  readonly slots: readonly number[];
  readonly migrating: Readonly<Record<number, string>>;
  readonly importing: Readonly<Record<number, string>>;
}

/**
 * Parsed lines, shared: N pods each list the same N nodes, so one read of the cluster is N^2
 * lines but only about N distinct ones (the ping and pong times aside). A parsed line is about
 * 1.8 KB: unshared, 1000 pods made 1.7 GB per read; shared, a few MB. Entries are immutable, so
 * sharing changes no result; the cache is emptied when it grows past `maxSharedEntries`.
 */
const sharedEntries = new Map<string, ClusterNodesEntry>();
const maxSharedEntries = 20_000;

export function parseClusterNodes(text: string): ClusterNodesEntry[] {
  const entries: ClusterNodesEntry[] = [];
  for (const line of text.split('\n')) {
    const fields = line.trim().split(' ');
    if (fields.length < 8) continue;
    // Everything but the ping-sent and pong-received times (fields 5 and 6).
    const key = `${fields.slice(0, 4).join(' ')} ${fields.slice(6).join(' ')}`;
    const known = sharedEntries.get(key);
    if (known) {
      entries.push(known);
      continue;
    }
    // Parsed from a copy: a piece of the reply would keep the whole reply in memory (V8 slices).
    const copy = Buffer.from(fields.join(' ')).toString();
    const entry = parseLine(copy.split(' '));
    if (sharedEntries.size >= maxSharedEntries) sharedEntries.clear();
    sharedEntries.set(Buffer.from(key).toString(), entry);
    entries.push(entry);
  }
  return entries;
}

function parseLine(fields: readonly string[]): ClusterNodesEntry {
  const [id, addressField, flagsField, master, , , epoch, linkState, ...slotFields] = fields as [
    string,
    string,
    string,
    string,
    string,
    string,
    string,
    string,
    ...string[],
  ];
  const ranges: string[] = [];
  const migrating: Record<number, string> = {};
  const importing: Record<number, string> = {};
  for (const field of slotFields) {
    if (field.startsWith('[')) {
      const open = /^\[(\d+)-([<>])-([0-9a-f]+)\]$/.exec(field);
      if (!open) continue;
      if (open[2] === '>') migrating[Number(open[1])] = open[3]!;
      else importing[Number(open[1])] = open[3]!;
      continue;
    }
    if (/^\d+(?:-\d+)?$/.test(field)) ranges.push(field);
  }
  let slots: number[] | undefined;
  return {
    id,
    address: addressField.split('@')[0]!,
    hostname: addressField.split(',')[1] ?? '',
    flags: new Set(flagsField.split(',')),
    masterId: master === '-' ? null : master,
    configEpoch: Number(epoch),
    connected: linkState === 'connected',
    slotRanges: ranges.join(' '),
    get slots() {
      slots ??= expandRanges(ranges);
      return slots;
    },
    migrating,
    importing,
  };
}

function expandRanges(ranges: readonly string[]): number[] {
  const slots: number[] = [];
  for (const range of ranges) {
    const dash = range.indexOf('-');
    const start = Number(dash < 0 ? range : range.slice(0, dash));
    const end = dash < 0 ? start : Number(range.slice(dash + 1));
    for (let slot = start; slot <= end; slot++) slots.push(slot);
  }
  return slots;
}

export function parseInfo(text: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const index = line.indexOf(':');
    if (index > 0 && !line.startsWith('#')) fields[line.slice(0, index)] = line.slice(index + 1);
  }
  return fields;
}

export const isFailing = (entry: ClusterNodesEntry) => entry.flags.has('fail') || entry.flags.has('fail?') || entry.flags.has('noaddr');
