import type { InferenceLane } from './scheduler/inference-lane.js';
import type { TileSchedulerStats } from './scheduler/tile-scheduler.js';
import type { ClusterQueueStats } from './cluster/cluster-scheduler.js';
import type { RenderPool } from './render/render-pool.js';
import type { NoticeTargets } from './service/notice-targets.js';
import type { TirexRendererStats } from './render/tirex/tirex-renderer.js';

/**
 * What Daemon.stats() returns: the `stats` command's JSON (line and framed)
 * and the source of the /metrics gauges. Field names are wire names (clients
 * read them), so /metrics reads them through this type: a rename is a
 * compile error there, not a metric silently stuck at 0.
 */
export interface DaemonStats {
  /** Whole seconds since the daemon started. */
  uptime_s: number;
  /** Open connections on the request port. */
  connections: number;
  tiles: TileSchedulerStats;
  render: ReturnType<RenderPool['stats']>;
  /** Totals over every completion listener. */
  notices: ReturnType<NoticeTargets['stats']>;
  /** null in a daemon without inference. */
  inference: DaemonInferenceStats | null;
  /** With --queue: the shared queue's depth per class (cluster-wide) and this node's renders. */
  cluster?: ClusterQueueStats;
  /** Only with `renderer: "tirex"` maps: each one's backend processes and metatiles, by map name (docs/tirex.md). */
  tirex?: Record<string, TirexRendererStats>;
}

export type DaemonInferenceStats = ReturnType<InferenceLane['stats']> & {
  /** Per model (InferenceEngine.stats()). */
  models: Record<string, unknown>;
};
