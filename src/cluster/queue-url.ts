/**
 * Where the shared queue lives: `redis://[USER[:PASSWORD]@]HOST:PORT[/DB]`.
 * The password may also come from MOSAICD_QUEUE_PASSWORD (`queuePassword`),
 * which keeps it out of `ps`; it never appears in `text`.
 */
export interface QueueUrl {
  readonly host: string;
  readonly port: number;
  readonly db: number;
  /** Redis 6+ ACL user; undefined = the `default` user. Percent-decoded. */
  readonly username: string | undefined;
  /** Percent-decoded; undefined = no AUTH (or `requirepass` not set). */
  readonly password: string | undefined;
  /** The URL with its password shown as `***`: the only form logged, echoed in errors or shown in stats. */
  readonly text: string;
}

const EXPECTED = 'expected redis://HOST:PORT or redis://HOST:PORT/DB (DB 0 to 15), optionally with USER:PASSWORD@ or :PASSWORD@ before HOST';

/**
 * A queue URL as it may be shown: everything between `//` and the last `@`
 * but the user name becomes `USER:***`. Works on text that is not a valid
 * URL too, since error messages echo what was given.
 */
export function redactQueueUrl(text: string): string {
  const at = text.lastIndexOf('@');
  if (at < 0) return text;
  const slashes = text.indexOf('//');
  const start = slashes >= 0 && slashes < at ? slashes + 2 : 0;
  const credentials = text.slice(start, at);
  const colon = credentials.indexOf(':');
  const user = colon >= 0 ? credentials.slice(0, colon) : credentials;
  // No colon: a user name alone (its password, if any, comes from the environment).
  return `${text.slice(0, start)}${colon >= 0 ? `${user}:***` : user}${text.slice(at)}`;
}

function decode(part: string, what: string, shown: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw new Error(`${JSON.stringify(shown)}: the ${what} is not valid percent-encoding; ${EXPECTED}`);
  }
}

/**
 * Parses and checks a `--queue` URL; throws an Error saying what is
 * expected (the URL in it redacted). `password`, when given (the
 * environment's), replaces the URL's.
 */
export function parseQueueUrl(text: string, password?: string): QueueUrl {
  const shown = redactQueueUrl(text);
  const bad = (what: string) => new Error(`${JSON.stringify(shown)}: ${what}; ${EXPECTED}`);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Error(`not a URL: ${JSON.stringify(shown)}; ${EXPECTED}`);
  }
  if (url.protocol !== 'redis:') throw bad('the scheme must be redis:');
  if (url.search || url.hash) throw bad('no query or fragment');
  if (!url.hostname) throw bad('no host');
  if (!url.port) throw bad('name the port');
  const path = url.pathname.replace(/\/$/, '');
  if (path !== '' && !/^\/\d{1,2}$/.test(path)) throw bad(`bad database ${JSON.stringify(path)}`);
  const db = path === '' ? 0 : Number(path.slice(1));
  if (db > 15) throw bad(`database ${db}`);
  const username = url.username === '' ? undefined : decode(url.username, 'user name', shown);
  const fromUrl = url.password === '' ? undefined : decode(url.password, 'password', shown);
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  const secret = password !== undefined && password !== '' ? password : fromUrl;
  // Rebuilt rather than the input redacted, so a password from the environment shows as *** too.
  const auth = username === undefined && secret === undefined ? '' : `${url.username}${secret === undefined ? '' : ':***'}@`;
  return { host, port: Number(url.port), db, username, password: secret, text: `redis://${auth}${url.host}${url.pathname === '/' ? '' : url.pathname}` };
}
