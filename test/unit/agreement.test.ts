// findDisagreements and sameConfiguration: when the pods agree on one configuration.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { findDisagreements, sameConfiguration } from '../../jobs/converge/agreement';
import { parseClusterNodes } from '../../jobs/observe/cluster-nodes';
import type { PodReport } from '../../jobs/observe/view';

const id = (name: string) => name.padEnd(40, '0');
const [a, b, c, other] = ['aaaa', 'bbbb', 'cccc', 'ffff'].map(id) as [string, string, string, string];
const address = { [a]: '10.0.0.1', [b]: '10.0.0.2', [c]: '10.0.0.3', [other]: '10.0.0.9' };

/** Each master's config epoch (a replica's line shows its master's). */
const epochs = { [a]: 1, [b]: 2, [c]: 1, [other]: 3 };

/** A CLUSTER NODES line: flags without 'myself' (added for the reporting pod). */
const line = (node: string, flags: string, master = '-', slots = '', epoch = epochs[node]) =>
  `${node} ${address[node]}:6379@16379 ${flags} ${master} 0 0 ${epoch} connected ${slots}`.trim();

/** The three-node cluster everyone agrees on: a holds 0-8191, b holds 8192-16383, c replicates a. */
const agreed = () => [line(a, 'master', '-', '0-8191'), line(b, 'master', '-', '8192-16383'), line(c, 'slave', a)];

function report(ordinal: number, lines: string[], clusterState = 'ok'): PodReport {
  const selfId = [a, b, c][ordinal]!;
  const marked = lines.map((text) => (text.startsWith(selfId) ? text.replace(/ (master|slave)/, ' myself,$1') : text));
  const entries = parseClusterNodes(marked.join('\n'));
  const ip = `10.0.0.${ordinal + 1}`;
  return {
    pod: { ordinal, host: ip, port: 6379, ip, name: `pod ${ordinal}` },
    entries,
    self: entries.find((entry) => entry.id === selfId)!,
    clusterState,
    info: {},
  };
}

const three = (lines: (ordinal: number) => string[], clusterState = 'ok') => [0, 1, 2].map((ordinal) => report(ordinal, lines(ordinal), clusterState));

test('pods that see the same members, roles and slots agree', () => {
  assert.deepEqual(findDisagreements(three(agreed), { requireStateOk: true }), []);
});

test('a pod that does not know a member yet', () => {
  const problems = findDisagreements(
    three((ordinal) => (ordinal === 2 ? agreed().filter((text) => !text.startsWith(b)) : agreed())),
    { requireStateOk: false },
  );
  // Not knowing b, it does not see b's slots either.
  assert.deepEqual(problems, ['pod 2 does not know 1 node(s) yet', 'pod 2 and pod 0 see different slot owners or roles']);
});

test('a pod that still knows a node that is no member', () => {
  const problems = findDisagreements(
    three((ordinal) => (ordinal === 1 ? [...agreed(), line(other, 'master,fail')] : agreed())),
    { requireStateOk: false },
  );
  assert.deepEqual(problems, ['pod 1 still knows 1 other node(s) (ffff0000)']);
});

test('a pod still handshaking', () => {
  const handshake = `${id('9999')} 10.0.0.9:6379@16379 handshake - 0 0 0 disconnected`;
  const problems = findDisagreements(
    three((ordinal) => (ordinal === 0 ? [...agreed(), handshake] : agreed())),
    { requireStateOk: false },
  );
  assert.deepEqual(problems, ['pod 0 is still handshaking']);
});

test('a pod flagging a member as failing', () => {
  const problems = findDisagreements(
    three((ordinal) => (ordinal === 0 ? agreed().map((text) => (text.startsWith(c) ? line(c, 'slave,fail?', a) : text)) : agreed())),
    { requireStateOk: false },
  );
  assert.deepEqual(problems, ['pod 0 flags 1 node(s) as failing']);
});

test('cluster_state other than ok matters only when asked for', () => {
  const reports = three(agreed, 'fail');
  assert.deepEqual(findDisagreements(reports, { requireStateOk: false }), []);
  assert.deepEqual(findDisagreements(reports, { requireStateOk: true }), [
    'pod 0 reports cluster_state:fail',
    'pod 1 reports cluster_state:fail',
    'pod 2 reports cluster_state:fail',
  ]);
});

test('pods that see different slot owners or roles', () => {
  // pod 2 has not heard yet that slot 8191 moved from a to b.
  const moved = [line(a, 'master', '-', '0-8190'), line(b, 'master', '-', '8191-16383'), line(c, 'slave', a)];
  assert.deepEqual(
    findDisagreements(
      three((ordinal) => (ordinal === 2 ? agreed() : moved)),
      { requireStateOk: false },
    ),
    ['pod 2 and pod 0 see different slot owners or roles'],
  );
  // Same slot counts, different slots.
  const swapped = [line(a, 'master', '-', '8192-16383'), line(b, 'master', '-', '0-8191'), line(c, 'slave', a)];
  assert.deepEqual(
    findDisagreements(
      three((ordinal) => (ordinal === 1 ? swapped : agreed())),
      { requireStateOk: false },
    ),
    ['pod 1 and pod 0 see different slot owners or roles'],
  );
  // Pod 1 sees c replicating b.
  const otherMaster = [line(a, 'master', '-', '0-8191'), line(b, 'master', '-', '8192-16383'), line(c, 'slave', b)];
  assert.deepEqual(
    findDisagreements(
      three((ordinal) => (ordinal === 1 ? otherMaster : agreed())),
      { requireStateOk: false },
    ),
    ['pod 1 and pod 0 see different slot owners or roles'],
  );
});

test("before slots move, pods that see a master's config epoch differently do not agree yet", () => {
  // b took a new epoch (it claimed a window); pod 2 has not heard.
  const bumped = [line(a, 'master', '-', '0-8191'), line(b, 'master', '-', '8192-16383', 5), line(c, 'slave', a)];
  const reports = three((ordinal) => (ordinal === 2 ? agreed() : bumped));
  assert.deepEqual(findDisagreements(reports, { requireStateOk: true, requireEpochs: true }), ['pod 2 and pod 0 see different slot owners or roles']);
  // Between other steps, and when the end state is verified, the owners are what matters.
  assert.deepEqual(findDisagreements(reports, { requireStateOk: true }), []);
});

test('masters owning slots that share a config epoch: no slot moves until the servers tell them apart', () => {
  const shared = [line(a, 'master', '-', '0-8191', 4), line(b, 'master', '-', '8192-16383', 4), line(c, 'slave', a, '', 4)];
  assert.deepEqual(
    findDisagreements(
      three(() => shared),
      { requireStateOk: true },
    ),
    [],
  );
  assert.deepEqual(
    findDisagreements(
      three(() => shared),
      { requireStateOk: true, requireEpochs: true },
    ),
    ['masters 10.0.0.1:6379, 10.0.0.2:6379 share config epoch 4 (the servers are giving them distinct ones)'],
  );
  // An empty master (a new one, still at 0) beside another: nothing of theirs can be taken back.
  const empty = [line(a, 'master', '-', '0-16383', 1), line(b, 'master', '-', '', 0), line(c, 'master', '-', '', 0)];
  assert.deepEqual(
    findDisagreements(
      three(() => empty),
      { requireStateOk: true, requireEpochs: true },
    ),
    [],
  );
});

test('sameConfiguration: one node line about another matches what that node says of itself', () => {
  const [self] = parseClusterNodes(line(a, 'myself,master', '-', '0-8191'));
  const entry = (text: string) => parseClusterNodes(text)[0]!;
  assert.equal(sameConfiguration(entry(line(a, 'master', '-', '0-8191')), self!), true);
  assert.equal(sameConfiguration(entry(line(a, 'master', '-', '0-8190')), self!), false, 'one slot fewer');
  assert.equal(sameConfiguration(entry(line(a, 'master', '-', '1-8192')), self!), false, 'same count, other slots');
  assert.equal(sameConfiguration(entry(line(a, 'master', '-', '0-8191', 7)), self!), false, 'an older config epoch');
  assert.equal(sameConfiguration(entry(line(a, 'slave', b)), self!), false, 'seen as a replica');
  assert.equal(sameConfiguration(entry(`${a} 10.0.0.1:6379@16379 handshake - 0 0 0 disconnected`), self!), false, 'still in handshake');

  const [replica] = parseClusterNodes(line(c, 'myself,slave', a));
  assert.equal(sameConfiguration(entry(line(c, 'slave', a)), replica!), true);
  assert.equal(sameConfiguration(entry(line(c, 'slave', b)), replica!), false, 'another master');
  assert.equal(sameConfiguration(entry(line(c, 'master', '-')), replica!), false, 'seen as a master');
});
