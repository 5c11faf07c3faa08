import t from 'tap';
import { BadJobDataError, jobDataOf, jobIdOf, parseJobData, queueNameOf } from '../../src/cluster/job-data.js';

const maps = (map: string | undefined) => {
  if (map === undefined) return { metatile: 8, maxZoom: 18 };
  if (map === 'big') return { metatile: 4, maxZoom: 10 };
  throw new Error(`unknown map ${map}`);
};

t.test('a payload written by jobDataOf reads back as the same metatile', async (t) => {
  const meta = { z: 5, x: 8, y: 16, size: 8 };
  t.same(parseJobData(JSON.parse(JSON.stringify(jobDataOf(meta, false))), maps), { meta, force: false });
  const named = { z: 3, x: 4, y: 0, size: 4, map: 'big' };
  t.same(parseJobData(jobDataOf(named, true), maps), { meta: named, force: true });
  t.same(parseJobData(jobDataOf({ z: 1, x: 0, y: 0, size: 2 }, false), maps).meta.size, 2, 'a zoom smaller than the metatile: size 2^z');
});

t.test('job ids and queue names: one per metatile and map, forced renders apart', async (t) => {
  t.equal(jobIdOf({ z: 5, x: 8, y: 16, size: 8 }, false), 'z5x8y16s8');
  t.equal(jobIdOf({ z: 5, x: 8, y: 16, size: 8 }, true), 'z5x8y16s8f');
  t.equal(queueNameOf(undefined), 'tiles');
  t.equal(queueNameOf('big'), 'tiles-big');
});

t.test('a malformed payload is refused with BadJobDataError naming the problem', async (t) => {
  const good = { v: 1, map: null, z: 5, x: 8, y: 16, size: 8, force: false };
  const cases: Array<[unknown, RegExp]> = [
    [null, /not an object/],
    [[1, 2], /not an object/],
    ['5_8_16', /not an object/],
    [{ ...good, extra: 1 }, /expected the keys/],
    [{ v: 1, map: null, z: 5, x: 8, y: 16, size: 8 }, /expected the keys/],
    [{ ...good, v: 2 }, /unknown version/],
    [{ ...good, map: '../etc' }, /map must be null or a map name/],
    [{ ...good, map: 'nosuch' }, /unknown map nosuch/],
    [{ ...good, force: 'yes' }, /force/],
    [{ ...good, z: 19 }, /zoom 19/],
    [{ ...good, z: -1 }, /zoom -1/],
    [{ ...good, z: 5.5 }, /zoom 5.5/],
    [{ ...good, size: 4 }, /metatile size 4/],
    [{ ...good, x: 9 }, /metatile 9,16/],
    [{ ...good, x: 32 }, /metatile 32,16/],
    [{ ...good, y: -8 }, /metatile 8,-8/],
    [{ ...good, x: '8' }, /metatile "8",16/],
  ];
  for (const [data, message] of cases) {
    t.throws(() => parseJobData(data, maps), BadJobDataError, JSON.stringify(data));
    t.throws(() => parseJobData(data, maps), { message }, `${JSON.stringify(data)} → ${message}`);
  }
});
