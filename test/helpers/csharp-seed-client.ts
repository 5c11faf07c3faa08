/**
 * The seed's C# test program (test/fixtures/csharp/SeedClient.cs, from the
 * end of seeds/001): compiled with mcs, run with mono. It listens on
 * port + 1, sends its lines to port and prints every notice it hears as
 * `受信: ...`; it never exits by itself, so the caller ends it.
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { once } from 'node:events';
import path from 'node:path';
import type { Test } from 'tap';
import { tempDir } from './daemon.js';
import { ROOT, requireProgram, waitForOutput } from './processes.js';

export const SEED_CLIENT_SOURCE = path.join(ROOT, 'test/fixtures/csharp/SeedClient.cs');
/** What the unchanged program sends. */
export const SEED_CLIENT_LINES = ['16_58001_25480', '16_58001_25481', 'stop'];

/** True when mcs and mono are there (else the test is skipped, or failed in CI). */
export function requireMono(t: Test): boolean {
  return requireProgram(t, 'mcs', 'mono-mcs') && requireProgram(t, 'mono', 'mono-runtime');
}

/** A port P with P + 1 free too (the client listens on port + 1). */
export async function freePortPair(): Promise<number> {
  for (let i = 0; i < 20; i++) {
    const a = net.createServer().listen({ host: '127.0.0.1', port: 0 });
    await once(a, 'listening');
    const port = (a.address() as net.AddressInfo).port;
    const b = net.createServer().listen({ host: '127.0.0.1', port: port + 1 });
    // Not events.once: its 'listening' promise rejects on 'error', which is the answer wanted here.
    const ok = await new Promise<boolean>((resolve) => {
      b.once('listening', () => resolve(true));
      b.once('error', () => resolve(false));
    });
    await Promise.all([new Promise((r) => a.close(r)), ok ? new Promise((r) => b.close(r)) : Promise.resolve()]);
    if (ok && port < 65534) return port;
  }
  throw new Error('no free port pair');
}

export interface SeedClientOptions {
  /** The port it sends to (it listens on port + 1); the program's own 12345 when absent. */
  port?: number;
  /** Lines to send instead of SEED_CLIENT_LINES (each ends with `\n`); only the string literal changes. */
  lines?: readonly string[];
}

/**
 * Compiles the seed client, changed only where asked (its port, the string it
 * sends), and returns the path of the .exe. Fails the test if mcs does.
 */
export async function compileSeedClient(t: Test, options: SeedClientOptions = {}): Promise<string> {
  const dir = await tempDir(t, 'mosaicd-csharp-');
  let source = await readFile(SEED_CLIENT_SOURCE, 'utf8');
  if (options.port !== undefined) source = replaceOnce(source, 'static int port = 12345;', `static int port = ${options.port};`);
  if (options.lines !== undefined) {
    const literal = options.lines.map((l) => `${l}\\n`).join('');
    source = replaceOnce(source, `string sendStr = "${SEED_CLIENT_LINES.map((l) => `${l}\\n`).join('')}";`, `string sendStr = "${literal}";`);
  }
  const cs = path.join(dir, 'SeedClient.cs');
  await writeFile(cs, source);
  const exe = path.join(dir, 'SeedClient.exe');
  const build = spawnSync('mcs', ['-out:' + exe, cs], { encoding: 'utf8' });
  t.equal(build.status, 0, `mcs compiles the seed client\n${build.stdout}${build.stderr}`);
  return exe;
}

function replaceOnce(source: string, from: string, to: string): string {
  if (!source.includes(from)) throw new Error(`SeedClient.cs no longer contains ${JSON.stringify(from)}`);
  return source.replace(from, to);
}

export interface RunningSeedClient {
  readonly pid: number;
  /** Resolves with everything printed once `受信: done` was printed. */
  untilDone(timeoutMs?: number): Promise<string>;
  kill(): void;
}

/** Starts the compiled client under mono; it is killed (by its PID) in teardown. */
export function runSeedClient(t: Test, exe: string): RunningSeedClient {
  const child = spawn('mono', [exe], { env: { ...process.env, LANG: 'C.UTF-8' }, stdio: ['ignore', 'pipe', 'pipe'] });
  const kill = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  t.teardown(kill);
  return {
    pid: child.pid!,
    untilDone: (timeoutMs = 120_000) => waitForOutput(child.stdout!, '受信: done', timeoutMs),
    kill,
  };
}

/** The names the client printed as `受信: NAME` (one connection may carry several lines). */
export function noticesPrinted(printed: string): string[] {
  return [...printed.matchAll(/受信: ([^\r\n]*)/g)].map((m) => m[1]!).filter((n) => n !== '');
}
