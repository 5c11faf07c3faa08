// Flow control on Vision/Stream, on a real gRPC server on loopback with a
// fake request handler (the seam the daemon fills with the framed service):
// a stream reads at most --grpc-stream-in-flight frames ahead of its
// answers, and a client that does not read its results stalls only its own
// stream.
import t, { type Test } from 'tap';
import { credentials, type Client, type ClientDuplexStream, type ServiceError } from '@grpc/grpc-js';
import { successResponse } from '../../src/protocol/frame-encoder.js';
import type { RequestId } from '../../src/protocol/request-id.js';
import { silentLogger } from '../../src/log.js';
import { CameraFrames } from '../../src/service/camera-frames.js';
import { GrpcServer } from '../../src/transport/grpc/grpc-server.js';
import { loadServices } from '../../src/transport/grpc/protos.js';
import type { FrameMessage, ResultMessage } from '../../src/transport/grpc/vision-codec.js';
import type { FramedReply, FramedRequestHandler } from '../../src/transport/framed-session.js';

type VisionClient = Client & {
  Process(frame: Partial<FrameMessage>, cb: (err: ServiceError | null, r: ResultMessage) => void): void;
  Stream(): ClientDuplexStream<Partial<FrameMessage>, ResultMessage>;
};

function reply(id: RequestId, image: Buffer): FramedReply {
  const item = {
    result_index: 0,
    class_name: `answer to ${String(id)}`,
    score: 1,
    camera_number: 0,
    image_index: 0,
    image_format: 'png',
    image_length: image.length,
    image_width: 1,
    image_height: 1,
    image_mode: 'L',
  };
  return { json: successResponse(id, [item], { model: 'fake' }), images: [image] };
}

/** A server whose handler is `handle`, and a client of it (both closed with the test). */
async function serve(t: Test, handle: FramedRequestHandler, streamInFlight: number): Promise<VisionClient> {
  const server = new GrpcServer({
    host: '127.0.0.1',
    port: 0,
    maxMessageBytes: 4 * 1024 * 1024,
    streamInFlight,
    handle,
    cameras: new CameraFrames({ maxCameras: 1, maxInputPixels: 1e6 }),
    log: silentLogger(),
  });
  const { port } = await server.listen();
  const { VisionClient } = loadServices();
  const client = new VisionClient(`127.0.0.1:${port}`, credentials.createInsecure()) as unknown as VisionClient;
  t.teardown(async () => {
    client.close();
    await server.destroy();
  });
  return client;
}

const processOnce = (client: VisionClient, id: string) =>
  new Promise<ResultMessage>((resolve, reject) => client.Process({ request_id: id, image: Buffer.from('x') }, (err, r) => (err ? reject(err) : resolve(r))));

t.test('a Stream reads at most --grpc-stream-in-flight frames ahead of its answers; other calls are served meanwhile', async (t) => {
  const limit = 3;
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let streamFrames = 0;
  let reachedLimit!: () => void;
  const atLimit = new Promise<void>((resolve) => (reachedLimit = resolve));
  const client = await serve(t, async (request) => {
    const id = request.requestId;
    if (typeof id === 'string' && id.startsWith('s-')) {
      if (++streamFrames === limit) reachedLimit();
      await gate;
    }
    return reply(id, Buffer.from('png'));
  }, limit);

  const call = client.Stream();
  const ids: string[] = [];
  call.on('data', (r: ResultMessage) => ids.push(r.request_id));
  for (let i = 0; i < 10; i++) call.write({ request_id: `s-${i}`, image: Buffer.from('frame') });
  await atLimit;
  const other = await processOnce(client, 'unary-1');
  t.equal(other.request_id, 'unary-1', 'a Process call is answered while the stream waits');
  t.equal(streamFrames, limit, `the stream has read exactly ${limit} frames while none is answered`);
  release();
  call.end();
  await new Promise((resolve) => call.on('end', resolve));
  t.same([...ids].sort(), Array.from({ length: 10 }, (_, i) => `s-${i}`).sort(), 'then every frame is answered, tagged with its request_id');
});

t.test('a client that does not read its results stalls its own stream, not the server', async (t) => {
  const frames = 80;
  const big = Buffer.alloc(256 * 1024, 7);
  let streamFrames = 0;
  let progressed!: () => void;
  const someDone = new Promise<void>((resolve) => (progressed = resolve));
  const client = await serve(t, async (request) => {
    const id = request.requestId;
    if (typeof id === 'string' && id.startsWith('s-') && ++streamFrames === 4) progressed();
    return reply(id, big);
  }, 2);

  const call = client.Stream();
  for (let i = 0; i < frames; i++) call.write({ request_id: `s-${i}`, image: Buffer.from('frame') });
  call.end();
  // No 'data' listener yet: the client reads nothing.
  await someDone;
  const other = await processOnce(client, 'unary-1');
  t.equal(other.request_id, 'unary-1', 'another call is answered');
  t.ok(streamFrames < frames, `the unread stream stopped taking frames (${streamFrames} of ${frames} handled)`);
  let received = 0;
  call.on('data', () => received++);
  await new Promise((resolve) => call.on('end', resolve));
  t.equal(received, frames, 'once the client reads, every result arrives');
  t.equal(streamFrames, frames, 'and every frame was handled');
});
