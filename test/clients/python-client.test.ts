// The Python client (clients/python/mosaicd_client.py): its unittest suite
// and its examples, run with python3 against a real `mosaicd serve` process
// and spawned `mosaicd stdio` children.
import t from 'tap';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { BIN, ROOT, assertMapExampleOutput, assertProcessOutput, exitCodeOf, pngSize, requireProgram, run, startServe, startSink, tempDir, writeTextPng } from './fixtures/helpers.js';

const PY = path.join(ROOT, 'clients', 'python');
const PY_ENV = { ...process.env, PYTHONDONTWRITEBYTECODE: '1', PYTHONUNBUFFERED: '1', PYTHONIOENCODING: 'utf-8' };

t.test('Python client against a real daemon', async (t) => {
  if (!requireProgram(t, 'python3', 'python3')) return;
  const version = await run(t, 'python3', ['-c', 'import sys; print(sys.version_info >= (3, 9))']);
  if (version.stdout.trim() !== 'True') {
    t.fail('the Python client needs python3 >= 3.9', { output: version.output });
    return;
  }
  const dir = await tempDir(t, 'mosaicd-py-client-');
  const out = (name: string) => path.join(dir, name);
  const [serve, sinkPort, textPng] = await Promise.all([startServe(t, dir), startSink(t), writeTextPng(dir)]);
  const stdioCommand = [process.execPath, BIN, 'stdio', '--tiles-dir', serve.tilesDir, '--callback-port', String(sinkPort), '--log-level', 'warn'];

  await t.test('unittest: listener, line protocol, framed over TCP and stdio', async (t) => {
    const r = await run(t, 'python3', ['-m', 'unittest', '-v', 'test_mosaicd_client'], {
      cwd: PY,
      timeoutMs: 90_000,
      env: {
        ...PY_ENV,
        MOSAICD_CLIENT_TEST_PORT: String(serve.port),
        MOSAICD_CLIENT_TEST_CALLBACK_PORT: String(serve.callbackPort),
        MOSAICD_CLIENT_TEST_TILES_DIR: serve.tilesDir,
        MOSAICD_CLIENT_TEST_TEXT_PNG: textPng,
        MOSAICD_CLIENT_TEST_NODE: process.execPath,
        MOSAICD_CLIENT_TEST_BIN: BIN,
        MOSAICD_CLIENT_TEST_STDIO_TILES_DIR: serve.tilesDir,
        MOSAICD_CLIENT_TEST_SINK_PORT: String(sinkPort),
      },
    });
    // unittest -v reports on stderr: "test_x (module.Class.test_x) ... ok".
    const ran = /^Ran (\d+) tests?/m.exec(r.stderr);
    t.ok(ran && Number(ran[1]) >= 15, `the suite ran (${ran?.[1] ?? 0} tests)`, { output: r.output });
    for (const { name, status } of unittestResults(r.stderr)) {
      const skipped = status.startsWith('skipped') ? status.slice(9, -1) : undefined;
      t.equal(status, 'ok', `python: ${name}`, skipped === undefined ? { output: r.output } : { skip: skipped });
    }
    t.equal(r.code, 0, 'the unittest suite passes', { output: r.output });
  });

  await t.test('camera example over TCP: process an image, render a tile', async (t) => {
    const results = out('camera-tcp');
    const r = await run(
      t,
      'python3',
      [path.join(PY, 'examples', 'camera_client.py'), '--connect', `127.0.0.1:${serve.port}`, '--image', textPng, '--out', results, '--tile', '3_4_2'],
      { env: PY_ENV },
    );
    t.equal(r.code, 0, 'exits 0', { output: r.output });
    t.match(r.stdout, /^ping: success=True request_id=1$/m);
    t.match(r.stdout, /^render 3_4_2: 256x256 \d+ bytes/m);
    t.same((await pngSize(path.join(results, '3_4_2.png'))).slice(0, 2), [256, 256], 'the rendered tile decodes as 256x256');
    await assertProcessOutput(t, r.stdout, results);
  });

  await t.test('camera example spawning mosaicd stdio: process, render, shutdown, exit 0', async (t) => {
    const results = out('camera-stdio');
    const r = await run(
      t,
      'python3',
      [path.join(PY, 'examples', 'camera_client.py'), '--image', textPng, '--out', results, '--tile', '4_8_5', '--', ...stdioCommand],
      { env: PY_ENV },
    );
    t.equal(r.code, 0, 'exits 0', { output: r.output });
    t.match(r.stdout, /^render 4_8_5: 256x256 \d+ bytes/m);
    t.match(r.stdout, /^shutdown: success=True$/m);
    t.match(r.stdout, /^child exit code: 0$/m, 'the stdio child exited 0');
    t.same((await pngSize(path.join(results, '4_8_5.png'))).slice(0, 2), [256, 256]);
    await assertProcessOutput(t, r.stdout, results);
  });

  await t.test('map example: tiles + barrier, a notice each, stop, done last, the daemon exits 0', async (t) => {
    const tiles = ['16_58001_25480', '16_58001_25481', '16/58002/25480', '3_9_0'];
    const r = await run(
      t,
      'python3',
      [path.join(PY, 'examples', 'map_client.py'), '--port', String(serve.port), '--callback-port', String(serve.callbackPort), ...tiles],
      { env: PY_ENV },
    );
    await assertMapExampleOutput(t, r, serve);
    t.equal(await exitCodeOf(serve.daemon), 0, 'the daemon exits 0 after stop', { output: serve.daemon.output() });
  });
});

/**
 * The per-test lines of `unittest -v`: "test_x (module.Class.test_x) ... ok"
 * (3.11; "(module.Class)" before), where a test that prints to stderr pushes
 * its status ("ok", "skipped 'why'", "FAIL", "ERROR") to a later line.
 */
function unittestResults(stderr: string): Array<{ name: string; status: string }> {
  const results: Array<{ name: string; status: string }> = [];
  const isStatus = (s: string) => s === 'ok' || s === 'FAIL' || s === 'ERROR' || /^skipped '.*'$/.test(s);
  let current: string | undefined;
  for (const line of stderr.split('\n')) {
    const m = /^(test_\w+) \(([\w.]+)\) \.\.\. ?(.*)$/.exec(line);
    if (m) {
      const cls = m[2]!.split('.').filter((p) => p !== m[1]).at(-1)!;
      current = `${cls}.${m[1]!}`;
      if (isStatus(m[3]!)) {
        results.push({ name: current, status: m[3]! });
        current = undefined;
      }
    } else if (current !== undefined && isStatus(line.trim())) {
      results.push({ name: current, status: line.trim() });
      current = undefined;
    }
  }
  return results;
}
