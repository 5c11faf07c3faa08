// The camera-frame registry: the newest processed frame per camera, bounded
// by the number of cameras, served as JPEG (decoded back here) with or
// without the results' boxes.
import t from 'tap';
import sharp from 'sharp';
import { CameraFrames } from '../../src/service/camera-frames.js';
import type { InferenceResult } from '../../src/inference/types.js';
import { textPng } from '../inference/fixtures/images.js';

const result = (text: string, box: number[][]): InferenceResult => ({
  className: text,
  score: 0.9,
  png: new Uint8Array(0),
  width: 0,
  height: 0,
  mode: 'RGB',
  extra: { box, text_angle: 0 },
});

t.test('keeps only the newest frame of a camera, copied from the caller', async (t) => {
  const frames = new CameraFrames({ maxCameras: 4, maxInputPixels: 1e8 });
  const first = Buffer.from('first');
  frames.record(1, first, []);
  frames.record(1, Buffer.from('second'), []);
  first.fill(0);
  t.equal(frames.latest(1)?.image.toString(), 'second');
  t.equal(frames.latest(2), undefined, 'a camera that sent nothing has no frame');
  t.same(frames.stats(), { cameras: 1, recorded: 2, forgotten: 0 });
});

t.test('over maxCameras, the camera that sent nothing for longest is forgotten', async (t) => {
  const frames = new CameraFrames({ maxCameras: 2, maxInputPixels: 1e8 });
  frames.record(1, Buffer.from('a'), []);
  frames.record(2, Buffer.from('b'), []);
  frames.record(1, Buffer.from('c'), []); // camera 1 is now the most recent
  frames.record(3, Buffer.from('d'), []);
  t.equal(frames.latest(2), undefined, 'camera 2 was forgotten');
  t.equal(frames.latest(1)?.image.toString(), 'c');
  t.equal(frames.latest(3)?.image.toString(), 'd');
  t.same(frames.stats(), { cameras: 2, recorded: 4, forgotten: 1 });
});

t.test('jpeg: the frame as a JPEG of the same size; boxes drawn on request; one encoding shared by viewers', async (t) => {
  const frames = new CameraFrames({ maxCameras: 4, maxInputPixels: 1e8 });
  t.equal(await frames.jpeg(0, { boxes: false }), undefined, 'nothing before the first frame');
  const png = await textPng(['HELLO'], { width: 320, height: 240 });
  frames.record(0, png, [result('HELLO', [[100, 100], [220, 100], [220, 140], [100, 140]])]);
  const plain = await frames.jpeg(0, { boxes: false });
  const again = await frames.jpeg(0, { boxes: false });
  const boxed = await frames.jpeg(0, { boxes: true });
  t.ok(plain && again && boxed);
  t.equal(plain!.jpeg, again!.jpeg, 'the second viewer gets the same encoded buffer');
  for (const jpeg of [plain!.jpeg, boxed!.jpeg]) {
    const meta = await sharp(jpeg).metadata();
    t.match(meta, { format: 'jpeg', width: 320, height: 240 });
  }
  // The box outline is green where the plain frame is white.
  const pixel = async (jpeg: Buffer) => (await sharp(jpeg).extract({ left: 160, top: 100, width: 1, height: 1 }).raw().toBuffer({ resolveWithObject: true })).data;
  const [pr, pg, pb] = await pixel(plain!.jpeg);
  const [br, bg, bb] = await pixel(boxed!.jpeg);
  t.ok(pr! > 200 && pg! > 200 && pb! > 200, `plain: white at the box edge (${pr},${pg},${pb})`);
  t.ok(bg! > 120 && br! < 100 && bb! < 100, `boxed: green at the box edge (${br},${bg},${bb})`);
});

t.test('jpeg: a frame that cannot be decoded is an error for the viewer, not a crash', async (t) => {
  const frames = new CameraFrames({ maxCameras: 4, maxInputPixels: 1e8 });
  frames.record(5, Buffer.from('not an image'), []);
  await t.rejects(frames.jpeg(5, { boxes: false }));
});
