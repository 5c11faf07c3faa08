import type { CommandModule } from 'yargs';
import type { CliContext } from '../context.js';
import { DAEMON_FLAGS, configFromArgv } from '../options.js';
import { redactQueueUrl } from '../../cluster/queue-url.js';

export function configCommand(ctx: CliContext): CommandModule {
  return {
    command: 'config',
    describe: 'validate the configuration (flags > MOSAICD_* env > --config file > defaults) and print the effective one',
    builder: (y) => y.options(DAEMON_FLAGS).option('print', { type: 'boolean', default: true, describe: 'print the effective config' }),
    handler: (argv) => {
      const config = configFromArgv(argv);
      const secrets = {
        adminToken: config.adminToken ? '***' : undefined,
        mpAuthkey: config.mpAuthkey ? '***' : undefined,
        queue: config.queue === undefined ? undefined : redactQueueUrl(config.queue),
        queuePassword: config.queuePassword ? '***' : undefined,
      };
      if (argv.print) ctx.out(`${JSON.stringify({ ...config, ...secrets }, null, 2)}\n`);
    },
  };
}
