// CLUSTER NODES and INFO parsing, on replies captured from Redis 7.0.15 (four nodes announcing
// hostnames, a slot being migrated, a MEET to an address nobody answers, a master killed).
// Valkey 8 prints the same fields in the same order.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isFailing, parseClusterNodes, parseInfo } from '../../jobs/observe/cluster-nodes';

const pod0 = 'aa9c395e1f945867da16716de134294dcbcc5979';
const pod1 = '4593802316e63c02172c8e984f604e14eafa28fc';
const pod2 = '4b5c23eb60654715a16405ee37826750cd7db711';
const pod3 = 'd5e9043f4f9509661bf7ba64721d6f10e34b6515';
const host = (ordinal: number) => `redis-cluster-${ordinal}.redis-cluster-svc.default.svc.cluster.local`;

/** Pod 1's view: it is migrating slot 5461 to pod 2, and handshaking with 127.77.0.9 (nobody there). */
const migratingView = `${pod0} 127.77.0.1:7000@17000,${host(0)} master - 0 1796110881496 1 connected 0-5460
${pod1} 127.77.0.2:7000@17000,${host(1)} myself,master - 0 1796110881000 2 connected 5461-10922 [5461->-${pod2}]
${pod2} 127.77.0.3:7000@17000,${host(2)} master - 0 1796110881700 3 connected 10923 10925-10926 10930-16383
${pod3} 127.77.0.4:7000@17000,${host(3)} slave ${pod0} 0 1796110881801 1 connected
d8d524d73d735fbffbbe95d1c8347b943fa8245c 127.77.0.9:7000@17000 handshake - 0 0 0 disconnected
`;

/** Pod 2's own line: importing slot 5461 from pod 1; single slots and ranges mixed. */
const importingLine = `${pod2} 127.77.0.3:7000@17000,${host(2)} myself,master - 0 1796110881000 3 connected 10923 10925-10926 10930-16383 [5461-<-${pod1}]`;

test('a master line: address, hostname, flags, epoch, link, slot ranges, a slot being migrated', () => {
  const entries = parseClusterNodes(migratingView);
  assert.equal(entries.length, 5);
  const self = entries[1]!;
  assert.equal(self.id, pod1);
  assert.equal(self.address, '127.77.0.2:7000');
  assert.equal(self.hostname, host(1));
  assert.deepEqual([...self.flags], ['myself', 'master']);
  assert.equal(self.masterId, null);
  assert.equal(self.configEpoch, 2);
  assert.equal(self.connected, true);
  assert.equal(self.slots.length, 10922 - 5461 + 1);
  assert.equal(self.slots[0], 5461);
  assert.equal(self.slots.at(-1), 10922);
  assert.deepEqual(self.migrating, { 5461: pod2 });
  assert.deepEqual(self.importing, {});
  assert.equal(isFailing(self), false);
});

test('a replica line names its master and has no slots', () => {
  const replica = parseClusterNodes(migratingView)[3]!;
  assert.equal(replica.id, pod3);
  assert.deepEqual([...replica.flags], ['slave']);
  assert.equal(replica.masterId, pod0);
  assert.equal(replica.configEpoch, 1);
  assert.deepEqual(replica.slots, []);
});

test('a node in handshake: no hostname, disconnected', () => {
  const handshake = parseClusterNodes(migratingView)[4]!;
  assert.equal(handshake.address, '127.77.0.9:7000');
  assert.equal(handshake.hostname, '');
  assert.ok(handshake.flags.has('handshake'));
  assert.equal(handshake.connected, false);
  assert.equal(isFailing(handshake), false);
});

test('single slots and ranges, and a slot being imported', () => {
  const [self] = parseClusterNodes(importingLine);
  assert.deepEqual(self!.slots.slice(0, 4), [10923, 10925, 10926, 10930]);
  assert.equal(self!.slots.length, 1 + 2 + (16383 - 10930 + 1));
  assert.ok(!self!.slots.includes(10924) && !self!.slots.includes(5461));
  assert.deepEqual(self!.importing, { 5461: pod1 });
  assert.deepEqual(self!.migrating, {});
});

test('a killed master: fail? (this node suspects it), then fail (the majority agreed); both count as failing', () => {
  const suspected = `${pod2} 127.77.0.3:7000@17000,${host(2)} master,fail? - 1796110885508 1796110884703 3 disconnected 10923 10925-10926 10930-16383`;
  const failed = `${pod2} 127.77.0.3:7000@17000,${host(2)} master,fail - 1796110885508 1796110884703 3 disconnected 10923 10925-10926 10930-16383`;
  for (const line of [suspected, failed]) {
    const [entry] = parseClusterNodes(line);
    assert.equal(entry!.connected, false);
    assert.equal(isFailing(entry!), true, line);
    assert.equal(entry!.slots.length, 5457, 'a failed master still claims its slots');
  }
});

test('noaddr: no address known (hand-written in the documented format, ":0@0")', () => {
  const [entry] = parseClusterNodes('e8a1c2f0a9d64c3b5d5f3f1e2a7b9c0d1e2f3a4b :0@0 master,noaddr - 1796110885508 1796110884703 5 disconnected');
  assert.equal(entry!.address, ':0');
  assert.equal(entry!.hostname, '');
  assert.equal(isFailing(entry!), true);
});

test("a node that has not learned its own IP yet prints ':port' for itself", () => {
  // Captured from pod 0 right after its first CLUSTER MEET, before any peer answered.
  const [entry] = parseClusterNodes(`ccc2fd2b4aa79e9f511b62e6f30229c324b46418 :7000@17000,${host(0)} myself,master - 0 0 0 connected 0-5460`);
  assert.equal(entry!.address, ':7000');
  assert.equal(entry!.hostname, host(0));
  assert.equal(entry!.slots.length, 5461);
});

test('blank lines, CRLF and lines too short to be a node are skipped', () => {
  const entries = parseClusterNodes(`\r\n${importingLine}\r\nnot a node line\r\n\r\n`);
  assert.equal(entries.length, 1);
  assert.equal(entries[0]!.id, pod2);
  assert.equal(entries[0]!.slots.at(-1), 16383, 'no \\r left on the last slot');
});

test('parseInfo: sections, CRLF, values with colons, commas and nothing', () => {
  // INFO server, cluster and keyspace as Redis 7.0.15 sends them (shortened).
  const info = parseInfo(
    [
      '# Server',
      'redis_version:7.0.15',
      'redis_mode:cluster',
      'os:Linux 6.18.44-fc-v657 x86_64',
      'executable:/tmp/capture/redis-server',
      'config_file:',
      '',
      '# Cluster',
      'cluster_enabled:1',
      '',
      '# Keyspace',
      'db0:keys=2,expires=0,avg_ttl=0',
      '',
    ].join('\r\n'),
  );
  assert.deepEqual(info, {
    redis_version: '7.0.15',
    redis_mode: 'cluster',
    os: 'Linux 6.18.44-fc-v657 x86_64',
    executable: '/tmp/capture/redis-server',
    config_file: '',
    cluster_enabled: '1',
    db0: 'keys=2,expires=0,avg_ttl=0',
  });
});

test('parseInfo reads CLUSTER INFO too', () => {
  const clusterInfo = parseInfo('cluster_state:fail\r\ncluster_slots_assigned:16380\r\ncluster_known_nodes:4\r\ncluster_size:3\r\n');
  assert.equal(clusterInfo.cluster_state, 'fail');
  assert.equal(clusterInfo.cluster_slots_assigned, '16380');
  assert.equal(clusterInfo.cluster_size, '3');
});

test("one node's line in many replies is parsed once: the same entry, whatever its ping and pong times", () => {
  const line = (ping: number, pong: number, epoch = 1) => `${pod0} 127.77.0.1:7000@17000,${host(0)} master - ${ping} ${pong} ${epoch} connected 0-5460`;
  const [first] = parseClusterNodes(line(0, 1796110881496));
  const [again] = parseClusterNodes(line(1796110881000, 1796110882000));
  assert.equal(again, first, 'the same entry object');
  const [bumped] = parseClusterNodes(line(0, 1796110881496, 7));
  assert.notEqual(bumped, first);
  assert.equal(bumped!.configEpoch, 7);
  // Seen by itself (myself), the node's line is its own entry.
  const [self] = parseClusterNodes(line(0, 1796110881496).replace(' master ', ' myself,master '));
  assert.notEqual(self, first);
  assert.equal(self!.flags.has('myself'), true);
  assert.equal(first!.flags.has('myself'), false);
});
