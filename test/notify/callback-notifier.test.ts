import t from 'tap';
import { once } from 'node:events';
import type net from 'node:net';
import { CallbackNotifier, NotifierEvent, type NotifierOptions } from '../../src/notify/callback-notifier.js';
import { ErrorCode } from '../../src/errors.js';
import { freePort, readToEof, startListener, times } from './fixtures/listener.js';

/** A notifier torn down with the test. Backoff is shortened so retries are quick; timing is never asserted. */
function notifier(
  t: { teardown(fn: () => unknown): void },
  options: Partial<NotifierOptions> & { port: number },
): CallbackNotifier {
  const n = new CallbackNotifier({ host: '127.0.0.1', mode: 'short', retryBaseMs: 1, retryMaxMs: 20, ...options });
  t.teardown(() => n.close());
  return n;
}

const lines = (count: number, prefix = '16_58001_'): string[] =>
  Array.from({ length: count }, (_, i) => `${prefix}${25480 + i}\n`);

t.test('short mode: one connection per notice, read to EOF, in order, done last', async (t) => {
  const listener = await startListener(t);
  const n = notifier(t, { port: listener.port });
  n.enqueue('a\n');
  n.enqueue('b\n');
  await n.flush();
  n.enqueue('done\n');
  await n.flush();
  t.same(listener.received, ['a\n', 'b\n', 'done\n'], 'each connection carried exactly one notice');
  t.same(n.stats(), { pending: 0, sent: 3, retried: 0, failedAttempts: 0 });
  t.same(await n.close(), { undelivered: 0 });
});

t.test('short mode: pipelined connections reach a sequential listener in completion order', async (t) => {
  const listener = await startListener(t);
  const n = notifier(t, { port: listener.port, maxInFlight: 8 });
  const all = lines(200);
  const delivered: string[] = [];
  n.on(NotifierEvent.DELIVERED, (line: string) => delivered.push(line));
  for (const l of all) n.enqueue(l);
  await n.flush();
  t.same(listener.received, all, 'accept order is enqueue order');
  t.equal(delivered.length, 200);
  t.same(n.stats(), { pending: 0, sent: 200, retried: 0, failedAttempts: 0 });
});

t.test('persistent mode: all notices on one connection, one per line', async (t) => {
  const listener = await startListener(t);
  const n = notifier(t, { port: listener.port, mode: 'persistent' });
  n.enqueue('a\n');
  n.enqueue('b\n');
  await n.flush();
  n.enqueue('done\n');
  await n.flush();
  t.same(await n.close(), { undelivered: 0 });
  // close() waited for the listener to read to EOF and close: the record is there.
  t.same(listener.received, ['a\nb\ndone\n']);
  t.match(n.stats(), { pending: 0, sent: 3, retried: 0, failedAttempts: 0 });
});

for (const mode of ['short', 'persistent'] as const) {
  t.test(`${mode} mode: listener absent at first, started later: every notice arrives once, in order`, async (t) => {
    const port = await freePort();
    const n = notifier(t, { port, mode });
    const all = lines(5);
    const failures = times(n, NotifierEvent.ATTEMPT_FAILED, 3);
    for (const l of all) n.enqueue(l);
    await failures;
    t.equal(n.stats().pending, 5, 'kept while the listener is absent');

    const listener = await startListener(t, { port });
    await n.flush();
    const stats = n.stats();
    t.ok(stats.failedAttempts >= 3, `failed attempts counted (${stats.failedAttempts})`);
    if (mode === 'short') {
      t.ok(stats.retried >= 3, `retries counted (${stats.retried})`);
      t.same(listener.received, all, 'in order, none twice');
    } else {
      t.same(await n.close(), { undelivered: 0 });
      t.same(listener.received, [all.join('')], 'one connection, in order, none twice');
    }
    t.equal(stats.sent, 5);
    t.equal(stats.pending, 0);
  });
}

t.test('backoff doubles from retryBaseMs up to retryMaxMs', async (t) => {
  const n = notifier(t, { port: await freePort(), retryBaseMs: 1, retryMaxMs: 8 });
  const retries = times(n, NotifierEvent.RETRY, 6);
  n.enqueue('a\n');
  const delays = (await retries).map(([info]) => (info as { delayMs: number }).delayMs);
  t.same(delays, [1, 2, 4, 8, 8, 8]);
});

t.test('flush() resolves only after the listener has read the notice and closed', async (t) => {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const listener = await startListener(t, {
    onConnection: (socket, index, record) => {
      socket.pause();
      void released.then(() => {
        socket.resume();
        readToEof(socket, index, record);
      });
    },
  });
  const n = notifier(t, { port: listener.port });
  n.enqueue('16_1_1\n');
  let flushed = false;
  const flushing = n.flush().then(() => (flushed = true));
  await once(listener.events, 'connection');
  // The listener holds the connection open: our data is written, but not yet read.
  t.equal(flushed, false);
  t.equal(n.stats().pending, 1);
  release();
  await flushing;
  t.same(listener.received, ['16_1_1\n']);
  t.equal(n.stats().sent, 1);
});

t.test('a listener that reads but never closes: delivered after ackTimeoutMs', async (t) => {
  // Time is the feature here: the fallback after ackTimeoutMs.
  const listener = await startListener(t, {
    onConnection: (socket, _index, record) => {
      let data = '';
      socket.setEncoding('utf8');
      socket.on('data', (c: string) => (data += c));
      socket.on('end', () => record(data)); // and never closes
    },
  });
  const n = notifier(t, { port: listener.port, ackTimeoutMs: 20 });
  n.enqueue('a\n');
  await n.flush();
  t.same(listener.received, ['a\n']);
  t.same(n.stats(), { pending: 0, sent: 1, retried: 0, failedAttempts: 0 });
});

t.test('maxPending: enqueue past it throws BusyError, drain when room again', async (t) => {
  const port = await freePort();
  const n = notifier(t, { port, maxPending: 2, retryMaxMs: 5 });
  n.enqueue('a\n');
  n.enqueue('b\n');
  t.throws(() => n.enqueue('c\n'), { code: ErrorCode.BUSY, name: 'BusyError' });
  t.equal(n.stats().pending, 2);
  const drained = once(n, NotifierEvent.DRAIN);
  const listener = await startListener(t, { port });
  await drained;
  n.enqueue('c\n');
  await n.flush();
  t.same(listener.received, ['a\n', 'b\n', 'c\n']);
});

t.test('close() while the listener is absent resolves with the undelivered count', async (t) => {
  const port = await freePort();
  // A long backoff: close() must not wait for it.
  const n = new CallbackNotifier({ host: '127.0.0.1', port, mode: 'short', retryBaseMs: 60_000, retryMaxMs: 60_000 });
  const failed = once(n, NotifierEvent.ATTEMPT_FAILED);
  n.enqueue('a\n');
  n.enqueue('b\n');
  n.enqueue('c\n');
  const flushing = n.flush();
  await failed;
  t.same(await n.close(), { undelivered: 3 });
  await t.rejects(flushing, { code: ErrorCode.SHUTTING_DOWN });
  t.throws(() => n.enqueue('d\n'), { code: ErrorCode.SHUTTING_DOWN });
  t.same(await n.close(), { undelivered: 3 }, 'idempotent');
});

t.test('close() in persistent mode while the listener is absent', async (t) => {
  const n = new CallbackNotifier({ host: '127.0.0.1', port: await freePort(), mode: 'persistent', retryBaseMs: 60_000, retryMaxMs: 60_000 });
  const failed = once(n, NotifierEvent.ATTEMPT_FAILED);
  n.enqueue('a\n');
  await failed;
  t.same(await n.close(), { undelivered: 1 });
});

t.test('close() right after enqueue, while a connection is being made', async (t) => {
  const listener = await startListener(t);
  const n = new CallbackNotifier({ host: '127.0.0.1', port: listener.port, mode: 'short' });
  n.enqueue('a\n');
  const { undelivered } = await n.close();
  t.ok(undelivered === 0 || undelivered === 1, 'resolves, with the notice delivered or counted');
  t.equal(n.stats().pending, undelivered);
});

t.test('short mode: a listener that crashes mid-run and comes back: all delivered, none twice', async (t) => {
  const port = await freePort();
  let stopped: Promise<void> | undefined;
  const first = await startListener(t, {
    port,
    onConnection: (socket, index, record) => {
      // At the third connection the listener "crashes": it stops listening (the kernel
      // resets what is still in its accept queue) and resets that connection and any
      // later one it had already accepted. The first two are read to EOF as usual.
      if (index === 2) stopped = first.stopListening();
      if (index >= 2) socket.resetAndDestroy();
      else readToEof(socket, index, record);
    },
  });
  const n = notifier(t, { port, maxInFlight: 8 });
  const all = lines(10);
  const failed = once(n, NotifierEvent.ATTEMPT_FAILED);
  for (const l of all) n.enqueue(l);
  await failed;
  await stopped;

  const second = await startListener(t, { port });
  await n.flush();
  t.same(first.received.filter((d) => d !== undefined), all.slice(0, 2), 'the first listener read two');
  t.same(second.received, all.slice(2), 'the rest came to the second, in order');
  const got = [...first.received, ...second.received].filter((d): d is string => d !== undefined);
  t.equal(got.length, 10, 'all delivered');
  t.equal(new Set(got).size, got.length, 'none twice');
  const stats = n.stats();
  t.equal(stats.sent, 10);
  t.ok(stats.retried >= 1 && stats.failedAttempts >= 1, `retried ${stats.retried}, failed ${stats.failedAttempts}`);
});

t.test('short mode: the listener stops between notices and comes back', async (t) => {
  const first = await startListener(t);
  const { port } = first;
  const n = notifier(t, { port });
  n.enqueue('a\n');
  await n.flush();
  await first.close();
  const failed = once(n, NotifierEvent.ATTEMPT_FAILED);
  n.enqueue('b\n');
  n.enqueue('c\n');
  await failed;
  const second = await startListener(t, { port });
  await n.flush();
  t.same(first.received, ['a\n']);
  t.same(second.received, ['b\n', 'c\n']);
  t.match(n.stats(), { pending: 0, sent: 3 });
});

t.test('persistent mode: a reset connection is reopened and unconfirmed lines are sent again', async (t) => {
  const listener = await startListener(t, {
    onConnection: (socket, index, record) => {
      if (index > 0) return readToEof(socket, index, record);
      let data = '';
      socket.setEncoding('utf8');
      socket.on('data', (c: string) => {
        data += c;
        if (data.includes('b\n')) {
          record(data);
          socket.resetAndDestroy();
        }
      });
    },
  });
  const n = notifier(t, { port: listener.port, mode: 'persistent' });
  const failed = once(n, NotifierEvent.ATTEMPT_FAILED);
  n.enqueue('a\n');
  n.enqueue('b\n');
  await failed;
  n.enqueue('c\n');
  n.enqueue('done\n');
  await n.flush();
  t.same(await n.close(), { undelivered: 0 });
  t.same(listener.received, ['a\nb\n', 'a\nb\nc\ndone\n'], 'a and b again after the reconnect (documented duplicate), order kept');
  t.match(n.stats(), { pending: 0, sent: 4, retried: 2 });
  t.ok(n.stats().failedAttempts >= 1);
});

t.test('persistent mode: the listener closes cleanly; the next line opens a new connection', async (t) => {
  let firstSocket!: net.Socket;
  const listener = await startListener(t, {
    onConnection: (socket, index, record) => {
      if (index === 0) firstSocket = socket;
      let data = '';
      socket.setEncoding('utf8');
      socket.on('data', (c: string) => {
        data += c;
        record(data);
      });
      socket.on('end', () => socket.end());
    },
  });
  const n = notifier(t, { port: listener.port, mode: 'persistent' });
  n.enqueue('a\n');
  await n.flush();
  await once(listener.events, 'record');
  firstSocket.end();
  await once(firstSocket, 'close');
  n.enqueue('b\n');
  await n.flush();
  t.same(await n.close(), { undelivered: 0 });
  t.same(listener.received, ['a\n', 'b\n']);
  t.match(n.stats(), { sent: 2, retried: 0 });
});

t.test('flush() takes an AbortSignal', async (t) => {
  const n = notifier(t, { port: await freePort(), retryBaseMs: 60_000, retryMaxMs: 60_000 });
  n.enqueue('a\n');
  const ac = new AbortController();
  const flushing = n.flush(ac.signal);
  ac.abort();
  await t.rejects(flushing, { code: ErrorCode.CANCELLED });
  await t.rejects(n.flush(AbortSignal.abort()), { code: ErrorCode.CANCELLED });
  await t.resolves(new CallbackNotifier({ host: '127.0.0.1', port: 1 }).flush(), 'nothing enqueued: resolves at once');
});

t.test('enqueue takes exactly one line with its newline', async (t) => {
  const n = notifier(t, { port: await freePort(), retryBaseMs: 60_000, retryMaxMs: 60_000 });
  for (const bad of ['a', 'a\nb\n', '', 42 as unknown as string]) {
    t.throws(() => n.enqueue(bad), TypeError, JSON.stringify(bad));
  }
  n.enqueue('error 3_8_0 outside the grid\n');
  t.equal(n.stats().pending, 1);
});

t.test('options are validated', async (t) => {
  const ok = { host: '127.0.0.1', port: 12346 };
  for (const bad of [
    { ...ok, host: '' },
    { ...ok, port: 0 },
    { ...ok, port: 70000 },
    { ...ok, mode: 'udp' },
    { ...ok, maxPending: 0 },
    { ...ok, retryBaseMs: -1 },
    { ...ok, retryBaseMs: 100, retryMaxMs: 10 },
    { ...ok, maxInFlight: 1.5 },
  ]) {
    t.throws(() => new CallbackNotifier(bad as NotifierOptions), { code: ErrorCode.CONFIG_ERROR }, JSON.stringify(bad));
  }
  t.equal(new CallbackNotifier(ok).mode, 'short', 'short by default');
});
