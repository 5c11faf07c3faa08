/**
 * What the scheduler needs from any renderer: a metatile in, its tiles out
 * (or a coded error). Kept free of Mapnik so the main thread can import it.
 * (Generic; at merge it may move to src/render/ beside the other renderers.)
 */
import type { MetaTile } from '../../tile/tile-coord.js';
import type { RenderedTile } from '../meta.js';

export interface Renderer {
  /** The metatile's tiles, row by row (`tilesOfMeta` order), each a PNG. */
  renderMetaTile(meta: MetaTile): Promise<RenderedTile[]>;
  close(): Promise<void>;
}
