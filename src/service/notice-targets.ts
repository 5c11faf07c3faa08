import { CallbackNotifier } from '../notify/callback-notifier.js';
import type { JournalledNotice, NoticeJournal } from '../notify/journal.js';
import type { Logger } from '../log.js';
import { isLoopback } from './peer.js';

export interface NoticeTargetOptions {
  /** Configured listener host; undefined = the requesting peer, when it is loopback. */
  host: string | undefined;
  port: number;
  mode: 'short' | 'persistent';
  maxPending: number;
  log: Logger;
  /** Backoff start, ms (tests shorten it). */
  retryBaseMs?: number;
  /** Keeps notices and accepted tile requests across a crash (--state-dir); none = memory only. */
  journal?: NoticeJournal | undefined;
}

/**
 * One CallbackNotifier per completion listener. The listener's host is the
 * configured one, or else the address of the peer that asked, but only when
 * that peer is on loopback: a remote peer cannot make the daemon connect to
 * an arbitrary host.
 */
export class NoticeTargets {
  readonly #options: NoticeTargetOptions;
  /** By `host port`: a journal from an earlier run may name another port than today's. */
  readonly #byHost = new Map<string, CallbackNotifier>();

  constructor(options: NoticeTargetOptions) {
    this.#options = options;
  }

  /** Notices kept per listener (--max-pending-notices). */
  get maxPending(): number {
    return this.#options.maxPending;
  }

  /** The notifier for a peer, or undefined when no listener host may be derived for it. */
  for(peer: string | undefined): CallbackNotifier | undefined {
    const host = this.#options.host ?? (isLoopback(peer) ? stripMapped(peer!) : undefined);
    if (host === undefined) return undefined;
    return this.at(host, this.#options.port);
  }

  /** The notifier for a listener address (one a journal record names). */
  at(host: string, port: number): CallbackNotifier {
    const key = `${host} ${port}`;
    let notifier = this.#byHost.get(key);
    if (!notifier) {
      const { mode, maxPending, retryBaseMs, journal } = this.#options;
      notifier = new CallbackNotifier({ host, port, mode, maxPending, journal, ...(retryBaseMs ? { retryBaseMs } : {}) });
      this.#byHost.set(key, notifier);
      this.#options.log.debug({ host, port, mode }, 'completion listener target');
    }
    return notifier;
  }

  /** Queues the notices an earlier run left in the journal, each to the listener its record names. */
  restore(notices: readonly JournalledNotice[]): void {
    const byAddress = new Map<CallbackNotifier, JournalledNotice[]>();
    for (const r of notices) {
      const n = this.at(r.host, r.port);
      const list = byAddress.get(n) ?? [];
      list.push(r);
      byAddress.set(n, list);
    }
    for (const [n, list] of byAddress) n.restore(list);
  }

  /** The configured (or default loopback) listener, used for `done` when nobody else was told anything. */
  default(): CallbackNotifier {
    return this.for(this.#options.host ?? '127.0.0.1')!;
  }

  all(): CallbackNotifier[] {
    return [...this.#byHost.values()];
  }

  stats(): { pending: number; sent: number; retried: number; failedAttempts: number } {
    const total = { pending: 0, sent: 0, retried: 0, failedAttempts: 0 };
    for (const n of this.#byHost.values()) {
      const s = n.stats();
      total.pending += s.pending;
      total.sent += s.sent;
      total.retried += s.retried;
      total.failedAttempts += s.failedAttempts;
    }
    return total;
  }

  async close(): Promise<number> {
    let undelivered = 0;
    for (const n of this.#byHost.values()) undelivered += (await n.close()).undelivered;
    return undelivered;
  }
}

function stripMapped(address: string): string {
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}
