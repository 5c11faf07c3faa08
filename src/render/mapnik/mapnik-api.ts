/**
 * The part of @mapnik/mapnik's API the renderer uses, typed by hand (the
 * package ships no types), and its lazy loader. @mapnik/mapnik is an
 * optional dependency: it is imported only when a Mapnik map is configured,
 * so a daemon without it starts and serves everything else.
 */
import { RendererUnavailableError } from '../../errors.js';

type Callback<T = void> = (err: Error | null, result: T) => void;

export interface MapnikImageView {
  isSolidSync(): boolean;
  /** The pixel as a packed RGBA word (for an rgba8 image). */
  getPixel(x: number, y: number): number;
  encode(format: string, cb: Callback<Buffer>): void;
}

export interface MapnikImage {
  width(): number;
  height(): number;
  /** Raw pixels, RGBA, row by row (premultiplied as rendered). */
  data(): Buffer;
  view(x: number, y: number, width: number, height: number): MapnikImageView;
  encode(format: string, cb: Callback<Buffer>): void;
  premultiplied(): boolean;
  demultiplySync(): void;
  /** Back to transparent black (the image is reused from one render to the next). */
  clearSync(): void;
}

export interface MapnikMap {
  extent: [number, number, number, number];
  bufferSize: number;
  srs: string;
  load(file: string, options: { strict?: boolean; base?: string }, cb: Callback<MapnikMap>): void;
  fromString(xml: string, options: { strict?: boolean; base?: string }, cb: Callback<MapnikMap>): void;
  render(image: MapnikImage, options: { scale?: number; buffer_size?: number }, cb: Callback<MapnikImage>): void;
  resize(width: number, height: number): void;
  layers(): Array<{ name: string; datasource?: { type?: string } }>;
  toXML(): string;
}

export interface MapnikModule {
  readonly versions: { readonly mapnik: string };
  Map: new (width: number, height: number, srs?: string) => MapnikMap;
  Image: new (width: number, height: number, options?: { premultiplied?: boolean }) => MapnikImage;
  register_default_input_plugins(): void;
  register_system_fonts(): void;
  register_fonts(dir: string, options?: { recurse?: boolean }): boolean;
  datasources(): string[];
  fonts(): string[];
}

/** The package to install, named in the error when it is missing. */
export const MAPNIK_PACKAGE = '@mapnik/mapnik';

/** How the module is obtained: the real dynamic import, or a test's stand-in. */
export type MapnikImporter = () => Promise<unknown>;

export const importMapnik: MapnikImporter = () => import(MAPNIK_PACKAGE);

let cached: Promise<MapnikModule> | undefined;

/**
 * The Mapnik module with its input plugins registered. Fails with
 * RendererUnavailableError (RENDERER_UNAVAILABLE) naming the package when it
 * cannot be loaded. With the default importer the result is cached per process.
 */
export function loadMapnik(importer: MapnikImporter = importMapnik): Promise<MapnikModule> {
  if (importer === importMapnik && cached !== undefined) return cached;
  const loading = (async () => {
    let mod: unknown;
    try {
      mod = await importer();
    } catch (err) {
      throw new RendererUnavailableError(
        `the Mapnik renderer needs the ${MAPNIK_PACKAGE} package, which is not installed or does not load here ` +
          `(${err instanceof Error ? err.message.split('\n')[0] : String(err)}); install it with: npm install ${MAPNIK_PACKAGE}`,
        { cause: err },
      );
    }
    const m = ((mod as { default?: unknown }).default ?? mod) as MapnikModule;
    m.register_default_input_plugins();
    return m;
  })();
  if (importer === importMapnik) {
    cached = loading;
    loading.catch(() => (cached = undefined));
  }
  return loading;
}
