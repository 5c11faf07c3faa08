/**
 * tirex's `.conf` files (renderer and map): `key=value` lines, `#` comments.
 * Read once at start-up; bounded, and nothing in them is executed here.
 */
import { readFileSync, statSync } from 'node:fs';
import { ConfigError } from '../../errors.js';

/** tirex's config files are a few hundred bytes; anything this large is not one. */
const MAX_CONF_BYTES = 64 * 1024;
const KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The key/value pairs of a tirex `.conf` text (later keys win, as in tirex). */
export function parseConf(text: string, file: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    const key = eq < 0 ? '' : line.slice(0, eq).trim();
    if (!KEY.test(key)) throw new ConfigError(`${file}:${i + 1}: not a key=value line: ${JSON.stringify(line.slice(0, 80))}`);
    out.set(key, line.slice(eq + 1).trim());
  }
  return out;
}

export function readConf(file: string): Map<string, string> {
  let text: string;
  try {
    const size = statSync(file).size;
    if (size > MAX_CONF_BYTES) throw new ConfigError(`${file}: ${size} bytes is not a tirex config file (limit ${MAX_CONF_BYTES})`);
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(`cannot read tirex config ${file}: ${(err as Error).message}`);
  }
  return parseConf(text, file);
}

/** The text of a map `.conf` mosaicd writes for a map given inline. */
export function formatConf(entries: Iterable<[string, string]>): string {
  let text = '# written by mosaicd for a tirex backend\n';
  for (const [k, v] of entries) {
    if (!KEY.test(k) || /[\n\r]/.test(v)) throw new ConfigError(`tirex map option ${JSON.stringify(k)}: a plain key and a one-line value`);
    text += `${k}=${v}\n`;
  }
  return text;
}
