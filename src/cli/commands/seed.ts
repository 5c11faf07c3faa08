import { existsSync, createReadStream } from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import type { CommandModule } from 'yargs';
import cliProgress from 'cli-progress';
import type { CliContext } from '../context.js';
import { connectionOptions } from '../options.js';
import { clientConfigFromArgv } from '../client-config.js';
import { Seeder, type SeedProgress } from '../../seed/seeder.js';
import { WORLD, countTiles, enumerateTiles, parseBBox, parseZoomRange } from '../../seed/tile-range.js';
import { parseTileName, type TileCoord } from '../../tile/tile-coord.js';
import { MAX_SUPPORTED_ZOOM } from '../../limits.js';

/** Seconds between JSON progress lines when stderr is not a terminal. */
const JSON_PROGRESS_INTERVAL_MS = 2000;

/**
 * `mosaicd seed` (like renderd's render_list, tirex-batch): renders a zoom
 * range over a box at bulk priority through the running daemon, with a
 * progress bar (or JSON lines when not on a terminal). Ctrl-C withdraws its
 * queued tiles.
 */
export function seedCommand(ctx: CliContext): CommandModule {
  return {
    command: 'seed',
    describe: 'pre-render a zoom range over a box at bulk priority through the running daemon',
    builder: (y) =>
      connectionOptions(y)
        .option('zoom', { type: 'string', demandOption: true, describe: 'zoom range, e.g. 0-8 or 5' })
        .option('bbox', { type: 'string', describe: 'minlon,minlat,maxlon,maxlat (default: the world); write --bbox=-10,36,30,60 when it starts with a minus' })
        .option('force', { type: 'boolean', describe: 're-render tiles that already exist' })
        .option('token', { type: 'string', alias: 'admin-token', describe: 'admin token, if the daemon requires one, for --force (default: --config, MOSAICD_ADMIN_TOKEN)' })
        .option('only-missing', { type: 'boolean', describe: 'skip tiles already in --tiles-dir without asking the daemon' })
        .option('tiles-dir', { type: 'string', describe: 'the daemon\'s tile folder, for --only-missing (default: --config, MOSAICD_TILES_DIR, else ./tiles)' })
        .option('layout', { choices: ['flat', 'zxy'], describe: 'the daemon\'s tile layout, for --only-missing (default: --config, MOSAICD_LAYOUT, else flat)' })
        .option('metatile', { type: 'number', describe: 'the daemon\'s metatile size: tiles are sent block by block (default: --config, MOSAICD_METATILE, else 8)' })
        .conflicts('force', 'only-missing')
        .example('$0 seed --zoom 0-6', 'the whole world down to zoom 6')
        .example('$0 seed --zoom 10-14 --bbox 5.9,45.8,10.5,47.8 --only-missing', 'fill the gaps over Switzerland'),
    handler: async (argv) => {
      const config = clientConfigFromArgv(argv);
      const { minZoom, maxZoom } = parseZoomRange(argv.zoom as string);
      if (maxZoom > MAX_SUPPORTED_ZOOM) throw new Error(`--zoom goes up to ${MAX_SUPPORTED_ZOOM}`);
      const range = { minZoom, maxZoom, bbox: argv.bbox ? parseBBox(argv.bbox as string) : WORLD };
      const total = countTiles(range);
      const skip = argv['only-missing'] ? (t: TileCoord) => existsSync(tilePath(config.tilesDir, config.layout, t)) : undefined;
      const progress = await runWithProgress(ctx, total, (seeder, signal) =>
        seeder.run(enumerateTiles(range, config.metatile), {
          host: config.host,
          port: config.port,
          command: 'bulk',
          force: argv.force === true,
          ...(config.adminToken ? { token: config.adminToken } : {}),
          ...(skip ? { skip } : {}),
          signal,
        }),
      );
      if (progress.errors > 0) ctx.exitCode = 1;
    },
  };
}

/** `mosaicd expire` (like render_expired): re-renders the `Z/X/Y` lines of a file or stdin as dirty. */
export function expireCommand(ctx: CliContext): CommandModule {
  return {
    command: 'expire [file]',
    describe: 're-render the tiles listed as Z/X/Y lines (a file, or stdin) at dirty priority',
    builder: (y) =>
      connectionOptions(y)
        .positional('file', { type: 'string', describe: 'file of Z/X/Y lines (default: stdin)' })
        .option('max-zoom', { type: 'number', default: MAX_SUPPORTED_ZOOM, describe: 'ignore lines above this zoom' })
        .option('token', { type: 'string', alias: 'admin-token', describe: 'admin token, if the daemon requires one (default: --config, MOSAICD_ADMIN_TOKEN)' }),
    handler: async (argv) => {
      const config = clientConfigFromArgv(argv);
      const input = argv.file ? createReadStream(argv.file as string) : process.stdin;
      const maxZoom = argv['max-zoom'] as number;
      const tiles: TileCoord[] = [];
      let bad = 0;
      for await (const line of readline.createInterface({ input, crlfDelay: Infinity })) {
        const text = line.trim();
        if (text === '') continue;
        try {
          tiles.push(parseTileName(text, maxZoom));
        } catch (err) {
          bad++;
          ctx.err(`skipping ${JSON.stringify(text.slice(0, 80))}: ${(err as Error).message}\n`);
        }
      }
      const progress = await runWithProgress(ctx, tiles.length, (seeder, signal) =>
        seeder.run(tiles, {
          host: config.host,
          port: config.port,
          command: 'expire',
          force: true,
          ...(config.adminToken ? { token: config.adminToken } : {}),
          signal,
        }),
      );
      if (progress.errors > 0 || bad > 0) ctx.exitCode = 1;
    },
  };
}

function tilePath(dir: string, layout: string, t: TileCoord): string {
  return layout === 'zxy' ? path.join(dir, String(t.z), String(t.x), `${t.y}.png`) : path.join(dir, `${t.z}_${t.x}_${t.y}.png`);
}

async function runWithProgress(
  ctx: CliContext,
  total: number,
  run: (seeder: Seeder, signal: AbortSignal) => Promise<SeedProgress>,
): Promise<SeedProgress> {
  const seeder = new Seeder();
  const controller = new AbortController();
  const onSigint = () => {
    ctx.err('\ncancelling: the daemon withdraws the queued tiles of this seed\n');
    controller.abort();
  };
  process.once('SIGINT', onSigint);
  const started = performance.now();
  const tty = process.stderr.isTTY === true;
  const bar = tty
    ? new cliProgress.SingleBar(
        { format: ' {bar} {percentage}% | {value}/{total} tiles | {rate} tiles/s | ETA {eta_formatted} | errors {errors}', etaBuffer: 200, stream: process.stderr },
        cliProgress.Presets.shades_classic,
      )
    : undefined;
  bar?.start(total, 0, { rate: '0', errors: 0 });
  const report = (p: SeedProgress, final = false) => {
    const seconds = (performance.now() - started) / 1000;
    const finished = p.done + p.errors + p.skipped;
    const rate = seconds > 0 ? (p.done + p.errors) / seconds : 0;
    if (bar) bar.update(finished, { rate: rate.toFixed(0), errors: p.errors });
    else {
      const eta = rate > 0 ? Math.round((total - finished) / rate) : null;
      ctx.err(`${JSON.stringify({ done: finished, total, rendered_or_cached: p.done, skipped: p.skipped, errors: p.errors, tiles_per_s: Math.round(rate), eta_s: eta, final })}\n`);
    }
  };
  let lastJson = 0;
  seeder.on('progress', (p: SeedProgress) => {
    if (bar) report(p);
    else if (performance.now() - lastJson > JSON_PROGRESS_INTERVAL_MS) {
      lastJson = performance.now();
      report(p);
    }
  });
  try {
    const result = await run(seeder, controller.signal);
    report(result, true);
    for (const e of seeder.firstErrors) ctx.err(`${e}\n`);
    return result;
  } finally {
    bar?.stop();
    process.off('SIGINT', onSigint);
  }
}
