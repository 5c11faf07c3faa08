/**
 * Messages between a parent and a renderer child process over Node IPC
 * (`serialization: 'advanced'`, so PNG bytes travel as Uint8Array). The
 * parent is trusted: these are not a security boundary, but every message a
 * child cannot use is answered, never dropped.
 */
import type { MetaTile } from '../../tile/tile-coord.js';
import type { RenderedTile } from '../meta.js';
import type { MapnikRendererOptions } from './options.js';

export type ToRendererProcess =
  | { readonly type: 'init'; readonly options: MapnikRendererOptions }
  | { readonly type: 'render'; readonly id: number; readonly meta: MetaTile }
  | { readonly type: 'close' };

export type FromRendererProcess =
  | { readonly type: 'ready'; readonly info: RendererInfo }
  | { readonly type: 'init-failed'; readonly code: string; readonly message: string }
  | { readonly type: 'rendered'; readonly id: number; readonly tiles: RenderedTile[] }
  | { readonly type: 'failed'; readonly id: number; readonly code: string; readonly message: string };

export interface RendererInfo {
  readonly pid: number;
  readonly bufferSize: number;
  readonly mapnikVersion: string;
}
