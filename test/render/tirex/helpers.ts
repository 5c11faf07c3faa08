import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Test } from 'tap';
import { TirexRenderer } from '../../../src/render/tirex/tirex-renderer.js';
import { resolveTirexOptions, type TirexRendererOptions } from '../../../src/render/tirex/options.js';
import { ROOT } from '../../helpers/processes.js';

export const EXAMPLE_BACKEND = path.join(ROOT, 'examples', 'tirex-backend', 'simple_backend.py');
export const FAULT_BACKEND = path.join(ROOT, 'test', 'fixtures', 'tirex', 'fault_backend.py');

/** A private tiledir, removed in teardown. */
export function tempDir(t: Test, prefix = 'mosaicd-tirex-test-'): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A TirexRenderer closed (its processes stopped) in teardown. */
export function startRenderer(t: Test, options: TirexRendererOptions): TirexRenderer {
  const r = new TirexRenderer(resolveTirexOptions(options));
  t.teardown(async () => {
    for (const pid of r.pids()) if (pid !== undefined) try { process.kill(pid, 'SIGCONT'); } catch { /* gone */ }
    await r.close();
  });
  return r;
}

/** The example backend's colour of a tile (examples/tirex-backend/simple_backend.py tile_colour). */
export function tileColour(z: number, x: number, y: number): [number, number, number] {
  return [((x * 67 + z * 29) % 200) + 40, ((y * 89 + z * 53) % 200) + 40, (((x + y) * 41 + z * 97) % 200) + 40];
}

/** Polls until `f` returns a value (not a timing assertion: the test's own timeout bounds it). */
export async function until<T>(f: () => T | undefined | false, stepMs = 25): Promise<T> {
  for (;;) {
    const v = f();
    if (v !== undefined && v !== false) return v;
    await new Promise((r) => setTimeout(r, stepMs));
  }
}
