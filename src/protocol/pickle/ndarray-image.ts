import sharp from 'sharp';
import { ProtocolError, TooLargeError } from '../../errors.js';
import { NdArray } from './values.js';

/** An image the inference service takes (encoded bytes), with its size for whole-image boxes. */
export interface EncodedImage {
  readonly payload: Buffer;
  readonly width: number;
  readonly height: number;
}

/**
 * A numpy image as OpenCV clients send it -> an encoded image:
 *
 * * H×W×3 uint8: BGR (what cv2.imread gives) -> RGB -> PNG
 * * H×W×4: BGRA -> RGBA -> PNG; H×W and H×W×1: grey -> PNG
 * * 1-D uint8 or N×1 starting with an image signature (cv2.imencode gives
 *   N×1), or bytes: already encoded -> passed through
 *
 * The PNG is written at level 1: it is decoded again in the same daemon a
 * moment later, so speed matters more than size.
 */
export async function encodeNdImage(image: NdArray | Uint8Array, maxInputPixels: number): Promise<EncodedImage> {
  if (image instanceof Uint8Array) return encoded(image);
  const [h = 0, w = 1, c = 1, ...rest] = image.shape;
  // cv2.imencode returns an N×1 array: encoded bytes, not a one-pixel-wide image.
  if (image.shape.length === 1 || (image.shape.length === 2 && w === 1 && isEncoded(image.data))) return encoded(image.data);
  if (image.shape.length > 3 || rest.length > 0 || ![1, 3, 4].includes(c)) {
    throw new ProtocolError(`a numpy image must be H×W, H×W×3 (BGR), H×W×4 (BGRA) or 1-D encoded bytes; got shape (${image.shape.join(', ')})`);
  }
  if (h === 0 || w === 0) throw new ProtocolError(`the numpy image is empty: shape (${image.shape.join(', ')})`);
  if (h * w > maxInputPixels) {
    throw new TooLargeError(`the image is ${w}×${h} = ${w * h} pixels, over the limit of ${maxInputPixels} (maxInputPixels)`);
  }
  const pixels = toRgbRowMajor(image.data, h, w, c, image.fortran);
  const raw = sharp(pixels, { raw: { width: w, height: h, channels: c as 1 | 3 | 4 } });
  const payload = await (c === 1 ? raw.toColourspace('b-w') : raw).png({ compressionLevel: 1, adaptiveFiltering: false }).toBuffer();
  return { payload, width: w, height: h };
}

async function encoded(bytes: Uint8Array): Promise<EncodedImage> {
  if (bytes.length === 0) throw new ProtocolError('the image bytes are empty');
  const payload = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // The header only, for whole-image boxes; a bad image is reported by the service that decodes it.
  const meta = await sharp(payload).metadata().catch(() => undefined);
  return { payload, width: meta?.width ?? 0, height: meta?.height ?? 0 };
}

/** JPEG, PNG, WebP (RIFF), TIFF, GIF signatures. */
const SIGNATURES = [[0xff, 0xd8, 0xff], [0x89, 0x50, 0x4e, 0x47], [0x52, 0x49, 0x46, 0x46], [0x49, 0x49, 0x2a, 0x00], [0x4d, 0x4d, 0x00, 0x2a], [0x47, 0x49, 0x46, 0x38]];

function isEncoded(data: Uint8Array): boolean {
  return SIGNATURES.some((sig) => sig.every((b, i) => data[i] === b));
}

/** Row-major RGB(A) from row- or column-major BGR(A); grey is only reordered. */
function toRgbRowMajor(data: Uint8Array, h: number, w: number, c: number, fortran: boolean): Buffer {
  const out = Buffer.allocUnsafe(h * w * c);
  if (!fortran) {
    out.set(data);
  } else {
    // Fortran order: element (y, x, k) is at y + h * (x + w * k).
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let k = 0; k < c; k++) out[(y * w + x) * c + k] = data[y + h * (x + w * k)]!;
  }
  if (c >= 3) {
    for (let i = 0; i < out.length; i += c) {
      const b = out[i]!;
      out[i] = out[i + 2]!;
      out[i + 2] = b;
    }
  }
  return out;
}
