import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * JSON logs on stderr, always: stdout belongs to the framed protocol in
 * stdio mode. Synchronous writes so the last lines survive an exit.
 */
export function createLogger(level: string, options: { pretty?: boolean } = {}): Logger {
  const pretty = options.pretty ?? process.stderr.isTTY === true;
  if (pretty) {
    return pino({ level, base: { name: 'mosaicd' } }, pino.transport({ target: 'pino-pretty', options: { destination: 2 } }));
  }
  return pino({ level, base: { name: 'mosaicd' } }, pino.destination({ dest: 2, sync: true }));
}

/** A logger that drops everything (library use and tests). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
