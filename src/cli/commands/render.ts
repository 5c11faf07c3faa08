import type { CommandModule } from 'yargs';
import { TileClient } from '../../client/tile-client.js';
import { CompletionListener } from '../../client/completion-listener.js';
import type { CliContext } from '../context.js';
import { connectionOptions } from '../options.js';
import { noticeName, parseTileSyntax } from '../../protocol/tile-syntax.js';
import { checkedMap } from './seed.js';
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
        .option('map', { type: 'string', describe: 'ask for the tiles of this map (sent as NAME/Z/X/Y); NAME/Z/X/Y names work too' })
        .example('$0 render 3_4_2 16_58001_25480', 'render two tiles and wait for both notices')
        .example('$0 render --map osm 3/4/2', 'a tile of map osm (the line osm/3/4/2)'),
    handler: async (argv) => {
      const { host, port, callbackPort } = clientConfigFromArgv(argv);
      const map = checkedMap(argv.map);
      // What each tile is sent as, and the name its notice comes back under.
      const names = (argv.tiles as string[]).map((n) => {
        const tile = parseTileSyntax(n);
        if (tile === undefined) return n; // the daemon answers it with an error notice under this name
        return noticeName(tile, tile.map ?? map);
      });
      const listener = await CompletionListener.listen({ host, port: callbackPort });
      try {
        listener.on('notice', (n) => {
          if (n.type === 'tile' && names.includes(n.name)) ctx.out(`${n.name}\n`);
          if (n.type === 'error') ctx.out(`error ${n.name} ${n.reason}\n`);
        });
        await new TileClient({ host, port }).request(map === undefined ? (argv.tiles as string[]) : names);
        const notices = await listener.waitFor(names, (argv.timeout as number) * 1000);
        if (notices.some((n) => n.type === 'error')) ctx.exitCode = 1;
      } finally {
        await listener.close();
      }
    },
  };
}
