import sharp, { type Metadata } from 'sharp';
import { ProtocolError, TooLargeError } from '../errors.js';
import type { RgbImage } from './raster.js';

/**
 * Raster formats accepted. Vector and document formats libvips could also
 * open (SVG, PDF) are refused: they are renderers, not images, and SVG can
 * reference other resources.
 */
const FORMATS = new Set(['png', 'jpeg', 'webp', 'tiff', 'gif', 'heif']);

/**
 * Decodes an encoded image (PNG, JPEG, WebP, TIFF, GIF, AVIF; the first
 * frame of animations) to upright 8-bit RGB. The header is read first so
 * an image that claims too many pixels is refused before a single pixel is
 * decoded.
 */
export async function decodeImage(bytes: Uint8Array, maxInputPixels: number): Promise<RgbImage> {
  if (bytes.byteLength === 0) throw new ProtocolError('the image payload is empty');
  let meta: Metadata;
  try {
    meta = await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch (err) {
    throw new ProtocolError(`the image could not be decoded: ${reason(err)}`, { cause: err });
  }
  if (!meta.format || !FORMATS.has(meta.format)) {
    throw new ProtocolError(`unsupported image format ${meta.format ?? 'unknown'} (send PNG, JPEG, WebP, TIFF, GIF or AVIF)`);
  }
  const { width, height } = meta;
  if (!width || !height) throw new ProtocolError(`the image could not be decoded: no dimensions in the ${meta.format ?? 'unknown'} header`);
  if (width * height > maxInputPixels) {
    throw new TooLargeError(
      `the image is ${width}×${height} = ${width * height} pixels, over the limit of ${maxInputPixels} (maxInputPixels); it was not decoded`,
    );
  }
  try {
    const { data, info } = await sharp(bytes, { limitInputPixels: maxInputPixels, failOn: 'error' })
      .rotate() // apply the EXIF orientation so boxes are in the image as displayed
      .flatten({ background: '#ffffff' }) // alpha: composite onto white (text on transparent is usually dark)
      .toColourspace('srgb') // grayscale, CMYK, 16-bit → 8-bit sRGB
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`expected 3 channels after conversion, got ${info.channels}`);
    return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height };
  } catch (err) {
    throw new ProtocolError(`the image could not be decoded: ${reason(err)}`, { cause: err });
  }
}

/** PNG for a result image. Level 3: the vision host this replaces used compress_level=3 for speed. */
export async function encodePng(img: RgbImage): Promise<Uint8Array> {
  const buf = await sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } })
    .png({ compressionLevel: 3 })
    .toBuffer();
  // A copy with its own ArrayBuffer: it is transferred to the main thread, and a
  // Buffer may sit in Node's shared pool or in memory Node cannot detach.
  return new Uint8Array(buf);
}

function reason(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0]!.trim();
}
