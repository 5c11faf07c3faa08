import t from 'tap';
import {
  parseLineCommand,
  lineCommandOf,
  formatTileNotice,
  formatErrorNotice,
  safeToken,
  DONE_NOTICE,
  BARRIER_REPLY,
  MAX_NOTICE_NAME_CHARS,
} from '../../src/protocol/line-command.js';

t.test('every line form of wire.md §3', async (t) => {
  const table: Array<[string, object]> = [
    ['16_58001_25480', { type: 'tile', raw: '16_58001_25480', z: 16, x: 58001, y: 25480 }],
    ['3/4/2', { type: 'tile', raw: '3/4/2', z: 3, x: 4, y: 2 }],
    ['0_0_0', { type: 'tile', raw: '0_0_0', z: 0, x: 0, y: 0 }],
    ['', { type: 'barrier' }],
    ['   \t', { type: 'barrier' }],
    ['stop', { type: 'stop' }],
    ['stop s3cret', { type: 'stop', token: 's3cret' }],
    ['viewport 12 2047 1361 2050 1363', { type: 'viewport', z: 12, minX: 2047, minY: 1361, maxX: 2050, maxY: 1363 }],
    ['cancel 16_58001_25480', { type: 'cancel', raw: '16_58001_25480', z: 16, x: 58001, y: 25480 }],
    ['cancel 3/4/2', { type: 'cancel', raw: '3/4/2', z: 3, x: 4, y: 2 }],
    ['dirty 3_4_2', { type: 'dirty', raw: '3_4_2', z: 3, x: 4, y: 2 }],
    ['dirty 3_4_2 tok', { type: 'dirty', raw: '3_4_2', z: 3, x: 4, y: 2, token: 'tok' }],
    ['ping', { type: 'ping' }],
    ['stats', { type: 'stats' }],
  ];
  for (const [text, expected] of table) t.same(parseLineCommand(text), expected, JSON.stringify(text));
});

t.test('surrounding whitespace is trimmed, inner runs of whitespace split words', async (t) => {
  t.same(parseLineCommand('  16_1_2 \r'), { type: 'tile', raw: '16_1_2', z: 16, x: 1, y: 2 });
  t.same(parseLineCommand('\ufeff1_0_0'), { type: 'tile', raw: '1_0_0', z: 1, x: 0, y: 0 }, 'a UTF-8 BOM from a C# writer');
  t.same(parseLineCommand('viewport  1\t0 0  1 1'), { type: 'viewport', z: 1, minX: 0, minY: 0, maxX: 1, maxY: 1 });
});

t.test('tile syntax only: out-of-grid and over-max-zoom tiles parse (the daemon refuses them)', async (t) => {
  t.same(parseLineCommand('3_8_0'), { type: 'tile', raw: '3_8_0', z: 3, x: 8, y: 0 });
  t.same(parseLineCommand('99_0_0'), { type: 'tile', raw: '99_0_0', z: 99, x: 0, y: 0 });
});

t.test('malformed lines are invalid, with a safe name and a reason', async (t) => {
  const table: Array<[string, string, RegExp]> = [
    ['16_abc_1', '16_abc_1', /not a tile name/],
    ['3_4/2', '3_4/2', /not a tile name/],
    ['-1_0_0', '-1_0_0', /not a tile name/],
    ['3_4_2_1', '3_4_2_1', /not a tile name/],
    ['123_0_0', '123_0_0', /not a tile name/],
    ['1_0_12345678901', '1_0_12345678901', /not a tile name/],
    ['hello', 'hello', /unknown command/],
    ['STOP', 'STOP', /unknown command/],
    ['Ping', 'Ping', /unknown command/],
    ['hello world', 'hello', /unknown command/],
    ['1_0_0 extra', '1_0_0', /unexpected text/],
    ['stop a b', 'stop', /expected stop/],
    ['ping now', 'ping', /no arguments/],
    ['stats x', 'stats', /no arguments/],
    ['viewport 1 2 3', 'viewport', /expected viewport Z MINX MINY MAXX MAXY/],
    ['viewport 1 0 0 1 x', 'viewport', /expected viewport/],
    ['viewport 1 0 0 1 -1', 'viewport', /expected viewport/],
    ['viewport 123 0 0 1 1', 'viewport', /expected viewport/],
    ['cancel', 'cancel', /expected cancel Z_X_Y/],
    ['cancel 1_0_0 1_0_1', 'cancel', /expected cancel/],
    ['cancel nope', 'nope', /not a tile name/],
    ['dirty', 'dirty', /expected dirty/],
    ['dirty 1_0_0 a b', 'dirty', /expected dirty/],
    ['dirty x_y_z', 'x_y_z', /not a tile name/],
  ];
  for (const [text, name, reason] of table) {
    t.match(parseLineCommand(text), { type: 'invalid', name, reason }, JSON.stringify(text));
  }
});

t.test('garbage with control bytes gets a printable single-token name', async (t) => {
  const cmd = parseLineCommand('\u0001\u0002evil\u001b[31m\u0000x\u007f rest');
  t.same(cmd, { type: 'invalid', name: '??evil?[31m?x?', reason: 'unknown command' });
  const bidi = parseLineCommand('a\u202eb\u200bc');
  t.match(bidi, { type: 'invalid', name: 'a?b?c' }, 'bidi override and zero-width space replaced');
  const long = parseLineCommand('x'.repeat(500));
  t.equal((long as { name: string }).name, 'x'.repeat(MAX_NOTICE_NAME_CHARS), 'cut to 64');
  const emoji = parseLineCommand('🗺'.repeat(100));
  t.equal((emoji as { name: string }).name, '🗺'.repeat(64), 'cut by code point, never inside a surrogate pair');
});

t.test('lineCommandOf: lines are parsed, oversize lines are invalid with the size and limit', async (t) => {
  t.same(lineCommandOf({ type: 'line', text: '1_0_0' }), { type: 'tile', raw: '1_0_0', z: 1, x: 0, y: 0 });
  t.same(lineCommandOf({ type: 'line', text: '' }), { type: 'barrier' });
  t.same(lineCommandOf({ type: 'oversize', head: 'AAAA bbb', bytes: 5000, limit: 4096 }), {
    type: 'invalid',
    name: 'AAAA',
    reason: 'line too long (5000 bytes or more, limit 4096)',
  });
});

t.test('notices (wire.md §4)', async (t) => {
  t.equal(formatTileNotice('16_58001_25480'), '16_58001_25480\n');
  t.equal(formatErrorNotice('3_8_0', 'tile 3_8_0 is outside the zoom 3 grid (0..7)'), 'error 3_8_0 tile 3_8_0 is outside the zoom 3 grid (0..7)\n');
  t.equal(formatErrorNotice('16_abc_1', 'bad\r\nreason\u0000here'), 'error 16_abc_1 bad reason?here\n', 'reason made one line');
  t.equal(formatErrorNotice('a b\nc', ''), 'error a?b?c error\n', 'name made one token, empty reason filled');
  t.equal(formatErrorNotice('x', 'y'.repeat(2000)).length, 'error x '.length + 512 + 1, 'reason capped');
  t.equal(DONE_NOTICE, 'done\n');
  t.equal(BARRIER_REPLY, '\n');
  t.equal(safeToken(''), '?');
});

t.test('invalid names never break the notice format', async (t) => {
  for (const text of ['a\u2028b', 'x\u0085y', '\u00a0z', 'tab\u000bbed', '\ud800lone']) {
    const cmd = parseLineCommand(text);
    if (cmd.type !== 'invalid') continue;
    const notice = formatErrorNotice(cmd.name, cmd.reason);
    t.match(notice, /^error \S+ [^\n]+\n$/u, JSON.stringify(text));
    t.notMatch(notice.slice(0, -1), /[\n\r\u2028\u2029\u0085]/u);
  }
});

t.test('bulk and expire (seeding, answered in-band)', async (t) => {
  t.same(parseLineCommand('bulk 3_4_2'), { type: 'bulk', raw: '3_4_2', z: 3, x: 4, y: 2, force: false });
  t.same(parseLineCommand('bulk 3/4/2 force'), { type: 'bulk', raw: '3/4/2', z: 3, x: 4, y: 2, force: true });
  t.same(parseLineCommand('expire 10_5_6'), { type: 'expire', raw: '10_5_6', z: 10, x: 5, y: 6 });
  t.match(parseLineCommand('bulk 3_4_2 please'), { type: 'invalid', name: 'bulk' });
  t.match(parseLineCommand('bulk'), { type: 'invalid', name: 'bulk' });
  t.match(parseLineCommand('expire 3_4_2 force'), { type: 'invalid', name: 'expire' });
  t.match(parseLineCommand('bulk 3_x_2'), { type: 'invalid', name: '3_x_2' });
});

t.test('maps: NAME/Z/X/Y wherever a tile goes, viewport NAME Z ...; NAME_Z_X_Y and a digit-first name are not tiles', async (t) => {
  t.same(parseLineCommand('osm/3/4/2'), { type: 'tile', raw: 'osm/3/4/2', map: 'osm', z: 3, x: 4, y: 2 });
  t.same(parseLineCommand('cancel osm/3/4/2'), { type: 'cancel', raw: 'osm/3/4/2', map: 'osm', z: 3, x: 4, y: 2 });
  t.same(parseLineCommand('dirty osm/3/4/2 tok'), { type: 'dirty', raw: 'osm/3/4/2', map: 'osm', z: 3, x: 4, y: 2, token: 'tok' });
  t.same(parseLineCommand('bulk osm/3/4/2 force'), { type: 'bulk', raw: 'osm/3/4/2', map: 'osm', z: 3, x: 4, y: 2, force: true });
  t.same(parseLineCommand('expire osm/3/4/2'), { type: 'expire', raw: 'osm/3/4/2', map: 'osm', z: 3, x: 4, y: 2 });
  t.same(parseLineCommand('viewport osm 2 0 1 3 3'), { type: 'viewport', map: 'osm', z: 2, minX: 0, minY: 1, maxX: 3, maxY: 3 });
  t.match(parseLineCommand('osm_3_4_2'), { type: 'invalid', name: 'osm_3_4_2', reason: /not a tile name/ });
  t.match(parseLineCommand('9osm/3/4/2'), { type: 'invalid', reason: /not a tile name/ });
  t.match(parseLineCommand('a/b/3/4/2'), { type: 'invalid' });
  t.match(parseLineCommand('viewport osm 2 0 1 3'), { type: 'invalid', name: 'viewport', reason: /viewport MAP Z/ });
});
