import type { Test } from 'tap';
import { Daemon } from '../../src/daemon.js';
import { CompletionListener } from '../../src/client/completion-listener.js';
import { TileClient } from '../../src/client/tile-client.js';
import { silentLogger } from '../../src/log.js';
import type { DaemonConfigInput } from '../../src/config/daemon-config.js';
import type { RedisServer } from '../helpers/redis-server.js';

export interface Node {
  daemon: Daemon;
  client: TileClient;
  listener: CompletionListener;
}

/**
 * An in-process daemon on `redis`'s queue, with its own request port and
 * completion listener, sharing `tilesDir` with the other nodes. A stall
 * bound of a few seconds: short for a test, long enough that a loaded
 * machine's late lock renewal does not pass a running job to a second node.
 */
export async function startNode(t: Test, redis: RedisServer, tilesDir: string, config: DaemonConfigInput = {}): Promise<Node> {
  const listener = await CompletionListener.listen();
  const daemon = await Daemon.start(
    {
      port: 0,
      tilesDir,
      callbackPort: listener.port,
      concurrency: 1,
      logLevel: 'silent',
      inference: false,
      journal: false,
      queue: redis.url,
      queueStallMs: 5000,
      ...config,
    },
    { log: silentLogger(), noticeRetryBaseMs: 20 },
  );
  t.teardown(async () => {
    await daemon.destroy();
    await listener.close();
  });
  return { daemon, client: new TileClient({ port: daemon.address().port }), listener };
}

/** This node's metatile renders, from its stats. */
export function rendersOf(n: Node): number {
  return n.daemon.stats().cluster?.renders ?? -1;
}
