/**
 * Web Mercator in the unit square: x = 0 at 180°W, 1 at 180°E; y = 0 at the
 * north edge (85.0511°N), 1 at the south edge. A tile z/x/y covers
 * [x, x+1]·2^-z × [y, y+1]·2^-z.
 */
export const MAX_LAT = 85.0511287798066;

export function lonToUnit(lon: number): number {
  return (lon + 180) / 360;
}

/** Latitude to unit y, clamped to the given limit (±85.0511° keeps y in [0, 1]). */
export function latToUnit(lat: number, limit = MAX_LAT): number {
  const clamped = Math.max(-limit, Math.min(limit, lat));
  const s = Math.sin((clamped * Math.PI) / 180);
  return 0.5 - Math.log((1 + s) / (1 - s)) / (4 * Math.PI);
}
