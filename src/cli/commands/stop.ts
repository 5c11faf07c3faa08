import type { CommandModule } from 'yargs';
import { TileClient } from '../../client/tile-client.js';
import type { CliContext } from '../context.js';
import { connectionOptions } from '../options.js';

export function stopCommand(ctx: CliContext): CommandModule {
  return {
    command: 'stop',
    describe: 'ask a running daemon to finish its queue, send every notice and `done`, and exit',
    builder: (y) => connectionOptions(y).option('token', { type: 'string', describe: 'admin token, if the daemon requires one' }),
    handler: async (argv) => {
      const client = new TileClient({ host: argv.host as string | undefined, port: argv.port as number | undefined });
      const reply = await client.stop(argv.token as string | undefined);
      if (reply.trim() !== '') {
        ctx.err(reply);
        ctx.exitCode = 1;
      }
    },
  };
}
