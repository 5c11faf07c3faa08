import t from 'tap';
import { parseQueueUrl, redactQueueUrl } from '../../src/cluster/queue-url.js';
import { connectionOf } from '../../src/cluster/connection.js';
import { resolveConfig } from '../../src/config/daemon-config.js';
import { configFromArgv } from '../../src/cli/options.js';

t.test('--queue URLs: redis://HOST:PORT[/DB], anything else refused with what is expected', async (t) => {
  t.same(parseQueueUrl('redis://127.0.0.1:6379'), { host: '127.0.0.1', port: 6379, db: 0, username: undefined, password: undefined, text: 'redis://127.0.0.1:6379' });
  t.same(parseQueueUrl('redis://queue.internal:7000/3'), { host: 'queue.internal', port: 7000, db: 3, username: undefined, password: undefined, text: 'redis://queue.internal:7000/3' });
  t.equal(parseQueueUrl('redis://[::1]:6379').host, '::1');
  for (const bad of ['127.0.0.1:6379', 'http://h:1', 'redis://h', 'redis://h:1/16', 'redis://h:1/x', 'redis://h:1?db=2', 'redis://h:99999']) {
    t.throws(() => parseQueueUrl(bad), { message: /redis:\/\/HOST:PORT|not a URL/ }, bad);
  }
  t.throws(() => resolveConfig({ queue: 'redis://h' }), { code: 'CONFIG_ERROR', message: /"queue" must be/ }, 'the config check uses it');
  t.equal(resolveConfig({ queue: 'redis://h:1/2' }).queue, 'redis://h:1/2');
  t.equal(resolveConfig({}).queue, undefined, 'off by default');
});

t.test('credentials in the URL: USER:PASSWORD@, :PASSWORD@ and USER@ give the user and password, percent-decoded, and a text with the password as ***', async (t) => {
  t.match(parseQueueUrl('redis://alice:s3cret@redis.internal:6380/2'), {
    host: 'redis.internal', port: 6380, db: 2, username: 'alice', password: 's3cret', text: 'redis://alice:***@redis.internal:6380/2',
  });
  t.match(parseQueueUrl('redis://:s3cret@127.0.0.1:6379'), { username: undefined, password: 's3cret', text: 'redis://:***@127.0.0.1:6379' }, 'requirepass: no user');
  t.match(parseQueueUrl('redis://alice@127.0.0.1:6379'), { username: 'alice', password: undefined, text: 'redis://alice@127.0.0.1:6379' }, 'a user alone (its password from the environment)');
  const odd = parseQueueUrl('redis://ops%40site:p%40ss%3Aw%2Fo%25rd@h:1');
  t.equal(odd.username, 'ops@site', 'the user is percent-decoded');
  t.equal(odd.password, 'p@ss:w/o%rd', 'the password is percent-decoded');
  t.equal(odd.text, 'redis://ops%40site:***@h:1');
  t.same(connectionOf(parseQueueUrl('redis://alice:s3cret@h:1/3')), { host: 'h', port: 1, db: 3, username: 'alice', password: 's3cret' }, 'ioredis gets them as username and password');
  t.same(connectionOf(parseQueueUrl('redis://h:1')), { host: 'h', port: 1, db: 0 }, 'no credentials: no AUTH');
  t.same(connectionOf(parseQueueUrl('redis://nopass-user@h:1')), { host: 'h', port: 1, db: 0, username: 'nopass-user', password: '' }, 'a user without a password still sends AUTH USER ""');
});

t.test('a password given apart (MOSAICD_QUEUE_PASSWORD) replaces the URL\'s and shows as *** in the text', async (t) => {
  t.match(parseQueueUrl('redis://h:1', 'from-env'), { username: undefined, password: 'from-env', text: 'redis://:***@h:1' });
  t.match(parseQueueUrl('redis://alice:in-url@h:1/4', 'from-env'), { username: 'alice', password: 'from-env', text: 'redis://alice:***@h:1/4' });
  t.match(parseQueueUrl('redis://alice@h:1', 'from-env'), { username: 'alice', password: 'from-env', text: 'redis://alice:***@h:1' });
});

t.test('no error message about a bad URL echoes its password', async (t) => {
  const cases = [
    'http://alice:TOPSECRET@h:1',
    'redis://alice:TOPSECRET@h',
    'redis://:TOPSECRET@h:1/99',
    'redis://:TOPSECRET@h:1?x=1',
    'redis://alice:TOP%zzSECRET@h:1',
    'redis://alice:TOP SECRET@@h:notaport',
    'redis://:TOPSECRET@',
  ];
  for (const bad of cases) {
    let message = '';
    try {
      parseQueueUrl(bad);
    } catch (err) {
      message = (err as Error).message;
    }
    t.not(message, '', `${bad} is refused`);
    t.notMatch(message, /SECRET/, `the message hides the password: ${message}`);
    t.match(message, /\*\*\*/, 'and shows where it was');
  }
  t.throws(() => parseQueueUrl('redis://alice:TOP%zzSECRET@h:1'), { message: /password is not valid percent-encoding/ });
  let configMessage = '';
  try {
    resolveConfig({ queue: 'redis://alice:TOPSECRET@h' });
  } catch (err) {
    configMessage = (err as Error).message;
  }
  t.match(configMessage, /^options: "queue" must be .*; got "redis:\/\/alice:\*\*\*@h"$/, 'the config check echoes the redacted URL');
  t.notMatch(configMessage, /SECRET/);
});

t.test('redactQueueUrl hides everything between // and the last @ but the user name', async (t) => {
  t.equal(redactQueueUrl('redis://h:1'), 'redis://h:1');
  t.equal(redactQueueUrl('redis://u:p@h:1/2'), 'redis://u:***@h:1/2');
  t.equal(redactQueueUrl('redis://:p@h:1'), 'redis://:***@h:1');
  t.equal(redactQueueUrl('redis://u:p@ss@h:1'), 'redis://u:***@h:1', 'an unencoded @ in the password is hidden too');
  t.equal(redactQueueUrl('u:p@h:1'), 'u:***@h:1', 'no scheme');
});

t.test('MOSAICD_QUEUE_PASSWORD sets queuePassword (there is no flag for it), and `config` errors never echo it', async (t) => {
  t.equal(configFromArgv({ queue: 'redis://h:1' }, { MOSAICD_QUEUE_PASSWORD: 'pw' }).queuePassword, 'pw');
  t.equal(configFromArgv({}, {}).queuePassword, undefined, 'none by default');
  t.equal(resolveConfig({ queuePassword: 'from-file' }).queuePassword, 'from-file', 'also a config file field');
  t.throws(() => configFromArgv({}, { MOSAICD_QUEUE_PASSWORD: '' }), { code: 'CONFIG_ERROR', message: /environment variable MOSAICD_QUEUE_PASSWORD: "queuePassword" must be .*; got "\*\*\*"/ });
});
