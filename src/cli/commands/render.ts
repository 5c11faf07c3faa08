import type { CommandModule } from 'yargs';
import { TileClient } from '../../client/tile-client.js';
import { CompletionListener } from '../../client/completion-listener.js';
import type { CliContext } from '../context.js';
import { connectionOptions } from '../options.js';
import { clientConfigFromArgv } from '../client-config.js';

/**
 * `mosaicd render Z_X_Y...`: a line-protocol client. Listens for notices on
 * the callback port, sends the names, prints each notice; exits non-zero on
 * an error notice or when a notice does not come in time.
 */
export function renderCommand(ctx: CliContext): CommandModule {
  return {
    command: 'render <tiles..>',
    describe: 'ask a running daemon for tiles and print their completion notices',
    builder: (y) =>
      connectionOptions(y)
        .positional('tiles', { type: 'string', array: true, describe: 'tile names, Z_X_Y or Z/X/Y' })
        .option('callback-port', { type: 'number', describe: 'port to hear notices on (default: --config, MOSAICD_CALLBACK_PORT, else port + 1)' })
        .option('timeout', { type: 'number', default: 60, describe: 'seconds to wait for every notice' })
        .example('$0 render 3_4_2 16_58001_25480', 'render two tiles and wait for both notices'),
    handler: async (argv) => {
      const { host, port, callbackPort } = clientConfigFromArgv(argv);
      const names = (argv.tiles as string[]).map((n) => n.replace(/\//g, '_'));
      const listener = await CompletionListener.listen({ host, port: callbackPort });
      try {
        listener.on('notice', (n) => {
          if (n.type === 'tile' && names.includes(n.name)) ctx.out(`${n.name}\n`);
          if (n.type === 'error') ctx.out(`error ${n.name} ${n.reason}\n`);
        });
        await new TileClient({ host, port }).request(argv.tiles as string[]);
        const notices = await listener.waitFor(names, (argv.timeout as number) * 1000);
        if (notices.some((n) => n.type === 'error')) ctx.exitCode = 1;
      } finally {
        await listener.close();
      }
    },
  };
}
