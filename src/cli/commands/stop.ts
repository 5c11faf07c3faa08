import type { CommandModule } from 'yargs';
import { TileClient } from '../../client/tile-client.js';
import type { CliContext } from '../context.js';
import { connectionOptions } from '../options.js';
import { clientConfigFromArgv } from '../client-config.js';

export function stopCommand(ctx: CliContext): CommandModule {
  return {
    command: 'stop',
    describe: 'ask a running daemon to finish its queue, send every notice and `done`, and exit',
    builder: (y) => connectionOptions(y).option('token', { type: 'string', alias: 'admin-token', describe: 'admin token, if the daemon requires one (default: --config, MOSAICD_ADMIN_TOKEN)' }),
    handler: async (argv) => {
      const { host, port, adminToken } = clientConfigFromArgv(argv);
      const reply = await new TileClient({ host, port }).stop(adminToken);
      if (reply.trim() !== '') {
        ctx.err(reply);
        ctx.exitCode = 1;
      }
    },
  };
}
