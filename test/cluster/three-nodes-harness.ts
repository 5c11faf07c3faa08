/**
 * Three (or N) real `mosaicd serve` child processes on one private
 * redis-server and one shared tiles folder, for the three-node suite.
 * Each node has its own request port, callback port and journal folder
 * (the journal is per node: two nodes must never share one SQLite file).
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import type { Test } from 'tap';
import { freePort, tempDir } from '../helpers/daemon.js';
import { BIN, spawnMosaicd } from '../helpers/processes.js';
import { requireRedis, startRedis, type RedisServer } from '../helpers/redis-server.js';
import { CompletionListener } from '../../src/client/completion-listener.js';
import { TileClient } from '../../src/client/tile-client.js';
import type { DaemonStats } from '../../src/daemon-stats.js';

/**
 * `--queue-stall-ms` for tests that kill a node. Not the default of every
 * test: on a loaded machine a live node's lock renewal can be late by more
 * than a short stall time, and its job then renders twice.
 */
export const KILL_TEST_STALL_MS = 2000;

export interface ClusterNode {
  readonly name: string;
  readonly port: number;
  readonly callbackPort: number;
  readonly child: ChildProcess & { output: () => string };
  readonly pid: number;
  readonly client: TileClient;
  stats(): Promise<DaemonStats>;
  /** Metatile renders this node's workers ran (`stats` cluster.renders). */
  renders(): Promise<number>;
  /** SIGKILL by PID, resolved once it exited. */
  kill(): Promise<void>;
}

export interface Cluster {
  readonly redis: RedisServer;
  readonly tilesDir: string;
  readonly nodes: ClusterNode[];
}

let queueFlag: boolean | undefined;

/**
 * True when this build has `--queue` (the cluster engine); else the test is
 * skipped with a reason, so the suite stays green on a main without it.
 */
export function requireCluster(t: Test): boolean {
  if (!requireRedis(t)) return false;
  queueFlag ??= /--queue\s/.test(spawnSync(process.execPath, [BIN, 'serve', '--help'], { encoding: 'utf8' }).stdout);
  if (!queueFlag) t.skip('this build has no --queue (the cluster engine, issue 12)', () => undefined);
  return queueFlag;
}

export interface ClusterOptions {
  nodes?: number;
  /** Render workers per node (2 cores shared by every node: 1 keeps the machine responsive). */
  concurrency?: number;
  /** `--queue-stall-ms`; the engine's default (QUEUE_STALL_MS) when absent. */
  stallMs?: number;
  /** Extra flags for every node. */
  args?: string[];
  /** Redis keeps its data across `restart()` (appendonly). */
  appendonly?: boolean;
  /** `--queue-workers` of the first nodes (0: accepts requests, renders nothing); --concurrency otherwise. */
  workers?: Array<number | undefined>;
  /** Ports of the first nodes (the seed's C# client needs callback = port + 1); free ports otherwise. */
  ports?: Array<{ port: number; callbackPort: number }>;
}

export async function startCluster(t: Test, options: ClusterOptions = {}): Promise<Cluster> {
  const redis = await startRedis(t, { appendonly: options.appendonly ?? false });
  const tilesDir = await tempDir(t, 'mosaicd-cluster-tiles-');
  const names = ['A', 'B', 'C', 'D', 'E'];
  const nodes: ClusterNode[] = [];
  for (let i = 0; i < (options.nodes ?? 3); i++) {
    nodes.push(await startNode(t, { name: names[i] ?? `N${i}`, redis, tilesDir, options, ports: options.ports?.[i], workers: options.workers?.[i] }));
  }
  await Promise.all(nodes.map((n) => waitForPing(n)));
  return { redis, tilesDir, nodes };
}

interface NodeSpec {
  name: string;
  redis: RedisServer;
  tilesDir: string;
  options: ClusterOptions;
  ports: { port: number; callbackPort: number } | undefined;
  workers: number | undefined;
}

async function startNode(t: Test, { name, redis, tilesDir, options, ports, workers }: NodeSpec): Promise<ClusterNode> {
  const port = ports?.port ?? (await freePort());
  const callbackPort = ports?.callbackPort ?? (await freePort());
  const stateDir = path.join(await tempDir(t, `mosaicd-node-${name}-`), 'state');
  const child = spawnMosaicd(t, [
    'serve', '--port', String(port), '--callback-port', String(callbackPort),
    '--tiles-dir', tilesDir, '--state-dir', stateDir,
    '--queue', redis.url, ...(options.stallMs !== undefined ? ['--queue-stall-ms', String(options.stallMs)] : []),
    '--no-inference', '--concurrency', String(options.concurrency ?? 1), '--log-level', 'warn',
    ...(workers !== undefined ? ['--queue-workers', String(workers)] : []),
    ...(options.args ?? []),
  ]);
  const client = new TileClient({ port });
  const stats = async () => (await client.stats()) as unknown as DaemonStats;
  return {
    name, port, callbackPort, child, pid: child.pid!, client, stats,
    renders: async () => (await stats()).cluster?.renders ?? Number.NaN,
    kill: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      process.kill(child.pid!, 'SIGKILL');
      await once(child, 'exit');
    },
  };
}

async function waitForPing(node: ClusterNode): Promise<void> {
  for (let i = 0; ; i++) {
    try {
      if (await node.client.ping()) return;
    } catch {
      if (node.child.exitCode !== null || i > 300) throw new Error(`node ${node.name} did not start: ${node.child.output()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** A completion listener on a node's callback port, closed in teardown. */
export async function listenTo(t: Test, node: ClusterNode): Promise<CompletionListener> {
  const listener = await CompletionListener.listen({ port: node.callbackPort });
  t.teardown(() => listener.close());
  return listener;
}

/** Every tile name (`Z_X_Y`) of z0..maxZoom, the world. */
export function pyramidNames(minZoom: number, maxZoom: number): string[] {
  const names: string[] = [];
  for (let z = minZoom; z <= maxZoom; z++) for (let y = 0; y < 2 ** z; y++) for (let x = 0; x < 2 ** z; x++) names.push(`${z}_${x}_${y}`);
  return names;
}

/** Distinct 8×8 metatiles among tile names (`Z_X_Y`). */
export function metatilesOf(names: readonly string[], size = 8): number {
  return new Set(names.map((n) => {
    const [z, x, y] = n.split('_').map(Number) as [number, number, number];
    return `${z}/${Math.floor(x / size)}/${Math.floor(y / size)}`;
  })).size;
}
