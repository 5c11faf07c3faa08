import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import net from 'node:net';
import { once } from 'node:events';
import type { Test } from 'tap';
import { Daemon } from '../../src/daemon.js';
import { CompletionListener } from '../../src/client/completion-listener.js';
import { TileClient } from '../../src/client/tile-client.js';
import { silentLogger } from '../../src/log.js';
import type { DaemonConfigInput } from '../../src/config/daemon-config.js';

export interface Harness {
  daemon: Daemon;
  port: number;
  tilesDir: string;
  client: TileClient;
  /** A completion listener on the daemon's callback port (started unless `listener: false`). */
  listener: CompletionListener | undefined;
  callbackPort: number;
}

/** A free TCP port on loopback (bound and released). */
export async function freePort(): Promise<number> {
  const s = net.createServer().listen({ host: '127.0.0.1', port: 0 });
  await once(s, 'listening');
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

export async function tempDir(t: Test, prefix = 'mosaicd-test-'): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * A real daemon on an ephemeral port with its own tiles folder, and a
 * completion listener on its callback port. Torn down with the test.
 */
export async function startDaemon(
  t: Test,
  config: DaemonConfigInput = {},
  options: { listener?: boolean; inference?: boolean } = {},
): Promise<Harness> {
  const tilesDir = await tempDir(t);
  const listener = options.listener === false ? undefined : await CompletionListener.listen();
  const callbackPort = listener?.port ?? (await freePort());
  const daemon = await Daemon.start(
    { port: 0, tilesDir, callbackPort, concurrency: 2, logLevel: 'silent', inference: options.inference ?? false, ...config },
    { log: silentLogger(), noticeRetryBaseMs: 20 },
  );
  t.teardown(async () => {
    await daemon.destroy();
    await listener?.close();
  });
  const port = daemon.address().port;
  return { daemon, port, tilesDir, client: new TileClient({ port }), listener, callbackPort };
}
