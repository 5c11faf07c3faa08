/**
 * A map name as it appears on every wire (`NAME/Z/X/Y`, `/tiles/NAME/...`)
 * and as a folder under the tiles dir: a letter first (so it never reads as
 * a zoom), then letters, digits, `_` or `-`, 32 characters at most. No dots
 * or separators, so it is safe in a path.
 */
export const MAP_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,31}$/;

/** The same rule, as a fragment for larger patterns. */
export const MAP_NAME_PART = '[A-Za-z][A-Za-z0-9_-]{0,31}';
