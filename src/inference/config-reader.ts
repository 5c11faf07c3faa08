import { readFileSync } from 'node:fs';
import { ConfigError } from '../errors.js';

/**
 * Walks one parsed model.json, checking each field it is asked for and
 * naming the file and the dotted field path in every error. Unknown keys are
 * refused so a typo ("boxThreshold") fails at start-up instead of silently
 * falling back to a default.
 */
export class ConfigReader {
  private readonly seen = new Set<string>();

  constructor(
    readonly file: string,
    private readonly obj: Record<string, unknown>,
    private readonly prefix = '',
  ) {}

  static root(file: string, value: unknown): ConfigReader {
    if (!isPlainObject(value)) throw new ConfigError(`${file}: the root must be a JSON object`);
    return new ConfigReader(file, value);
  }

  fail(key: string, what: string): never {
    throw new ConfigError(`${this.file}: field "${this.path(key)}" ${what}`);
  }

  path(key: string): string {
    return this.prefix ? `${this.prefix}.${key}` : key;
  }

  has(key: string): boolean {
    return this.obj[key] !== undefined;
  }

  raw(key: string): unknown {
    this.seen.add(key);
    return this.obj[key];
  }

  /** A nested object; absent → an empty one, so every field takes its default. */
  object(key: string, required = false): ConfigReader {
    const v = this.raw(key);
    if (v === undefined) {
      if (required) this.fail(key, 'is required');
      return new ConfigReader(this.file, {}, this.path(key));
    }
    if (!isPlainObject(v)) this.fail(key, `must be an object, got ${describe(v)}`);
    return new ConfigReader(this.file, v, this.path(key));
  }

  string(key: string, def?: string): string {
    const v = this.raw(key);
    if (v === undefined && def !== undefined) return def;
    if (typeof v !== 'string' || v.length === 0) this.fail(key, `must be a non-empty string, got ${describe(v)}`);
    return v;
  }

  optionalString(key: string): string | undefined {
    return this.has(key) ? this.string(key) : (this.raw(key), undefined);
  }

  oneOf<T extends string>(key: string, allowed: readonly T[], def?: T): T {
    const v = this.raw(key);
    if (v === undefined && def !== undefined) return def;
    if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
      this.fail(key, `must be one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}, got ${describe(v)}`);
    }
    return v as T;
  }

  number(key: string, def: number | undefined, opts: { min?: number; max?: number; integer?: boolean; exclusiveMin?: boolean } = {}): number {
    const v = this.raw(key);
    if (v === undefined && def !== undefined) return def;
    const range = `${opts.min ?? '-∞'}${opts.exclusiveMin ? ' (exclusive)' : ''} .. ${opts.max ?? '∞'}`;
    const kind = opts.integer ? 'an integer' : 'a number';
    if (typeof v !== 'number' || !Number.isFinite(v)) this.fail(key, `must be ${kind} in ${range}, got ${describe(v)}`);
    if (opts.integer && !Number.isInteger(v)) this.fail(key, `must be ${kind} in ${range}, got ${v}`);
    if (opts.min !== undefined && (opts.exclusiveMin ? v <= opts.min : v < opts.min)) this.fail(key, `must be ${kind} in ${range}, got ${v}`);
    if (opts.max !== undefined && v > opts.max) this.fail(key, `must be ${kind} in ${range}, got ${v}`);
    return v;
  }

  boolean(key: string, def: boolean): boolean {
    const v = this.raw(key);
    if (v === undefined) return def;
    if (typeof v !== 'boolean') this.fail(key, `must be true or false, got ${describe(v)}`);
    return v;
  }

  numbers(key: string, def: readonly number[] | undefined, length?: number, opts: { positive?: boolean } = {}): number[] {
    const v = this.raw(key);
    if (v === undefined && def !== undefined) return [...def];
    const want = `an array of ${length ?? ''}${length ? ' ' : ''}${opts.positive ? 'positive ' : ''}numbers`;
    if (!Array.isArray(v) || (length !== undefined && v.length !== length) || v.length === 0) this.fail(key, `must be ${want}, got ${describe(v)}`);
    for (const x of v) {
      if (typeof x !== 'number' || !Number.isFinite(x) || (opts.positive && x <= 0)) this.fail(key, `must be ${want}, got ${describe(v)}`);
    }
    return v as number[];
  }

  strings(key: string): string[] {
    const v = this.raw(key);
    if (!Array.isArray(v) || v.length === 0 || !v.every((x) => typeof x === 'string')) {
      this.fail(key, `must be a non-empty array of strings, got ${describe(v)}`);
    }
    return v as string[];
  }

  /** Call after reading: refuses any key nobody asked for. */
  done(): void {
    for (const key of Object.keys(this.obj)) {
      if (!this.seen.has(key)) this.fail(key, 'is not a known field (check the spelling; models/README.md lists the fields)');
    }
  }
}

/**
 * A model's class names, for every kind that has them: the "labels" array
 * or the files.labels file (never both), else `fallback`, else the
 * `missing` error on "labels".
 */
export function readLabels(
  r: ConfigReader,
  files: ConfigReader,
  labelsFile: string | undefined,
  opts: { fallback?: string[] | undefined; missing: string },
): string[] {
  if (r.has('labels')) {
    if (labelsFile) r.fail('labels', 'and files.labels are both given; keep one');
    return r.strings('labels');
  }
  if (labelsFile) return readLabelsFile(files, labelsFile);
  if (opts.fallback) return opts.fallback;
  r.fail('labels', opts.missing);
}

/** One label per line, or a JSON array of strings (a file starting with `[`). */
function readLabelsFile(r: ConfigReader, file: string): string[] {
  const text = readFileSync(file, 'utf8');
  let labels: string[];
  if (text.trimStart().startsWith('[')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      r.fail('labels', `names ${file}, which starts with "[" but is not valid JSON (${err instanceof Error ? err.message : String(err)})`);
    }
    if (!Array.isArray(parsed) || !parsed.every((x) => typeof x === 'string')) r.fail('labels', `names ${file}, which must be a JSON array of strings`);
    labels = parsed as string[];
  } else {
    labels = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l.length > 0);
  }
  if (labels.length === 0) r.fail('labels', `names an empty file (${file})`);
  return labels;
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  const s = JSON.stringify(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}
