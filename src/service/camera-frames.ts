import sharp from 'sharp';
import type { InferenceResult } from '../inference/types.js';

/** A result's outline on its frame, in input-image pixels. */
export interface CameraBox {
  label: string;
  score: number;
  corners: ReadonlyArray<readonly [number, number]>;
}

/** The newest frame of one camera and the results it was processed into. */
export interface CameraFrame {
  readonly camera: number;
  /** The encoded image exactly as the camera host sent it. */
  readonly image: Buffer;
  readonly boxes: readonly CameraBox[];
  /** Frames recorded by this registry so far, this one included (a version for caches and viewers). */
  readonly seq: number;
  /** Date.now() when it was recorded. */
  readonly recordedAt: number;
}

export interface CameraFramesOptions {
  /** Cameras kept; recording one more forgets the camera that sent nothing for longest. */
  maxCameras: number;
  /** Largest decoded image re-encoded for viewers (width × height). */
  maxInputPixels: number;
  /** JPEG quality for viewers. */
  jpegQuality?: number;
}

interface Entry {
  frame: CameraFrame;
  /** Re-encoded once per frame and style, shared by every viewer. */
  jpeg: Map<'plain' | 'boxes', Promise<Buffer>>;
}

/**
 * The newest successfully processed frame of each camera, whatever wire it
 * came on (the framed service records it after `process`), for viewers such
 * as seed 002's MainServer.getStream. Memory is bounded: one frame per
 * camera, at most `maxCameras` cameras.
 */
export class CameraFrames {
  readonly #o: Required<CameraFramesOptions>;
  /** Insertion order = least recently updated first (an update deletes and re-inserts). */
  readonly #entries = new Map<number, Entry>();
  #seq = 0;
  #forgotten = 0;

  constructor(options: CameraFramesOptions) {
    this.#o = { jpegQuality: 80, ...options };
  }

  /** Keeps `image` (copied: the caller's buffer may be a view of a larger one) as camera `camera`'s newest frame. */
  record(camera: number, image: Uint8Array, results: readonly InferenceResult[]): void {
    const frame: CameraFrame = {
      camera,
      image: Buffer.from(image),
      boxes: results.flatMap((r) => {
        const corners = cornersOf(r.extra['box']);
        return corners.length > 0 ? [{ label: r.className, score: r.score, corners }] : [];
      }),
      seq: ++this.#seq,
      recordedAt: Date.now(),
    };
    this.#entries.delete(camera);
    this.#entries.set(camera, { frame, jpeg: new Map() });
    while (this.#entries.size > this.#o.maxCameras) {
      const oldest = this.#entries.keys().next().value as number;
      this.#entries.delete(oldest);
      this.#forgotten++;
    }
  }

  latest(camera: number): CameraFrame | undefined {
    return this.#entries.get(camera)?.frame;
  }

  /**
   * The camera's newest frame as JPEG, with its results' boxes drawn when
   * `boxes` is set; undefined when the camera has sent no frame (or was forgotten).
   */
  async jpeg(camera: number, options: { boxes: boolean }): Promise<{ frame: CameraFrame; jpeg: Buffer } | undefined> {
    const entry = this.#entries.get(camera);
    if (!entry) return undefined;
    const style = options.boxes && entry.frame.boxes.length > 0 ? 'boxes' : 'plain';
    let pending = entry.jpeg.get(style);
    if (!pending) {
      pending = encodeJpeg(entry.frame, style === 'boxes', this.#o);
      entry.jpeg.set(style, pending);
      // A failed encoding is not kept: the next viewer tries again.
      pending.catch(() => entry.jpeg.delete(style));
    }
    return { frame: entry.frame, jpeg: await pending };
  }

  stats(): { cameras: number; recorded: number; forgotten: number } {
    return { cameras: this.#entries.size, recorded: this.#seq, forgotten: this.#forgotten };
  }
}

async function encodeJpeg(frame: CameraFrame, boxes: boolean, o: Required<CameraFramesOptions>): Promise<Buffer> {
  const image = sharp(frame.image, { limitInputPixels: o.maxInputPixels });
  if (!boxes) return image.flatten({ background: '#ffffff' }).jpeg({ quality: o.jpegQuality }).toBuffer();
  const { width = 0, height = 0 } = await sharp(frame.image, { limitInputPixels: o.maxInputPixels }).metadata();
  return image
    .flatten({ background: '#ffffff' })
    .composite([{ input: overlaySvg(width, height, frame.boxes), top: 0, left: 0 }])
    .jpeg({ quality: o.jpegQuality })
    .toBuffer();
}

/** The boxes as an SVG the size of the frame: green outlines, the label above each. */
function overlaySvg(width: number, height: number, boxes: readonly CameraBox[]): Buffer {
  const shapes = boxes
    .map((b) => {
      const points = b.corners.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(' ');
      const [x, y] = b.corners[0]!;
      const label = escapeXml(b.label.slice(0, 64));
      return `<polygon points="${points}" fill="none" stroke="#00c000" stroke-width="2"/><text x="${x.toFixed(1)}" y="${Math.max(12, y - 4).toFixed(1)}" font-family="DejaVu Sans" font-size="12" fill="#00c000">${label}</text>`;
    })
    .join('');
  return Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">${shapes}</svg>`);
}

function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function cornersOf(box: unknown): Array<[number, number]> {
  if (!Array.isArray(box)) return [];
  const out: Array<[number, number]> = [];
  for (const p of box) {
    if (!Array.isArray(p) || !Number.isFinite(p[0]) || !Number.isFinite(p[1])) return [];
    out.push([p[0] as number, p[1] as number]);
  }
  return out;
}
