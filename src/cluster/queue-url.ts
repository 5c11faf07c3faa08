/** Where the shared queue lives: `redis://HOST:PORT[/DB]`. No password in the URL: Redis on a private network, or a local socket tunnel. */
export interface QueueUrl {
  readonly host: string;
  readonly port: number;
  readonly db: number;
  /** The URL as given (logged; it holds no secret). */
  readonly text: string;
}

/** Parses and checks a `--queue` URL; throws an Error saying what is expected. */
export function parseQueueUrl(text: string): QueueUrl {
  const expected = 'expected redis://HOST:PORT or redis://HOST:PORT/DB (DB 0 to 15)';
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Error(`not a URL: ${JSON.stringify(text)}; ${expected}`);
  }
  if (url.protocol !== 'redis:') throw new Error(`${JSON.stringify(text)}: the scheme must be redis:; ${expected}`);
  if (url.username || url.password) throw new Error(`${JSON.stringify(text)}: credentials in the URL are not supported; ${expected}`);
  if (url.search || url.hash) throw new Error(`${JSON.stringify(text)}: no query or fragment; ${expected}`);
  if (!url.hostname) throw new Error(`${JSON.stringify(text)}: no host; ${expected}`);
  if (!url.port) throw new Error(`${JSON.stringify(text)}: name the port; ${expected}`);
  const path = url.pathname.replace(/\/$/, '');
  if (path !== '' && !/^\/\d{1,2}$/.test(path)) throw new Error(`${JSON.stringify(text)}: bad database ${JSON.stringify(path)}; ${expected}`);
  const db = path === '' ? 0 : Number(path.slice(1));
  if (db > 15) throw new Error(`${JSON.stringify(text)}: database ${db}; ${expected}`);
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  return { host, port: Number(url.port), db, text };
}
