import t, { type Test } from 'tap';
import sharp from 'sharp';
import { CompletionListener } from '../../src/client/completion-listener.js';
import { FramedClient } from '../../src/client/framed-client.js';
import { freePort, tempDir } from '../helpers/daemon.js';
import { exitCodeOf, spawnMosaicd } from '../helpers/processes.js';
import { textPng } from './fixtures/images.js';

/**
 * The shipped `text-line-direction` pipeline (PP-OCRv4's DB text detector as
 * the `text-lines` detector → crops → the `text-direction` classifier), routed
 * to camera 5 with --camera-model, through a real `mosaicd serve` child over
 * the framed TCP protocol.
 */
const dir = await tempDir(t);
const port = await freePort();
// A listener for the `done` notice sent at shutdown (without one the daemon retries it for a minute).
const sink = await CompletionListener.listen({ port: 0 });
t.teardown(() => sink.close());
const callbackPort = sink.port;
const daemon = spawnMosaicd(t, [
  'serve', '--port', String(port), '--callback-port', String(callbackPort), '--tiles-dir', `${dir}/tiles`,
  '--camera-model', '5=text-line-direction', '--inference-workers', '1', '--log-level', 'warn',
]);

async function connect(): Promise<FramedClient> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      return await FramedClient.connect({ port });
    } catch (err) {
      if (daemon.exitCode !== null || Date.now() > deadline) throw new Error(`mosaicd serve did not start: ${String(err)}\n${daemon.output()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
const client = await connect();

type Result = Record<string, unknown> & { class_name: string; score: number; box: [number, number][] };

async function check(t: Test, response: Awaited<ReturnType<FramedClient['process']>>): Promise<Result[]> {
  t.equal(response.json.success, true, 'success', { error: response.json.error });
  t.equal(response.json.model, 'text-line-direction', 'camera 5 is routed to the pipeline');
  const results = response.json.results as Result[];
  t.equal(results.length, response.images.length, 'one PNG per result');
  for (const [i, r] of results.entries()) {
    const meta = await sharp(response.images[i]!).metadata();
    t.same([meta.format, meta.width, meta.height], ['png', r.image_width, r.image_height], `result ${i}: the crop PNG decodes at its reported size`);
    t.equal(r.class_name, r.classifier_class, `result ${i}: class_name is the classifier's class`);
    t.equal(r.score, r.classifier_score, `result ${i}: score is the classifier's score`);
    t.equal(r.detector_class, 'text', `result ${i}: the detector's class`);
    t.ok((r.detector_score as number) >= 0.6 && (r.detector_score as number) <= 1, `result ${i}: the detector's score (${String(r.detector_score)})`);
    t.equal(r.box.length, 4, `result ${i}: a four-corner box`);
  }
  return results;
}

t.test('an upside-down text line yields classifier class 180; an upright one 0', async (t) => {
  const flipped = await sharp(await textPng(['MOSAICD 2026'])).rotate(180).png().toBuffer();
  const down = await check(t, await client.process(flipped, { camera: 5 }));
  t.same(down.map((r) => r.class_name), ['180']);
  t.ok(down[0]!.score > 0.9, `confident (${down[0]!.score})`);
  const up = await check(t, await client.process(await textPng(['HELLO WORLD']), { camera: 5 }));
  t.same(up.map((r) => r.class_name), ['0']);
});

t.test('two lines in one image, one flipped: each crop is classified on its own (crops batched in one run)', async (t) => {
  const line = (text: string) => textPng([text], { width: 640, height: 160 });
  const bottom = await sharp(await line('HELLO WORLD')).rotate(180).png().toBuffer();
  const image = await sharp({ create: { width: 640, height: 320, channels: 3, background: 'white' } })
    .composite([{ input: await line('MOSAICD 2026'), top: 0, left: 0 }, { input: bottom, top: 160, left: 0 }])
    .png()
    .toBuffer();
  const results = await check(t, await client.process(image, { camera: 5 }));
  const byTop = [...results].sort((a, b) => a.box[0]![1] - b.box[0]![1]);
  t.same(byTop.map((r) => r.class_name), ['0', '180'], 'the top line upright, the bottom one upside down');
  t.ok(byTop[0]!.box[0]![1] < 160 && byTop[1]!.box[0]![1] >= 160, 'boxes in input pixels');
  const stats = await client.stats();
  const inference = (stats.json.stats as { inference: { models: Record<string, { maxBatchSize: number }> } }).inference;
  const model = inference.models['text-line-direction']!;
  t.equal(model.maxBatchSize, 2, 'the two crops ran as one classifier batch');
});

t.test('garbage on the pipeline camera is a PROTOCOL_ERROR and the connection stays usable', async (t) => {
  const bad = await client.process(new TextEncoder().encode('not an image'), { camera: 5 });
  t.equal(bad.json.success, false);
  t.equal(bad.json.error?.code, 'PROTOCOL_ERROR');
  const ok = await client.process(await textPng(['HELLO WORLD']), { camera: 5 });
  t.equal(ok.json.success, true);
});

t.test('shutdown: the daemon exits 0', async (t) => {
  const r = await client.shutdown();
  t.equal(r.json.shutdown, true);
  t.equal(await exitCodeOf(daemon), 0, daemon.output());
});
