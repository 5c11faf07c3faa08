import type { OcrModelConfig } from './config.js';
import { resizeBilinear, rotate180, writeChw, type RgbImage } from './raster.js';
import type { TensorRunner } from './session.js';

type ClsConfig = OcrModelConfig['cls'];

export interface Oriented {
  image: RgbImage;
  angle: 0 | 180;
}

/**
 * The 0°/180° direction classifier, tools/infer/predict_cls.py
 * TextClassifier.__call__: crops sorted by aspect ratio, `batch` at a time;
 * each resized to height 48 and min(192, ceil(48 · w / h)) wide,
 * (x/255 − 0.5)/0.5, zero-padded to 192; a crop whose arg-max label is
 * '180' (label_list ['0', '180'], utility.py) with probability > cls_thresh
 * is rotated 180°.
 */
export async function classifyDirections(crops: RgbImage[], cls: ClsConfig, run: TensorRunner): Promise<Oriented[]> {
  const result: Oriented[] = crops.map((image) => ({ image, angle: 0 }));
  const order = crops.map((c, i) => ({ i, r: c.width / c.height })).sort((a, b) => a.r - b.r).map((x) => x.i);
  const { height: H, width: W } = cls;
  const norm = { scale: cls.scale, mean: cls.mean, std: cls.std, order: cls.channelOrder };
  for (let start = 0; start < order.length; start += cls.batch) {
    const idx = order.slice(start, start + cls.batch);
    const data = new Float32Array(idx.length * 3 * H * W);
    idx.forEach((ci, b) => {
      const crop = crops[ci]!;
      const w = Math.min(W, Math.ceil((H * crop.width) / crop.height));
      writeChw(resizeBilinear(crop, w, H), norm, data, b * 3 * H * W, W);
    });
    const out = await run(data, [idx.length, 3, H, W]);
    const classes = out.data.length / idx.length;
    if (classes !== 2) throw new Error(`the direction classifier returned ${classes} classes per crop, expected 2 ('0', '180')`);
    idx.forEach((ci, b) => {
      const p180 = out.data[b * 2 + 1]!;
      const p0 = out.data[b * 2]!;
      if (p180 > p0 && p180 > cls.thresh) result[ci] = { image: rotate180(crops[ci]!), angle: 180 };
    });
  }
  return result;
}
