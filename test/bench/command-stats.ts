// The wire seen from the servers: INFO commandstats summed over nodes, before and after an
// operation, so each tool's round trips per slot show (MIGRATE, SETSLOT, GETKEYSINSLOT, ...).
import { withConnection } from './cluster-view.js';

export type CommandStats = Record<string, { calls: number; usec: number }>;

/**
 * The slot migration protocols' commands (MIGRATE's, and atomic slot migration's on Valkey 9); the
 * bench itself sends none of them during an operation, except as the native ASM contender.
 */
const protocolCommands =
  /^(migrate|restore-asking|restore|asking|cluster\|(setslot|getkeysinslot|countkeysinslot|meet|forget|replicate|addslots|addslotsrange|delslots|failover|reset|bumpepoch|set-config-epoch|migrateslots|getslotmigrations|cancelslotmigrations|syncslots))$/;

export async function readCommandStats(addresses: string[]): Promise<CommandStats> {
  const total: CommandStats = {};
  for (const address of addresses) {
    const info = await withConnection(address, async (client) => String(await client.info('commandstats')));
    for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/gm)) {
      const [, command, calls, usec] = match;
      if (!protocolCommands.test(command)) continue;
      total[command] ??= { calls: 0, usec: 0 };
      total[command].calls += Number(calls);
      total[command].usec += Number(usec);
    }
  }
  return total;
}

export function subtractStats(after: CommandStats, before: CommandStats): CommandStats {
  const difference: CommandStats = {};
  for (const [command, stats] of Object.entries(after)) {
    const calls = stats.calls - (before[command]?.calls ?? 0);
    if (calls > 0) difference[command] = { calls, usec: stats.usec - (before[command]?.usec ?? 0) };
  }
  return difference;
}
