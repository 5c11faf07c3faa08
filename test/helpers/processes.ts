import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Test } from 'tap';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const BIN = path.join(ROOT, 'bin', 'mosaicd.js');

/** True when a program is on PATH. */
export function have(program: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${program}`]).status === 0;
}

/**
 * Skips a test that needs an external program when it is missing on a
 * developer machine; in CI (which installs it) a missing program fails.
 */
export function requireProgram(t: Test, program: string, debianPackage: string): boolean {
  if (have(program)) return true;
  if (process.env.CI) {
    t.fail(`${program} is missing: .ci/run should have installed ${debianPackage}`);
  } else {
    t.skip(`${program} not installed (apt-get install ${debianPackage})`, () => undefined);
  }
  return false;
}

/** Runs bin/mosaicd.js as a real child process (the built dist/, as users run it). */
export function spawnMosaicd(t: Test, args: string[], options: { stdio?: 'pipe'; env?: NodeJS.ProcessEnv } = {}): ChildProcess & { output: () => string } {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...options.env } });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (c: string) => (out += c));
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (err += c));
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return Object.assign(child, { output: () => `stdout:\n${out}\nstderr:\n${err}` });
}

/** Resolves when `text` has appeared in a stream. */
export function waitForOutput(stream: NodeJS.ReadableStream, text: string | RegExp, timeoutMs = 60_000): Promise<string> {
  let seen = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${String(text)}; saw:\n${seen}`)), timeoutMs);
    const onData = (c: Buffer | string) => {
      seen += c.toString();
      if (typeof text === 'string' ? seen.includes(text) : text.test(seen)) {
        clearTimeout(timer);
        stream.off('data', onData);
        resolve(seen);
      }
    };
    stream.on('data', onData);
  });
}

export async function exitCodeOf(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return child.exitCode;
  const [code] = (await once(child, 'exit')) as [number | null];
  return code;
}
