import t from 'tap';
import net from 'node:net';
import { once } from 'node:events';
import { RequestServer } from '../../src/transport/request-server.js';
import { silentLogger } from '../../src/log.js';

t.test('a session learns its peer address even when the peer has already gone', async (t) => {
  const opened: Array<{ protocol: string; peer: string; text: string; ended: boolean }> = [];
  let sawOpen!: () => void;
  const done = new Promise<void>((r) => (sawOpen = r));
  const server = new RequestServer({
    host: '127.0.0.1',
    port: 0,
    maxConnections: 10,
    idleTimeoutMs: 0,
    log: silentLogger(),
    openSession: (socket, protocol, buffered, ended, _log, peer) => {
      opened.push({ protocol, peer, text: buffered.toString(), ended });
      socket.destroy();
      sawOpen();
      return { isBusy: () => false, lastActivityAt: () => performance.now() };
    },
  });
  const { port } = await server.listen();
  t.teardown(() => server.stopAccepting());
  // The old C# client: one line, no newline, then close at once.
  const client = net.connect({ port, host: '127.0.0.1' });
  await once(client, 'connect');
  client.end('3_4_2');
  await done;
  t.same(opened, [{ protocol: 'lines', peer: '127.0.0.1', text: '3_4_2', ended: true }]);
});

t.test('a port already in use is a clear CONFIG_ERROR, not a stack trace', async (t) => {
  const make = (port: number) =>
    new RequestServer({
      host: '127.0.0.1',
      port,
      maxConnections: 10,
      idleTimeoutMs: 0,
      log: silentLogger(),
      openSession: () => ({ isBusy: () => false, lastActivityAt: () => 0 }),
    });
  const first = make(0);
  const { port } = await first.listen();
  t.teardown(() => first.stopAccepting());
  await t.rejects(make(port).listen(), { code: 'CONFIG_ERROR', message: new RegExp(`127\\.0\\.0\\.1:${port} is already in use`) });
});
