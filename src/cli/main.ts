import yargs from 'yargs';
import { MosaicError } from '../errors.js';
import { serveCommand } from './commands/serve.js';
import { stdioCommand } from './commands/stdio.js';
import { renderCommand } from './commands/render.js';
import { stopCommand } from './commands/stop.js';
import { statsCommand } from './commands/stats.js';
import { configCommand } from './commands/config.js';
import { seedCommand, expireCommand } from './commands/seed.js';
import { inferCommand } from './commands/infer.js';
import type { CliContext } from './context.js';

/** A command line yargs refused (unknown flag, missing argument, conflicting flags). */
class UsageError extends Error {}

/**
 * Parses argv and runs one command. Returns the exit code; only bin/
 * touches process.exitCode.
 */
export async function main(argv: readonly string[]): Promise<number> {
  const context: CliContext = { exitCode: 0, out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) };
  const commands = [serveCommand, stdioCommand, renderCommand, stopCommand, statsCommand, seedCommand, expireCommand, inferCommand, configCommand].map((make) => make(context));
  let parser = yargs([...argv])
    .scriptName('mosaicd')
    .usage('$0 <command> [options]\n\nRenders map tiles and runs image inference for programs in other languages.')
    .strict()
    .demandCommand(1, 'Name a command: serve, stop, render, stats, seed, expire, infer, stdio, config.')
    .recommendCommands()
    .help()
    .alias('help', 'h')
    .version()
    .wrap(Math.min(110, process.stdout.columns || 110))
    .fail((msg, err) => {
      throw err ?? new UsageError(msg);
    });
  for (const c of commands) parser = parser.command(c);
  try {
    await parser.parseAsync();
  } catch (err) {
    if (err instanceof UsageError) {
      context.err(`${err.message}\n\nRun mosaicd --help for usage.\n`);
      return 2;
    }
    const code = err instanceof MosaicError ? `${err.code}: ` : '';
    context.err(`mosaicd: ${code}${err instanceof Error ? err.message : String(err)}\n`);
    return context.exitCode || 1;
  }
  return context.exitCode;
}
