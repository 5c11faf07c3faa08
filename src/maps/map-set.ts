import { BadTileError, UnknownMapError } from '../errors.js';
import { onMap, tileCoord, type TileCoord } from '../tile/tile-coord.js';
import { MAP_NAME } from './map-name.js';
import { DEFAULT_MAP_NAME, type MapSpec } from './map-spec.js';

/**
 * The maps one daemon serves, looked up by the name a request gives. The
 * default map answers requests that name no map (and those that name
 * `default`); its tiles carry no map name, so their keys, notices and paths
 * are the ones old clients know.
 */
export class MapSet {
  readonly #byName: ReadonlyMap<string, MapSpec>;
  readonly default: MapSpec;

  constructor(specs: readonly MapSpec[]) {
    const def = specs.find((s) => s.isDefault);
    if (def === undefined) throw new Error('MapSet: no default map');
    this.default = def;
    this.#byName = new Map(specs.map((s) => [s.name, s]));
  }

  /** A set of one builtin default map (tests, and callers that know no maps). */
  static only(o: { maxZoom: number }): MapSet {
    return new MapSet([
      { name: DEFAULT_MAP_NAME, isDefault: true, renderer: 'builtin', style: undefined, palette: true, tileSize: 256, metatile: 8, minZoom: 0, maxZoom: o.maxZoom, tilesDir: '.', layout: 'flat' },
    ]);
  }

  /** Every map, the default first. */
  list(): MapSpec[] {
    return [...this.#byName.values()];
  }

  /** The map a request names (none: the default map). Throws UnknownMapError. */
  get(name: string | undefined): MapSpec {
    if (name === undefined) return this.default;
    const spec = this.#byName.get(name);
    if (spec === undefined) {
      const shown = MAP_NAME.test(name) ? name : JSON.stringify(name.slice(0, 32));
      throw new UnknownMapError(`unknown map ${shown} (maps: ${[...this.#byName.keys()].join(', ')})`);
    }
    return spec;
  }

  /** The map a tile belongs to. */
  of(tile: { readonly map?: string | undefined }): MapSpec {
    return this.get(tile.map);
  }

  /** The `map` a TileCoord of this map carries: none for the default map. */
  tileMap(spec: MapSpec): string | undefined {
    return spec.isDefault ? undefined : spec.name;
  }

  /**
   * A checked tile of the named map: in the grid and in the map's zoom
   * range. Throws UnknownMapError or BadTileError.
   */
  tile(z: number, x: number, y: number, map: string | undefined): TileCoord {
    const spec = this.get(map);
    const t = tileCoord(z, x, y, spec.maxZoom);
    if (t.z < spec.minZoom) throw new BadTileError(`zoom ${t.z} is below map ${spec.name}'s min zoom ${spec.minZoom}`);
    return spec.isDefault ? t : onMap(t, spec.name);
  }
}

export { DEFAULT_MAP_NAME };
