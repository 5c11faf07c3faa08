import type { CommandModule } from 'yargs';
import type { CliContext } from '../context.js';
import { DAEMON_FLAGS, configFromArgv } from '../options.js';

/**
 * `mosaicd stdio`: the framed protocol on stdin/stdout for a parent process
 * (wire.md §6). stdout carries frames only; logs go to stderr. EOF on stdin
 * or `shutdown` ends the process with 0.
 */
export function stdioCommand(ctx: CliContext): CommandModule {
  return {
    command: 'stdio',
    describe: 'speak the framed protocol on stdin/stdout (for a parent process that spawns mosaicd)',
    builder: (y) => y.options(DAEMON_FLAGS),
    handler: async (argv) => {
      const config = configFromArgv(argv);
      // Loaded here, not at the top: client commands need none of the daemon and start faster without it.
      const { Daemon } = await import('../../daemon.js');
      const daemon = await Daemon.start(config, { listen: false });
      const session = daemon.openFramedSession(process.stdin, process.stdout, undefined, () => void daemon.stop());
      session.start();
      // As `serve`: the first signal stops gracefully, a second one at once.
      let signals = 0;
      const onSignal = () => void (++signals === 1 ? daemon.stop() : daemon.destroy());
      process.on('SIGTERM', onSignal);
      process.on('SIGINT', onSignal);
      await daemon.closed;
      process.stdin.pause();
      // Let stdout drain before the process ends.
      await new Promise<void>((resolve) => (process.stdout.writableLength === 0 ? resolve() : process.stdout.once('drain', () => resolve())));
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      ctx.exitCode = 0;
    },
  };
}
