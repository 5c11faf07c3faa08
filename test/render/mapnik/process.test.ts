import t from 'tap';
import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import sharp from 'sharp';
import { ErrorCode } from '../../../src/errors.js';
import { startMapnikProcess } from '../../../src/render/mapnik/process-client.js';
import { tempStyle } from './helpers.js';
import { ROOT } from '../../helpers/processes.js';

/** The built entry (as the daemon runs it; `npm test` builds first), forked without tsx so it starts in about a second. */
const ENTRY = path.join(ROOT, 'dist', 'render', 'mapnik', 'mapnik-process.js');
const spawned: ChildProcess[] = [];
const spawn = () => {
  const child = fork(ENTRY, [], { serialization: 'advanced', stdio: ['ignore', 'ignore', 'pipe', 'ipc'], env: { ...process.env, MOSAICD_LOG_LEVEL: 'warn' } });
  spawned.push(child);
  return child;
};
t.teardown(() => {
  for (const c of spawned) if (c.exitCode === null && c.signalCode === null) process.kill(c.pid!, 'SIGKILL');
});

t.test('the mapnik-process entry loads the style in a real child process and answers a render job with PNG tiles', async (t) => {
  const style = await tempStyle(t);
  const r = await startMapnikProcess({ stylePath: style.xmlPath }, spawn);
  t.not(r.info.pid, process.pid, 'rendered in another process');
  t.equal(r.info.pid, r.child.pid);
  t.equal(r.info.bufferSize, 128);
  t.match(r.info.mapnikVersion, /^4\./);
  const tiles = await r.renderMetaTile({ z: 1, x: 0, y: 0, size: 2 });
  t.equal(tiles.length, 4);
  for (const tile of tiles) {
    t.ok(tile.png instanceof Uint8Array, 'PNG bytes arrive as a Uint8Array');
    const m = await sharp(tile.png).metadata();
    t.same([m.width, m.height, m.isPalette], [256, 256, true]);
  }
  await t.rejects(r.renderMetaTile({ z: 1, x: 1, y: 0, size: 2 }), { code: ErrorCode.BAD_TILE }, 'a bad metatile is answered with its code');
  await r.close();
  t.equal(r.child.exitCode, 0, 'close ends the child with exit code 0');
});

t.test('a style that does not load in the child rejects the start with CONFIG_ERROR and the child is gone', async (t) => {
  const style = await tempStyle(t);
  await t.rejects(startMapnikProcess({ stylePath: `${style.dir}/missing.xml` }, spawn), {
    code: ErrorCode.CONFIG_ERROR,
    message: /missing\.xml cannot be read: no such file/,
  });
  const child = spawned.at(-1)!;
  if (child.exitCode === null && child.signalCode === null) await new Promise((resolve) => child.once('exit', resolve));
  t.ok(child.exitCode !== null || child.signalCode !== null, 'the child has exited');
});
