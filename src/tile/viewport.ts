/**
 * What a client shows: zoom z, tile columns minX..maxX, rows minY..maxY
 * (inclusive). The one viewport type of every wire (lines, frames, HTTP)
 * and of the scheduler. Parsed from the wire by src/protocol/viewport-syntax.ts
 * (syntax only); checked against the grid by the tile API.
 */
export interface Viewport {
  readonly z: number;
  readonly minX: number;
  readonly minY: number;
  readonly maxX: number;
  readonly maxY: number;
  /** The map shown; absent for the default map (see TileCoord.map). */
  readonly map?: string;
}
