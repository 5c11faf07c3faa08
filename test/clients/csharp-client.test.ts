// The C# client (clients/csharp/Mosaicd.cs) and its examples, compiled with
// mcs and run with mono against a real `mosaicd serve` process and spawned
// `mosaicd stdio` children.
import t from 'tap';
import { existsSync } from 'node:fs';
import path from 'node:path';
import {
  BIN,
  ROOT,
  assertMapExampleOutput,
  assertProcessOutput,
  exitCodeOf,
  pngSize,
  reportChecks,
  requireProgram,
  run,
  startServe,
  startSink,
  tempDir,
  writeTextPng,
} from './fixtures/helpers.js';

const CS = path.join(ROOT, 'clients', 'csharp');
const MONO_ENV = { ...process.env, LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8' };

t.test('C# client against a real daemon', async (t) => {
  if (!requireProgram(t, 'mcs', 'mono-mcs') || !requireProgram(t, 'mono', 'mono-runtime')) return;
  const dir = await tempDir(t, 'mosaicd-cs-client-');
  const out = (name: string) => path.join(dir, name);

  // Compile while the daemon starts.
  const compile = (async () => {
    const lib = await run(t, 'mcs', ['-target:library', '-warnaserror+', `-out:${out('Mosaicd.dll')}`, path.join(CS, 'Mosaicd.cs')]);
    t.equal(lib.code, 0, 'mcs compiles Mosaicd.cs without warnings', { output: lib.output });
    const exes: Array<[string, string]> = [
      ['MapClient.exe', path.join(CS, 'examples', 'MapClient.cs')],
      ['CameraClient.exe', path.join(CS, 'examples', 'CameraClient.cs')],
      ['ClientChecks.exe', path.join(ROOT, 'test', 'clients', 'fixtures', 'ClientChecks.cs')],
    ];
    const results = await Promise.all(exes.map(([exe, src]) => run(t, 'mcs', [`-r:${out('Mosaicd.dll')}`, `-out:${out(exe)}`, src])));
    results.forEach((r, i) => t.equal(r.code, 0, `mcs compiles ${exes[i]![0]}`, { output: r.output }));
    return lib.code === 0 && results.every((r) => r.code === 0);
  })();
  const [compiled, serve, sinkPort, textPng] = await Promise.all([compile, startServe(t, dir), startSink(t), writeTextPng(dir)]);
  if (!compiled) return;
  const stdioCommand = [process.execPath, BIN, 'stdio', '--tiles-dir', serve.tilesDir, '--callback-port', String(sinkPort), '--log-level', 'warn'];

  await t.test('library checks: JSON, listener, line protocol, framed over TCP and stdio', async (t) => {
    const r = await run(
      t,
      'mono',
      [
        out('ClientChecks.exe'),
        '--port', String(serve.port),
        '--callback-port', String(serve.callbackPort),
        '--tiles-dir', serve.tilesDir,
        '--text-png', textPng,
        '--node', process.execPath,
        '--bin', BIN,
        '--stdio-tiles-dir', serve.tilesDir,
        '--sink-port', String(sinkPort),
      ],
      { env: MONO_ENV, timeoutMs: 90_000 },
    );
    // MOSAICD_CLIENT_TEST_DUMP=1 prints the checks with their timings.
    if (process.env.MOSAICD_CLIENT_TEST_DUMP) console.error(r.stdout);
    const counts = reportChecks(t, 'C#', r);
    t.equal(counts.failed, 0, 'no check failed', { output: r.output });
    t.ok(counts.passed >= 20, `the checks ran (${counts.passed} passed)`, { output: r.output });
    t.equal(r.code, 0, 'ClientChecks exits 0', { output: r.output });
  });

  await t.test('CameraClient over TCP: process an image, render a tile', async (t) => {
    const results = out('camera-tcp');
    const r = await run(
      t,
      'mono',
      [out('CameraClient.exe'), '--connect', `127.0.0.1:${serve.port}`, '--image', textPng, '--camera', '0', '--out', results, '--tile', '3_4_2'],
      { env: MONO_ENV },
    );
    t.equal(r.code, 0, 'exits 0', { output: r.output });
    t.match(r.stdout, /^ping: success=True request_id=1$/m);
    t.match(r.stdout, /^render 3_4_2: 256x256 \d+ bytes/m);
    t.same((await pngSize(path.join(results, '3_4_2.png'))).slice(0, 2), [256, 256], 'the rendered tile decodes as 256x256');
    await assertProcessOutput(t, r.stdout, results);
  });

  await t.test('CameraClient spawning mosaicd stdio: process, render, shutdown, exit 0', async (t) => {
    const results = out('camera-stdio');
    const r = await run(
      t,
      'mono',
      [out('CameraClient.exe'), '--image', textPng, '--out', results, '--tile', '4_8_5', '--', ...stdioCommand],
      { env: MONO_ENV },
    );
    t.equal(r.code, 0, 'exits 0', { output: r.output });
    t.match(r.stdout, /^spawned /m);
    t.match(r.stdout, /^render 4_8_5: 256x256 \d+ bytes/m);
    t.match(r.stdout, /^shutdown: success=True$/m);
    t.match(r.stdout, /^child exit code: 0$/m, 'the stdio child exited 0');
    t.same((await pngSize(path.join(results, '4_8_5.png'))).slice(0, 2), [256, 256]);
    await assertProcessOutput(t, r.stdout, results);
  });

  await t.test('MapClient: tiles + barrier, a notice each, stop, done last, the daemon exits 0', async (t) => {
    const tiles = ['16_58001_25480', '16_58001_25481', '16/58002/25480', '3_9_0'];
    const r = await run(
      t,
      'mono',
      [out('MapClient.exe'), '--port', String(serve.port), '--callback-port', String(serve.callbackPort), ...tiles],
      { env: MONO_ENV },
    );
    await assertMapExampleOutput(t, r, serve);
    t.equal(await exitCodeOf(serve.daemon), 0, 'the daemon exits 0 after stop', { output: serve.daemon.output() });
  });
});
