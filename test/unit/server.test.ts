// serverIdentity: Redis or Valkey, and which version, from INFO server.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseInfo } from '../../jobs/observe/cluster-nodes';
import { describeServer, serverIdentity } from '../../jobs/redis/server';

/** INFO server of Redis 7.0.15 (captured, shortened). */
const redis7 = `# Server\r
redis_version:7.0.15\r
redis_git_sha1:00000000\r
redis_git_dirty:0\r
redis_build_id:ae4d7c971a948f0\r
redis_mode:cluster\r
os:Linux 6.18.44-fc-v657 x86_64\r
arch_bits:64\r
tcp_port:7000\r
`;

/** INFO server of Valkey 8.0.1 (shortened): it keeps redis_version 7.2.4 for clients that check it. */
const valkey8 = `# Server\r
redis_version:7.2.4\r
server_name:valkey\r
valkey_version:8.0.1\r
redis_git_sha1:00000000\r
redis_git_dirty:0\r
redis_build_id:5a3d1d05e6f5c5a8\r
server_mode:cluster\r
os:Linux 6.1.0 x86_64\r
arch_bits:64\r
tcp_port:6379\r
`;

test('Redis 7.0.15', () => {
  const server = serverIdentity(parseInfo(redis7));
  assert.deepEqual(server, { kind: 'redis', version: '7.0.15', versionParts: [7, 0, 15] });
  assert.equal(describeServer(server), 'Redis 7.0.15');
});

test('Valkey 8.0.1 is Valkey, whatever its redis_version says', () => {
  const server = serverIdentity(parseInfo(valkey8));
  assert.deepEqual(server, { kind: 'valkey', version: '8.0.1', versionParts: [8, 0, 1] });
  assert.equal(describeServer(server), 'Valkey 8.0.1');
});

test('server_name:valkey alone (no valkey_version) is Valkey with the version it reports', () => {
  assert.deepEqual(serverIdentity({ server_name: 'valkey', redis_version: '7.2.5' }), { kind: 'valkey', version: '7.2.5', versionParts: [7, 2, 5] });
});

test('odd versions: a suffix, missing parts, nothing at all', () => {
  assert.deepEqual(serverIdentity({ redis_version: '7.4.0-rc2' }).versionParts, [7, 4, 0]);
  assert.deepEqual(serverIdentity({ redis_version: '8' }).versionParts, [8, 0, 0]);
  assert.deepEqual(serverIdentity({}), { kind: 'redis', version: '0.0.0', versionParts: [0, 0, 0] });
});
