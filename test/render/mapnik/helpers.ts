import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import type { Test } from 'tap';
import { writeTestStyle, type TestStyle, type TestStyleOptions } from '../../fixtures/map-style/make-style.js';

/** The test style written into a fresh temp dir, removed at teardown. */
export async function tempStyle(t: Test, options: TestStyleOptions = {}): Promise<TestStyle> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mosaicd-mapnik-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return writeTestStyle(dir, options);
}

export async function decode(png: Uint8Array): Promise<{ width: number; height: number; data: Buffer }> {
  const { data, info } = await sharp(png).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, data };
}

/** Largest per-channel difference and the number of differing pixels of two same-size RGBA images. */
export function difference(a: Buffer, b: Buffer): { worst: number; pixels: number } {
  let worst = 0, pixels = 0;
  for (let i = 0; i < a.length; i += 4) {
    let d = 0;
    for (let c = 0; c < 4; c++) d = Math.max(d, Math.abs(a[i + c]! - b[i + c]!));
    if (d > 0) pixels++;
    worst = Math.max(worst, d);
  }
  return { worst, pixels };
}
