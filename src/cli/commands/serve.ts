import type { CommandModule } from 'yargs';
import type { CliContext } from '../context.js';
import { DAEMON_FLAGS, configFromArgv } from '../options.js';

/**
 * `mosaicd serve`: runs the daemon until `stop`, `shutdown`, SIGTERM or
 * SIGINT (graceful: finish, notify, `done`). A second signal stops at once.
 */
export function serveCommand(ctx: CliContext): CommandModule {
  return {
    command: ['serve', '$0'],
    describe: 'run the daemon (tiles on the line protocol, inference and tiles on the framed protocol, one port)',
    builder: (y) => y.options(DAEMON_FLAGS).example('$0 serve', 'listen on 127.0.0.1:12345, notices to :12346, tiles in ./tiles'),
    handler: async (argv) => {
      const config = configFromArgv(argv);
      // Loaded here, not at the top: client commands need none of the daemon and start faster without it.
      const { Daemon } = await import('../../daemon.js');
      const daemon = await Daemon.start(config);
      let signals = 0;
      const onSignal = (signal: NodeJS.Signals) => {
        signals++;
        daemon.log.info({ signal }, signals === 1 ? 'signal: stopping gracefully (send again to stop now)' : 'signal: stopping now');
        void (signals === 1 ? daemon.stop() : daemon.destroy());
      };
      process.on('SIGTERM', onSignal);
      process.on('SIGINT', onSignal);
      await daemon.closed;
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      ctx.exitCode = 0;
    },
  };
}
