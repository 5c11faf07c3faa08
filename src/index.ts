/**
 * mosaicd as a library: the daemon, its clients, and the codes its errors carry.
 */
export { Daemon, type DaemonOptions, type DaemonStats } from './daemon.js';
export { resolveConfig, DEFAULT_CONFIG, type DaemonConfig, type DaemonConfigInput } from './config/daemon-config.js';
export { TileClient, CompletionListener, FramedClient, parseNotice, type Notice, type FramedResponse } from './client/index.js';
export { ErrorCode, MosaicError } from './errors.js';
export { parseTileName, tileName, type TileCoord } from './tile/tile-coord.js';
export * as limits from './limits.js';
