/**
 * Raw 8-bit RGB rasters and the few pixel operations the pipelines need.
 * Kept in plain JS (not sharp) so a worker runs a whole pipeline on one
 * buffer without round trips through libvips, and so resizing follows
 * OpenCV's INTER_LINEAR, which PaddleOCR's constants were tuned with.
 */
export interface RgbImage {
  /** Interleaved R, G, B; row-major; no padding. */
  data: Uint8Array;
  width: number;
  height: number;
}

export function makeImage(width: number, height: number): RgbImage {
  return { data: new Uint8Array(width * height * 3), width, height };
}

/**
 * Bilinear resize with OpenCV's INTER_LINEAR sampling (half-pixel centres,
 * edge clamp, no antialiasing) — cv2.resize is what PaddleOCR's det, cls and
 * rec preprocessing call (ppocr/data/imaug/operators.py, predict_rec.py).
 */
export function resizeBilinear(src: RgbImage, dw: number, dh: number): RgbImage {
  const { data: s, width: sw, height: sh } = src;
  const out = makeImage(dw, dh);
  const d = out.data;
  const xs0 = new Int32Array(dw);
  const xs1 = new Int32Array(dw);
  const xw = new Float32Array(dw);
  const scaleX = sw / dw;
  for (let x = 0; x < dw; x++) {
    let fx = (x + 0.5) * scaleX - 0.5;
    let sx = Math.floor(fx);
    fx -= sx;
    if (sx < 0) { fx = 0; sx = 0; }
    if (sx >= sw - 1) { fx = 0; sx = sw - 1; }
    xs0[x] = sx * 3;
    xs1[x] = Math.min(sx + 1, sw - 1) * 3;
    xw[x] = fx;
  }
  const scaleY = sh / dh;
  for (let y = 0; y < dh; y++) {
    let fy = (y + 0.5) * scaleY - 0.5;
    let sy = Math.floor(fy);
    fy -= sy;
    if (sy < 0) { fy = 0; sy = 0; }
    if (sy >= sh - 1) { fy = 0; sy = sh - 1; }
    const r0 = sy * sw * 3;
    const r1 = Math.min(sy + 1, sh - 1) * sw * 3;
    let o = y * dw * 3;
    for (let x = 0; x < dw; x++) {
      const a = xs0[x]!;
      const b = xs1[x]!;
      const wx = xw[x]!;
      for (let c = 0; c < 3; c++) {
        const top = s[r0 + a + c]! + (s[r0 + b + c]! - s[r0 + a + c]!) * wx;
        const bot = s[r1 + a + c]! + (s[r1 + b + c]! - s[r1 + a + c]!) * wx;
        d[o++] = Math.round(top + (bot - top) * fy);
      }
    }
  }
  return out;
}

/** 90° counter-clockwise, as numpy's np.rot90(img) (k=1). */
export function rotate90ccw(src: RgbImage): RgbImage {
  const { width: w, height: h, data: s } = src;
  const out = makeImage(h, w);
  const d = out.data;
  // out(row i, col j) = src(row j, col w-1-i)
  for (let i = 0; i < w; i++) {
    for (let j = 0; j < h; j++) {
      const si = (j * w + (w - 1 - i)) * 3;
      const di = (i * h + j) * 3;
      d[di] = s[si]!; d[di + 1] = s[si + 1]!; d[di + 2] = s[si + 2]!;
    }
  }
  return out;
}

/** 180° rotation, as cv2.rotate(img, cv2.ROTATE_180). */
export function rotate180(src: RgbImage): RgbImage {
  const n = src.width * src.height;
  const out = makeImage(src.width, src.height);
  for (let i = 0; i < n; i++) {
    const si = i * 3;
    const di = (n - 1 - i) * 3;
    out.data[di] = src.data[si]!; out.data[di + 1] = src.data[si + 1]!; out.data[di + 2] = src.data[si + 2]!;
  }
  return out;
}

export interface Normalisation {
  /** Multiplier applied to the 0..255 value first (1/255 for PaddleOCR). */
  scale: number;
  /** Per output plane, in plane order. */
  mean: readonly number[];
  std: readonly number[];
  /** Plane order: PaddleOCR reads images with cv2 and so feeds BGR. */
  order: 'RGB' | 'BGR';
}

/**
 * Writes `img` as normalised CHW planes into a [3, H, dstWidth] slot of
 * `dst` starting at `offset`, leaving columns ≥ img.width untouched (zero =
 * PaddleOCR's right padding, predict_rec.py / predict_cls.py resize_norm_img).
 */
export function writeChw(img: RgbImage, norm: Normalisation, dst: Float32Array, offset: number, dstWidth: number): void {
  const { width: w, height: h, data } = img;
  const plane = h * dstWidth;
  for (let p = 0; p < 3; p++) {
    const src = norm.order === 'BGR' ? 2 - p : p;
    const k = norm.scale / norm.std[p]!;
    const b = norm.mean[p]! / norm.std[p]!;
    const base = offset + p * plane;
    for (let y = 0; y < h; y++) {
      let si = y * w * 3 + src;
      const row = base + y * dstWidth;
      for (let x = 0; x < w; x++, si += 3) dst[row + x] = data[si]! * k - b;
    }
  }
}

/** The pixels of an axis-aligned rectangle (integer bounds, already inside the image). */
export function cropRect(src: RgbImage, x: number, y: number, width: number, height: number): RgbImage {
  const out = makeImage(width, height);
  for (let row = 0; row < height; row++) {
    const s = ((y + row) * src.width + x) * 3;
    out.data.set(src.data.subarray(s, s + width * 3), row * width * 3);
  }
  return out;
}

/** Scaled down (bilinear) so the longer side is at most `maxSide`; unchanged if it already fits. */
export function fitWithin(img: RgbImage, maxSide: number): RgbImage {
  const longer = Math.max(img.width, img.height);
  if (longer <= maxSide) return img;
  const k = maxSide / longer;
  return resizeBilinear(img, Math.max(1, Math.round(img.width * k)), Math.max(1, Math.round(img.height * k)));
}
