import t from 'tap';
import { configFromArgv } from '../../src/cli/options.js';
import { DEFAULT_CONFIG } from '../../src/config/daemon-config.js';
import { MAX_PICKLE_DEPTH, MAX_PICKLE_INT_BYTES, MAX_PICKLE_ITEMS, MAX_PICKLE_MEMO } from '../../src/limits.js';

t.test('--mp-port is off by default; --mp-port, --mp-authkey and --pickle-limit set their fields', async (t) => {
  t.equal(DEFAULT_CONFIG.mpPort, undefined);
  t.equal(DEFAULT_CONFIG.mpAuthkey, undefined);
  t.same(DEFAULT_CONFIG.pickleLimits, { depth: MAX_PICKLE_DEPTH, items: MAX_PICKLE_ITEMS, memo: MAX_PICKLE_MEMO, intBytes: MAX_PICKLE_INT_BYTES });
  const c = configFromArgv({ 'mp-port': 9006, 'mp-authkey': 'k', 'pickle-limit': ['depth=20', 'memo=5'] }, {});
  t.equal(c.mpPort, 9006);
  t.equal(c.mpAuthkey, 'k');
  t.same(c.pickleLimits, { depth: 20, items: MAX_PICKLE_ITEMS, memo: 5, intBytes: MAX_PICKLE_INT_BYTES }, 'unnamed limits keep their defaults');
});

t.test('the authkey comes from MOSAICD_MP_AUTHKEY too; a flag wins over the environment', async (t) => {
  t.equal(configFromArgv({}, { MOSAICD_MP_AUTHKEY: 'from-env' }).mpAuthkey, 'from-env');
  t.equal(configFromArgv({ 'mp-authkey': 'from-flag' }, { MOSAICD_MP_AUTHKEY: 'from-env' }).mpAuthkey, 'from-flag');
  t.same(configFromArgv({}, { MOSAICD_PICKLE_LIMIT: 'items=10,intBytes=8' }).pickleLimits, { depth: MAX_PICKLE_DEPTH, items: 10, memo: MAX_PICKLE_MEMO, intBytes: 8 });
});

t.test('bad pickle limits are refused with the field, the expectation and what was given', async (t) => {
  t.throws(() => configFromArgv({ 'pickle-limit': ['depht=3'] }, {}), { code: 'CONFIG_ERROR', message: /"pickleLimits" must be keys among depth, items, memo, intBytes \(got depht\)/ });
  t.throws(() => configFromArgv({ 'pickle-limit': ['depth=0'] }, {}), { code: 'CONFIG_ERROR', message: /depth: an integer from 1/ });
  t.throws(() => configFromArgv({ 'pickle-limit': ['depth'] }, {}), { code: 'CONFIG_ERROR', message: /--pickle-limit takes key=value pairs, e\.g\. depth=100/ });
  t.throws(() => configFromArgv({ 'mp-port': 70000 }, {}), { code: 'CONFIG_ERROR', message: /"mpPort" must be an integer from 0 to 65535/ });
});
