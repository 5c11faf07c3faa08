// The gRPC port in the daemon: its flags, loopback by default, off unless
// asked for, and a graceful stop that ends open streams with OK.
import t from 'tap';
import { credentials, status, type Client, type ClientDuplexStream, type StatusObject } from '@grpc/grpc-js';
import { configFromArgv } from '../../src/cli/options.js';
import { DEFAULT_CONFIG, type DaemonConfig } from '../../src/config/daemon-config.js';
import { GRPC_MAX_MESSAGE_BYTES, MAX_PAYLOAD_BYTES } from '../../src/limits.js';
import { loadServices } from '../../src/transport/grpc/protos.js';
import type { FrameMessage, ResultMessage } from '../../src/transport/grpc/vision-codec.js';
import { startDaemon } from '../helpers/daemon.js';

t.test('each gRPC flag and MOSAICD_* variable sets its config field', async (t) => {
  const cases: Array<[flag: string, field: keyof DaemonConfig, value: number | string]> = [
    ['grpc-port', 'grpcPort', 50051],
    ['grpc-host', 'grpcHost', '::1'],
    ['grpc-max-message-bytes', 'grpcMaxMessageBytes', 8 * 1024 * 1024],
    ['grpc-stream-in-flight', 'grpcStreamInFlight', 4],
    ['max-cameras', 'maxCameras', 3],
  ];
  for (const [flag, field, value] of cases) {
    t.not(DEFAULT_CONFIG[field], value, `${field}: the test value is not the default`);
    t.equal(configFromArgv({ [flag]: value }, {})[field], value, `--${flag} sets ${field}`);
    const env = `MOSAICD_${flag.replace(/-/g, '_').toUpperCase()}`;
    t.equal(configFromArgv({}, { [env]: String(value) })[field], value, `${env} sets ${field}`);
  }
  t.equal(DEFAULT_CONFIG.grpcPort, undefined, 'gRPC is off by default');
  t.equal(DEFAULT_CONFIG.grpcHost, undefined, 'and binds where --host does');
  t.ok(GRPC_MAX_MESSAGE_BYTES > 4 * 1024 * 1024 && GRPC_MAX_MESSAGE_BYTES === MAX_PAYLOAD_BYTES, 'the message limit is above gRPC\'s 4 MiB, like the framed payload limit');
  t.throws(() => configFromArgv({ 'grpc-stream-in-flight': 0 }, {}), { code: 'CONFIG_ERROR' }, 'a stream needs room for one frame');
});

t.test('a daemon without --grpc-port has no gRPC server', async (t) => {
  const h = await startDaemon(t, {}, { listener: false });
  t.equal(h.daemon.grpcPort(), undefined);
});

t.test('--grpc-port listens on loopback; a graceful stop ends an open Stream with OK', async (t) => {
  const h = await startDaemon(t, { grpcPort: 0 });
  const port = h.daemon.grpcPort();
  t.ok(port !== undefined && port > 0, `bound port ${String(port)}`);
  const { VisionClient } = loadServices();
  const client = new VisionClient(`127.0.0.1:${port}`, credentials.createInsecure()) as unknown as Client & { Stream(): ClientDuplexStream<Partial<FrameMessage>, ResultMessage> };
  t.teardown(() => client.close());
  const call = client.Stream();
  const ended = new Promise<StatusObject>((resolve) => call.on('status', resolve));
  call.on('error', () => {});
  // The call is open once a first answer came back (here: a frame without an image, refused).
  call.write({ request_id: 'empty' });
  const first = await new Promise<ResultMessage>((resolve) => call.once('data', resolve));
  t.match(first, { request_id: 'empty', success: false, error: { code: 'PROTOCOL_ERROR' } });
  call.on('data', () => {});
  await h.daemon.stop();
  const s = await ended;
  t.equal(s.code, status.OK, 'the stream ended with OK');
});
