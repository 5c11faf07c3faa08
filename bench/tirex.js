// npm run bench -- --only tirex
// What mosaicd adds as a tirex backend manager: a z0-5 pyramid (24 metatiles,
// 1,365 tiles) rendered by the same backend processes (a) through
// TirexRenderer (request, reply, .meta read, checked, cut, deleted) and
// (b) driven bare over UDP (request, reply; the .meta is left unread), in
// the same run, alternating. Backends: Debian's tirex Mapnik backend on a
// world-atlas style, and the example Python backend. Also RSS per process.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { TirexRenderer } from '../dist/render/tirex/tirex-renderer.js';
import { resolveTirexOptions } from '../dist/render/tirex/options.js';
import { BackendProcess } from '../dist/render/tirex/backend-process.js';
import { encodeRenderRequest } from '../dist/render/tirex/message.js';
import { freeUdpPort } from '../dist/render/tirex/backend-process.js';
import { silentLogger } from '../dist/log.js';
import { writeTestStyle } from '../test/fixtures/map-style/make-style.ts';
import { ROOT, median } from './lib.js';

const MAX_Z = 5;
const PROCS = 2;

function metatiles() {
  const out = [];
  for (let z = 0; z <= MAX_Z; z++) {
    const n = 2 ** z;
    const side = Math.min(8, n);
    for (let x = 0; x < n; x += side) for (let y = 0; y < n; y += side) out.push({ z, x, y, size: side });
  }
  return out;
}
const tileCount = (metas) => metas.reduce((s, m) => s + m.size * m.size, 0);

/** Runs `metas` on `slots` workers (each takes the next metatile when free). */
async function drain(metas, slots, render) {
  const queue = [...metas];
  const t0 = performance.now();
  await Promise.all(Array.from({ length: slots }, async (_, i) => {
    for (let m = queue.shift(); m !== undefined; m = queue.shift()) await render(m, i);
  }));
  return (performance.now() - t0) / 1000;
}

/** The same backend program, bare: PROCS processes, one request at a time each, replies awaited, files not read. */
async function bareBackends(options, conf) {
  const waiting = new Map();
  const procs = [];
  for (let i = 0; i < PROCS; i++) {
    const port = await freeUdpPort();
    procs.push(new BackendProcess(i, port, options, [conf], {
      alive: () => undefined,
      reply: (p, r) => waiting.get(p.slot)?.(r),
      exit: () => undefined,
    }, silentLogger()));
  }
  let id = 0;
  return {
    procs,
    render: (m, slot) => new Promise((resolve, reject) => {
      waiting.set(slot, (r) => (r.result === 'ok' ? resolve() : reject(new Error(r.errmsg))));
      procs[slot].send(encodeRenderRequest({ id: `b${id++}`, map: options.map.name, prio: 1, x: m.x, y: m.y, z: m.z }));
    }),
    close: async () => {
      procs.forEach((p) => p.kill('SIGKILL'));
      await Promise.all(procs.map((p) => p.closed()));
    },
  };
}

function rssMb(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

async function compare(label, tirexOptions, runs, rows) {
  const metas = metatiles();
  const tiles = tileCount(metas);
  const options = resolveTirexOptions(tirexOptions);
  // The bare driver needs a map .conf file: the renderer writes one for inline maps; write it the same way.
  const { formatConf } = await import('../dist/render/tirex/conf-file.js');
  const { writeFileSync } = await import('node:fs');
  const conf = path.join(options.map.tiledir, '..', 'bare.conf');
  writeFileSync(conf, formatConf(options.inlineMap));

  const renderer = new TirexRenderer(options);
  await renderer.ready();
  const bare = await bareBackends(options, conf);
  await drain(metas.slice(0, 4), PROCS, bare.render); // warm: style loaded, first alive seen
  await drain(metas.slice(0, 4), PROCS, (m) => renderer.renderMetaTile(m));
  const viaMosaicd = [];
  const viaBare = [];
  for (let r = 0; r < runs; r++) {
    viaBare.push(tiles / (await drain(metas, PROCS, bare.render)));
    viaMosaicd.push(tiles / (await drain(metas, PROCS, (m) => renderer.renderMetaTile(m))));
  }
  const rss = renderer.pids().filter(Boolean).map(rssMb);
  await bare.close();
  await renderer.close();
  const a = median(viaMosaicd), b = median(viaBare);
  rows.push({ figure: `${label}: z0-${MAX_Z} pyramid (${tiles} tiles), ${PROCS} procs, through TirexRenderer`, value: `${a.toFixed(0)} tiles/s` });
  rows.push({ figure: `${label}: same backend, bare UDP driver (no .meta read)`, value: `${b.toFixed(0)} tiles/s` });
  rows.push({ figure: `${label}: ratio TirexRenderer / bare`, value: (a / b).toFixed(2), target: '>= 0.9' });
  rows.push({ figure: `${label}: RSS per backend process`, value: `${rss.map((x) => x.toFixed(0)).join(', ')} MB` });
  return { tiles, viaMosaicd, viaBare, ratio: a / b, rssMb: rss };
}

export async function tirexBench({ runs }) {
  const rows = [];
  const figures = {};
  const dir = await mkdtemp(path.join(tmpdir(), 'mosaicd-bench-tirex-'));
  try {
    const mapnik = '/usr/libexec/tirex-backend-mapnik';
    if (existsSync(mapnik)) {
      const { xmlPath: style } = await writeTestStyle(path.join(dir, 'style'));
      const plugindir = ['/usr/share/tirex/mapnik/input', '/usr/lib/x86_64-linux-gnu/mapnik/3.1/input'].find((d) => existsSync(d));
      mkdirSync(path.join(dir, 'mapnik'), { recursive: true });
      figures.mapnik = await compare('tirex Mapnik backend', {
        backend: mapnik, procs: PROCS,
        config: { plugindir, fontdir: '/usr/share/fonts/truetype/dejavu' },
        map: { name: 'world', tiledir: path.join(dir, 'mapnik', 'tiles'), mapfile: style, maxz: MAX_Z },
      }, runs, rows);
    } else {
      rows.push({ figure: 'tirex Mapnik backend', value: 'skipped: apt-get install tirex' });
    }
    mkdirSync(path.join(dir, 'python'), { recursive: true });
    figures.python = await compare('example Python backend', {
      backend: path.join(ROOT, 'examples', 'tirex-backend', 'simple_backend.py'), procs: PROCS,
      map: { name: 'example', tiledir: path.join(dir, 'python', 'tiles'), maxz: MAX_Z },
    }, runs, rows);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return { rows, figures };
}
