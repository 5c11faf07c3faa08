import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CommandModule } from 'yargs';
import { FramedClient } from '../../client/framed-client.js';
import type { CliContext } from '../context.js';
import { connectionOptions } from '../options.js';
import { clientConfigFromArgv } from '../client-config.js';

const BIN = fileURLToPath(new URL('../../../bin/mosaicd.js', import.meta.url));

/**
 * `mosaicd infer IMAGE...`: sends images over the framed protocol to a
 * running daemon (or to a `mosaicd stdio` child with --spawn), prints one
 * row per result and writes each result image to --out.
 */
export function inferCommand(ctx: CliContext): CommandModule {
  return {
    command: 'infer <images..>',
    describe: 'run inference on images through a running daemon (or a spawned `mosaicd stdio`)',
    builder: (y) =>
      connectionOptions(y)
        .positional('images', { type: 'string', array: true, describe: 'PNG, JPEG, WebP or TIFF files' })
        .option('camera', { type: 'number', default: 0, describe: 'camera number (selects the model by the daemon\'s routes)' })
        .option('model', { type: 'string', describe: 'model name, overriding the camera route (e.g. ocr, text-direction)' })
        .option('out', { type: 'string', describe: 'folder to write result images to' })
        .option('spawn', { type: 'boolean', default: false, describe: 'spawn `mosaicd stdio` instead of connecting to a daemon' })
        .option('models-dir', { type: 'string', describe: 'with --spawn: the model repository the child loads' })
        .example('$0 infer photo.jpg', 'print the text found in photo.jpg')
        .example('$0 infer --spawn --out crops *.png', 'no daemon needed; write every text-line crop'),
    handler: async (argv) => {
      const client = argv.spawn
        ? FramedClient.spawn(process.execPath, [
            BIN,
            'stdio',
            '--log-level',
            'warn',
            // The child reads MOSAICD_* itself (it inherits the environment); hand it the file too.
            ...(argv.config ? ['--config', argv.config as string] : []),
            ...(argv['models-dir'] ? ['--models-dir', argv['models-dir'] as string] : []),
          ])
        : await FramedClient.connect(pick(clientConfigFromArgv(argv)));
      const out = argv.out as string | undefined;
      if (out) await mkdir(out, { recursive: true });
      try {
        for (const file of argv.images as string[]) {
          const response = await client.process(await readFile(file), {
            camera: argv.camera as number,
            ...(argv.model ? { model: argv.model as string } : {}),
          });
          const { json, images } = response;
          if (!json.success) {
            ctx.err(`${file}: ${json.error?.code}: ${json.error?.message}\n`);
            ctx.exitCode = 1;
            continue;
          }
          ctx.out(`${file}: ${json.result_count} result(s)${typeof json.elapsed_ms === 'number' ? ` in ${json.elapsed_ms} ms` : ''}\n`);
          for (const r of json.results) {
            const index = r.result_index as number;
            const box = Array.isArray(r.box) ? ` box=${JSON.stringify(r.box)}` : '';
            ctx.out(`  ${String(index).padStart(3)}  ${(r.score as number).toFixed(3)}  ${String(r.class_name)}${box}\n`);
            if (out) {
              const name = `${path.basename(file, path.extname(file))}-${index}.png`;
              await writeFile(path.join(out, name), images[r.image_index as number]!);
            }
          }
        }
      } finally {
        client.close();
        if (client.child) await client.exited();
      }
    },
  };
}

const pick = ({ host, port }: { host: string; port: number }) => ({ host, port });
