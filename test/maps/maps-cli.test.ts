/** The CLI with maps: `render --map`, `seed --map`, and an unknown map's exit code. Spawns the built bin/mosaicd.js. */
import t from 'tap';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { startDaemon } from '../helpers/daemon.js';
import { spawnMosaicd } from '../helpers/processes.js';

const BIG = { name: 'big', tileSize: 512, palette: false, metatile: 2, maxZoom: 6 } as const;

t.test('CLI: render --map and seed --map ask for the named map\'s tiles', async (t) => {
  const h = await startDaemon(t, { maps: [BIG], concurrency: 1 }, { listener: false });
  const render = spawnMosaicd(t, ['render', '--port', String(h.port), '--callback-port', String(h.callbackPort), '--map', 'big', '2/1/1', '--timeout', '60']);
  const [code] = await once(render, 'exit');
  t.equal(code, 0, render.output());
  t.match(render.output(), /^stdout:\nbig\/2\/1\/1\n/, 'the notice of map big is printed');
  t.ok(existsSync(path.join(h.tilesDir, 'big', '2_1_1.png')));
  const seed = spawnMosaicd(t, ['seed', '--port', String(h.port), '--zoom', '0-1', '--map', 'big', '--metatile', '8']);
  const [seedCode] = await once(seed, 'exit');
  t.equal(seedCode, 0, seed.output());
  for (const name of ['0_0_0', '1_0_0', '1_1_1']) t.ok(existsSync(path.join(h.tilesDir, 'big', `${name}.png`)), `big/${name}.png seeded`);
  t.notOk(existsSync(path.join(h.tilesDir, '1_0_0.png')), 'and nothing of the default map');
  const bad = spawnMosaicd(t, ['render', '--port', String(h.port), '--callback-port', String(h.callbackPort), '--map', 'nosuch', '1/0/0', '--timeout', '30']);
  const [badCode] = await once(bad, 'exit');
  t.equal(badCode, 1, 'an unknown map: exit 1');
  t.match(bad.output(), /error nosuch\/1\/0\/0 unknown map nosuch/);
});
