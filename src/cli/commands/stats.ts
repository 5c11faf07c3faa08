import type { CommandModule } from 'yargs';
import { TileClient } from '../../client/tile-client.js';
import type { CliContext } from '../context.js';
import { connectionOptions } from '../options.js';
import { clientConfigFromArgv } from '../client-config.js';

export function statsCommand(ctx: CliContext): CommandModule {
  return {
    command: 'stats',
    describe: "print a running daemon's queues, renders per zoom and notice counts as JSON",
    builder: (y) => connectionOptions(y),
    handler: async (argv) => {
      const { host, port } = clientConfigFromArgv(argv);
      const client = new TileClient({ host, port });
      ctx.out(`${JSON.stringify(await client.stats(), null, 2)}\n`);
    },
  };
}
