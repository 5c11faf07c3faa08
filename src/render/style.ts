/**
 * The map style, exactly the one renderd + Mapnik is measured with in
 * docs/notes tile-daemons.md §5, so the speed comparison is like for like.
 */
export const STYLE = {
  ocean: '#aad3df',
  land: '#f2efe9',
  outline: '#888888',
  /** Country outline (borders and coasts) width at 256 px tiles; scaled with the tile size. */
  outlineWidth256: 0.7,
} as const;

/** The ocean colour as one RGBA word in memory order (little-endian Uint32 view of R,G,B,A). */
export const OCEAN_RGBA = rgbaWord(STYLE.ocean);
export const LAND_RGBA = rgbaWord(STYLE.land);

function rgbaWord(hex: string): number {
  const v = parseInt(hex.slice(1), 16);
  const r = (v >> 16) & 255, g = (v >> 8) & 255, b = v & 255;
  return ((255 << 24) | (b << 16) | (g << 8) | r) >>> 0;
}
