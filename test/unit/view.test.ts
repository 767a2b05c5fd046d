// buildView: the pods' CLUSTER NODES and INFO turned into the planner's view.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TopologyError } from '../../jobs/errors';
import { parseClusterNodes } from '../../jobs/observe/cluster-nodes';
import { buildView, keyCount, type PodReport } from '../../jobs/observe/view';
import type { Pod } from '../../jobs/pod';

const id = (name: string) => name.padEnd(40, '0');
const [a, b, c, gone, reset] = ['aaaa', 'bbbb', 'cccc', 'dead', 'eeee'].map(id) as [string, string, string, string, string];

function pod(ordinal: number): Pod {
  const ip = `10.0.0.${ordinal + 1}`;
  return { ordinal, host: ip, port: 6379, ip, name: `pod ${ordinal}` };
}

/** One pod's report from its CLUSTER NODES lines (its own line flagged myself) and INFO fields. */
function report(ordinal: number, lines: string[], info: Record<string, string> = {}): PodReport {
  const entries = parseClusterNodes(lines.join('\n'));
  const self = entries.find((entry) => entry.flags.has('myself'))!;
  return { pod: pod(ordinal), entries, self, clusterState: 'ok', info };
}

const line = (node: string, flags: string, master: string, slots = '', address = `10.0.0.${node === a ? 1 : node === b ? 2 : 3}:6379@16379`) =>
  `${node} ${address} ${flags} ${master} 0 1796110881000 1 connected ${slots}`.trim();

test('pods become PodNodes: role, slots, open slots, whom they know, keys and memory', () => {
  const view = buildView(
    [
      report(0, [line(a, 'myself,master', '-', '0-8191 [100->-' + b + ']'), line(b, 'master', '-', '8192-16383'), line(c, 'slave', a)], {
        db0: 'keys=12,expires=0,avg_ttl=0',
        used_memory: '2048000',
        maxmemory: '67108864',
      }),
      report(1, [line(a, 'master', '-', '0-8191'), line(b, 'myself,master', '-', '8192-16383 [100-<-' + a + ']'), line(c, 'slave', a)]),
      report(2, [line(a, 'master', '-', '0-8191'), line(b, 'master', '-', '8192-16383'), line(c, 'myself,slave', a)], { db0: 'keys=12,expires=0,avg_ttl=0' }),
    ],
    [{ 100: 2, 5: 10 }, {}, {}],
  );
  assert.deepEqual(view.strangers, []);
  const [first, second, replica] = view.pods as [(typeof view.pods)[0], (typeof view.pods)[0], (typeof view.pods)[0]];
  assert.equal(first.id, a);
  assert.equal(first.role, 'master');
  assert.equal(first.masterId, null);
  assert.equal(first.slots.length, 8192);
  assert.deepEqual(first.migrating, { 100: b });
  assert.deepEqual(first.knows, [b, c]);
  assert.equal(first.keyCount, 12);
  assert.deepEqual(first.keysBySlot, { 100: 2, 5: 10 });
  assert.equal(first.usedMemory, 2048000);
  assert.equal(first.maxMemory, 67108864);
  assert.equal(first.name, 'pod 0');
  assert.equal(first.ip, '10.0.0.1');
  assert.deepEqual(second.importing, { 100: a });
  assert.equal(second.maxMemory, 0, 'no maxmemory in INFO means no limit');
  assert.equal(replica.role, 'replica');
  assert.equal(replica.masterId, a);
  assert.equal(replica.keyCount, 12);
});

test('a replica has no slots, even if its own line still lists some', () => {
  const view = buildView([report(0, [line(a, 'myself,slave', b, '0-100'), line(b, 'master', '-', '0-16383')])], [{}]);
  assert.equal(view.pods[0]!.role, 'replica');
  assert.equal(view.pods[0]!.masterId, b);
  assert.deepEqual(view.pods[0]!.slots, []);
});

test('handshakes are counted, not known; failing flags are listed', () => {
  const view = buildView(
    [
      report(0, [line(a, 'myself,master', '-', '0-16383'), line(b, 'master,fail?', '-'), `${id('ffff')} 10.0.0.9:6379@16379 handshake - 0 0 0 disconnected`]),
      report(1, [line(a, 'master', '-', '0-16383'), line(b, 'myself,master', '-')]),
    ],
    [{}, {}],
  );
  assert.deepEqual(view.pods[0]!.knows, [b]);
  assert.deepEqual(view.pods[0]!.failing, [b]);
  assert.equal(view.pods[0]!.handshakes, 1);
  assert.deepEqual(view.strangers, [], 'a node in handshake is no stranger');
});

test('strangers: known nodes that are no pod; unreachable only when every pod that knows it flags it', () => {
  const view = buildView(
    [
      report(0, [
        line(a, 'myself,master', '-', '0-8191'),
        line(b, 'master', '-', '8192-16383'),
        line(gone, 'master,fail', '-', '8192-8200', '10.0.0.7:6379@16379'),
      ]),
      report(1, [
        line(a, 'master', '-', '0-8191'),
        line(b, 'myself,master', '-', '8192-16383'),
        line(gone, 'master,fail?', '-', '8201', '10.0.0.7:6379@16379'),
        line(reset, 'slave', a, '', '10.0.0.8:6379@16379'),
      ]),
    ],
    [{}, {}],
  );
  assert.deepEqual(view.strangers, [
    { id: gone, address: '10.0.0.7:6379', knownBy: [0, 1], unreachable: true, slots: [...Array.from({ length: 9 }, (_, index) => 8192 + index), 8201] },
    { id: reset, address: '10.0.0.8:6379', knownBy: [1], unreachable: false, slots: [] },
  ]);
});

test('a stranger seen with noaddr by one pod keeps the address another pod knows', () => {
  const view = buildView(
    [
      report(0, [line(a, 'myself,master', '-', '0-16383'), line(gone, 'master,noaddr', '-', '', ':0@0')]),
      report(1, [line(a, 'master', '-', '0-16383'), line(b, 'myself,master', '-'), line(gone, 'master,fail', '-', '', '10.0.0.7:6379@16379')]),
    ],
    [{}, {}],
  );
  assert.equal(view.strangers[0]!.address, '10.0.0.7:6379');
  assert.equal(view.strangers[0]!.unreachable, true);
});

test('a stranger only ever seen with noaddr is "no address"', () => {
  const view = buildView([report(0, [line(a, 'myself,master', '-', '0-16383'), line(gone, 'master,noaddr', '-', '', ':0@0')])], [{}]);
  assert.equal(view.strangers[0]!.address, 'no address');
});

test('two pods reporting the same node id are refused (listed twice, or a shared volume)', () => {
  assert.throws(
    () => buildView([report(0, [line(a, 'myself,master', '-', '0-16383')]), report(1, [line(a, 'myself,master', '-', '0-16383')])], [{}, {}]),
    (error: unknown) =>
      error instanceof TopologyError &&
      error.message === `pod 0 and pod 1 report the same node id ${a}` &&
      /listed twice, or two pods share a data volume; check --pods/.test(error.hint ?? ''),
  );
});

test('keyCount reads db0 from INFO keyspace; no db0 is no keys', () => {
  assert.equal(keyCount({ db0: 'keys=4213,expires=12,avg_ttl=0' }), 4213);
  assert.equal(keyCount({}), 0);
});
