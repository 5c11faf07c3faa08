import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import type { Test } from 'tap';
import { freePort, tempDir } from './daemon.js';
import { requireProgram } from './processes.js';

/** A private `redis-server` on a free loopback port, stopped by its PID in teardown. */
export interface RedisServer {
  readonly port: number;
  /** `redis://127.0.0.1:PORT`, without the password even when `requirepass` is set. */
  readonly url: string;
  readonly pid: number;
  /** The data folder (`--dir`); with `appendonly` the data survives `restart()`. */
  readonly dir: string;
  /** Stops it with SIGKILL (a crash), or SIGTERM when `graceful`. */
  stop(options?: { graceful?: boolean }): Promise<void>;
  /** Starts it again on the same port and folder. */
  restart(): Promise<void>;
  /** Runs one command with `redis-cli` (authenticated when `requirepass` is set) and returns its trimmed output. */
  cli(...args: string[]): string;
}

/** True (and the test skipped or failed, as `requireProgram` does) when redis-server is missing. */
export function requireRedis(t: Test): boolean {
  return requireProgram(t, 'redis-server', 'redis-server');
}

async function waitForPort(port: number, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`redis-server exited (${child.exitCode}): ${log()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port }, () => {
        s.end();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`redis-server did not listen on ${port}: ${log()}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * Starts `redis-server` for one test. `appendonly: true` keeps data across
 * `restart()` (fsync every write, so a SIGKILL loses nothing acknowledged);
 * `requirepass` makes every client AUTH with that password first.
 */
export async function startRedis(t: Test, options: { appendonly?: boolean; requirepass?: string } = {}): Promise<RedisServer> {
  const dir = await tempDir(t, 'mosaicd-redis-');
  const port = await freePort();
  const args = [
    '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--dir', dir,
    '--daemonize', 'no', '--protected-mode', 'yes', '--loglevel', 'warning',
    ...(options.appendonly ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no']),
    ...(options.requirepass !== undefined ? ['--requirepass', options.requirepass] : []),
  ];
  let child: ChildProcess;
  let log = '';
  const launch = async () => {
    log = '';
    child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (d: Buffer) => (log += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
    await waitForPort(port, child, () => log);
  };
  const stop = async ({ graceful = false } = {}) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill(graceful ? 'SIGTERM' : 'SIGKILL');
    await once(child, 'exit');
  };
  await launch();
  t.teardown(() => stop());
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    get pid() {
      return child.pid!;
    },
    dir,
    stop,
    restart: launch,
    cli: (...a: string[]) => {
      // REDISCLI_AUTH rather than -a: the password stays out of the process list.
      const env = options.requirepass !== undefined ? { ...process.env, REDISCLI_AUTH: options.requirepass } : process.env;
      return spawnSync('redis-cli', ['-p', String(port), ...a], { encoding: 'utf8', env }).stdout.trim();
    },
  };
}
