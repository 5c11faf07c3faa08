/** A received JSON value for an error message: its JSON (cut to 64 chars) and its JSON type. */
export function describeJson(v: unknown): string {
  if (v === undefined) return 'nothing';
  const type = v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v;
  let text = JSON.stringify(v) ?? String(v);
  if (text.length > 64) text = `${text.slice(0, 61)}...`;
  return `${text} (${type})`;
}
