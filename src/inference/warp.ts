import { distance, type Quad } from './geometry.js';
import { makeImage, rotate90ccw, type RgbImage } from './raster.js';

/** Row-major 3×3 homography with m[8] = 1. */
export type Homography = Float64Array;

/**
 * cv2.getPerspectiveTransform: the homography taking each `from` corner to
 * the matching `to` corner, from the 8×8 linear system (Gaussian
 * elimination with partial pivoting).
 */
export function perspectiveTransform(from: Quad, to: Quad): Homography {
  const a: number[][] = [];
  for (let i = 0; i < 4; i++) {
    const [x, y] = from[i]!;
    const [u, v] = to[i]!;
    a.push([x, y, 1, 0, 0, 0, -x * u, -y * u, u]);
    a.push([0, 0, 0, x, y, 1, -x * v, -y * v, v]);
  }
  for (let col = 0; col < 8; col++) {
    let pivot = col;
    for (let r = col + 1; r < 8; r++) if (Math.abs(a[r]![col]!) > Math.abs(a[pivot]![col]!)) pivot = r;
    [a[col], a[pivot]] = [a[pivot]!, a[col]!];
    const p = a[col]![col]!;
    if (Math.abs(p) < 1e-12) throw new Error('degenerate quadrilateral: no perspective transform');
    for (let r = 0; r < 8; r++) {
      if (r === col) continue;
      const f = a[r]![col]! / p;
      if (f === 0) continue;
      for (let c = col; c < 9; c++) a[r]![c]! -= f * a[col]![c]!;
    }
  }
  const m = new Float64Array(9);
  for (let i = 0; i < 8; i++) m[i] = a[i]![8]! / a[i]![i]!;
  m[8] = 1;
  return m;
}

/** OpenCV's bicubic kernel (a = −0.75). */
function cubicWeights(t: number, w: Float64Array): void {
  const A = -0.75;
  const x0 = t + 1, x1 = t, x2 = 1 - t, x3 = 2 - t;
  w[0] = ((A * x0 - 5 * A) * x0 + 8 * A) * x0 - 4 * A;
  w[1] = ((A + 2) * x1 - (A + 3)) * x1 * x1 + 1;
  w[2] = ((A + 2) * x2 - (A + 3)) * x2 * x2 + 1;
  w[3] = 1 - w[0] - w[1] - w[2];
}

/**
 * cv2.warpPerspective(..., flags=INTER_CUBIC, borderMode=BORDER_REPLICATE)
 * given the inverse map: each output pixel (x, y) samples the source at
 * `dstToSrc · (x, y, 1)`, bicubic over a 4×4 neighbourhood with edge-clamped
 * indices (replicate border).
 */
export function warpPerspective(src: RgbImage, dstToSrc: Homography, outW: number, outH: number): RgbImage {
  const out = makeImage(outW, outH);
  const { data: s, width: sw, height: sh } = src;
  const d = out.data;
  const m = dstToSrc;
  const wx = new Float64Array(4);
  const wy = new Float64Array(4);
  const cols = new Int32Array(4);
  const rows = new Int32Array(4);
  let o = 0;
  for (let y = 0; y < outH; y++) {
    for (let x = 0; x < outW; x++) {
      const z = m[6]! * x + m[7]! * y + m[8]!;
      const fx = (m[0]! * x + m[1]! * y + m[2]!) / z;
      const fy = (m[3]! * x + m[4]! * y + m[5]!) / z;
      const ix = Math.floor(fx);
      const iy = Math.floor(fy);
      cubicWeights(fx - ix, wx);
      cubicWeights(fy - iy, wy);
      for (let k = 0; k < 4; k++) {
        cols[k] = Math.min(Math.max(ix - 1 + k, 0), sw - 1) * 3;
        rows[k] = Math.min(Math.max(iy - 1 + k, 0), sh - 1) * sw * 3;
      }
      for (let c = 0; c < 3; c++) {
        let acc = 0;
        for (let j = 0; j < 4; j++) {
          const r = rows[j]! + c;
          acc += wy[j]! * (wx[0]! * s[r + cols[0]!]! + wx[1]! * s[r + cols[1]!]! + wx[2]! * s[r + cols[2]!]! + wx[3]! * s[r + cols[3]!]!);
        }
        d[o++] = acc < 0 ? 0 : acc > 255 ? 255 : Math.round(acc);
      }
    }
  }
  return out;
}

/**
 * tools/infer/utility.py get_rotate_crop_image: rectify the quad to a
 * max(top, bottom) × max(left, right) image, then turn tall crops
 * (h / w ≥ 1.5, vertical text) 90° counter-clockwise like np.rot90.
 */
export function cropTextLine(img: RgbImage, box: Quad): RgbImage {
  const w = Math.max(1, Math.trunc(Math.max(distance(box[0], box[1]), distance(box[2], box[3]))));
  const h = Math.max(1, Math.trunc(Math.max(distance(box[0], box[3]), distance(box[1], box[2]))));
  const m = perspectiveTransform([[0, 0], [w, 0], [w, h], [0, h]], box);
  const crop = warpPerspective(img, m, w, h);
  return h / w >= 1.5 ? rotate90ccw(crop) : crop;
}
