import t, { type Test } from 'tap';
import net from 'node:net';
import { once } from 'node:events';
import { TcpListener, type TcpListenerOptions, type SessionHandle } from '../../src/transport/tcp-listener.js';
import { silentLogger } from '../../src/log.js';

const idle: SessionHandle = { isBusy: () => false, lastActivityAt: () => 0 };

async function listen(t: Test, options: Partial<TcpListenerOptions>): Promise<{ listener: TcpListener; port: number }> {
  const listener = new TcpListener({
    host: '127.0.0.1',
    port: 0,
    maxConnections: 10,
    idleTimeoutMs: 0,
    log: silentLogger(),
    inUseMessage: (host, port) => `${host}:${port} is taken`,
    onConnection: () => idle,
    ...options,
  });
  const { port } = await listener.listen();
  t.teardown(async () => {
    listener.destroyConnections();
    await listener.stopAccepting();
  });
  return { listener, port };
}

async function connect(port: number): Promise<net.Socket> {
  const socket = net.connect({ port, host: '127.0.0.1' });
  await once(socket, 'connect');
  socket.on('error', () => {});
  return socket;
}

/** Resolves when the server side has closed the socket. */
const closed = (socket: net.Socket) => new Promise<void>((resolve) => (socket.closed ? resolve() : socket.once('close', () => resolve())));

t.test('a connection over the limit is closed at once and counted as refused; the ones within it are kept', async (t) => {
  const accepted: string[] = [];
  const { listener, port } = await listen(t, {
    maxConnections: 2,
    onConnection: ({ peer }) => (accepted.push(peer), idle),
  });
  const a = await connect(port);
  const b = await connect(port);
  while (accepted.length < 2) await new Promise((r) => setImmediate(r));
  const c = await connect(port);
  await closed(c);
  t.equal(listener.refusedConnections, 1, 'one refused');
  t.equal(listener.connections, 2, 'two live');
  t.same(accepted, ['127.0.0.1', '127.0.0.1'], 'onConnection saw the two accepted peers only');
  t.equal(a.closed || b.closed, false, 'the accepted connections stay open');
});

t.test('a refused peer never reaches onConnection and is not counted against the limit', async (t) => {
  let opened = 0;
  const { listener, port } = await listen(t, { refusePeer: () => 'not allowed', onConnection: () => (opened++, idle) });
  await closed(await connect(port));
  t.equal(opened, 0, 'onConnection was not called');
  t.equal(listener.refusedConnections, 0, 'not counted as refused for the limit');
  t.equal(listener.connections, 0, 'no live connection');
});

t.test('a silent connection is closed after the idle timeout; one owed an answer is kept until it is not', async (t) => {
  let busy = true;
  const sessions: SessionHandle[] = [{ isBusy: () => false, lastActivityAt: () => 0 }, { isBusy: () => busy, lastActivityAt: () => 0 }];
  let next = 0;
  const { port } = await listen(t, { idleTimeoutMs: 50, onConnection: () => sessions[next++]! });
  const silent = await connect(port);
  const owed = await connect(port);
  await closed(silent);
  t.equal(owed.closed, false, 'the connection owed an answer is still open when the silent one was closed');
  busy = false;
  await closed(owed);
  t.pass('closed once nothing was owed and the idle timeout passed');
});

t.test('a port in use is a CONFIG_ERROR with the caller\'s message', async (t) => {
  const { port } = await listen(t, {});
  const second = new TcpListener({
    host: '127.0.0.1',
    port,
    maxConnections: 1,
    idleTimeoutMs: 0,
    log: silentLogger(),
    inUseMessage: (host, p) => `${host}:${p} is taken`,
    onConnection: () => idle,
  });
  await t.rejects(second.listen(), { code: 'CONFIG_ERROR', message: `127.0.0.1:${port} is taken` });
});

t.test('stopAccepting refuses new connections and waits for live ones; destroyConnections closes them', async (t) => {
  const { listener, port } = await listen(t, {});
  const socket = await connect(port);
  while (listener.connections < 1) await new Promise((r) => setImmediate(r));
  let stopped = false;
  const stopping = listener.stopAccepting().then(() => (stopped = true));
  const refused = net.connect({ port, host: '127.0.0.1' });
  const [err] = (await once(refused, 'error')) as [NodeJS.ErrnoException];
  t.equal(err.code, 'ECONNREFUSED', 'a new connection is refused');
  t.equal(socket.closed, false, 'the live connection is still open');
  t.equal(stopped, false, 'stopAccepting waits for it');
  listener.destroyConnections();
  await closed(socket);
  await stopping;
  t.equal(listener.connections, 0, 'no live connection left');
});
