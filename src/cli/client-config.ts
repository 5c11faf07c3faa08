import { ConfigError } from '../errors.js';
import type { DaemonConfig } from '../config/daemon-config.js';
import { configFromArgv } from './options.js';

/** What a client command needs to know about the daemon it talks to. */
export interface ClientConfig {
  /** Where to connect (the daemon's listen address, wildcards mapped to loopback). */
  readonly host: string;
  readonly port: number;
  /** Where the daemon sends completion notices. */
  readonly callbackPort: number;
  readonly adminToken: string | undefined;
  readonly tilesDir: string;
  readonly layout: DaemonConfig['layout'];
  readonly metatile: number;
}

/** The daemon flags a client command may take; the rest of its argv (zoom, timeout, ...) is its own. */
const CLIENT_FLAGS = ['config', 'host', 'port', 'callback-port', 'admin-token', 'tiles-dir', 'layout', 'metatile'] as const;

/**
 * The daemon's configuration as `serve` would resolve it from the same
 * flags, MOSAICD_* variables and --config file (flags > env > file >
 * defaults), so an operator sets a port or an admin token once.
 */
export function clientConfigFromArgv(argv: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env): ClientConfig {
  const picked: Record<string, unknown> = {};
  for (const flag of CLIENT_FLAGS) if (argv[flag] !== undefined) picked[flag] = argv[flag];
  const config = configFromArgv(picked, env);
  if (config.port === 0) {
    throw new ConfigError('the configured port is 0 (any free port), which a client cannot connect to: name the daemon\'s port with --port');
  }
  return {
    host: connectable(config.host),
    port: config.port,
    callbackPort: config.callbackPort ?? config.port + 1,
    adminToken: config.adminToken,
    tilesDir: config.tilesDir,
    layout: config.layout,
    metatile: config.metatile,
  };
}

/** A daemon listening on every address is reached on loopback (connecting to 0.0.0.0 works on Linux only). */
function connectable(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::') return '::1';
  return host;
}
