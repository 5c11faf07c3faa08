import t from 'tap';
import { readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { tempDir } from '../helpers/daemon.js';
import { exitCodeOf, spawnMosaicd } from '../helpers/processes.js';

t.test('mosaicd infer --spawn prints the text of a photo and writes the crops', async (t) => {
  const dir = await tempDir(t);
  const image = path.join(dir, 'sign.png');
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="640" height="160"><rect width="100%" height="100%" fill="#fafafa"/><text x="40" y="100" font-family="DejaVu Sans" font-size="56" fill="#111">HELLO WORLD</text></svg>`;
  await writeFile(image, await sharp(Buffer.from(svg)).png().toBuffer());
  const out = path.join(dir, 'crops');
  const infer = spawnMosaicd(t, ['infer', '--spawn', '--out', out, image]);
  t.equal(await exitCodeOf(infer), 0, infer.output());
  t.match(infer.output(), /sign\.png: 1 result\(s\)/);
  t.match(infer.output(), /0\.\d{3}\s+HELLO WORLD box=/);
  t.same(await readdir(out), ['sign-0.png']);
  const crop = await sharp(path.join(out, 'sign-0.png')).metadata();
  t.ok((crop.width ?? 0) > (crop.height ?? 0) * 3, 'the crop is the text line');
});

t.test('mosaicd infer reports an undecodable file and exits non-zero', async (t) => {
  const dir = await tempDir(t);
  const junk = path.join(dir, 'junk.png');
  await writeFile(junk, 'not an image at all');
  const infer = spawnMosaicd(t, ['infer', '--spawn', junk]);
  t.equal(await exitCodeOf(infer), 1);
  t.match(infer.output(), /junk\.png: PROTOCOL_ERROR/);
});
