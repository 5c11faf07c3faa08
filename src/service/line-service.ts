import type { DaemonStats } from '../daemon-stats.js';
import type { Logger } from '../log.js';
import { ErrorCode, ShuttingDownError, UnauthorizedError, codeOf, messageOf } from '../errors.js';
import { DONE_NOTICE, formatErrorNotice, formatTileNotice, type LineCommand } from '../protocol/line-command.js';
import type { PriorityClass } from '../scheduler/priority.js';
import { noticeName } from '../protocol/tile-syntax.js';
import type { TileCoord } from '../tile/tile-coord.js';
import type { LineContext } from '../transport/line-session.js';
import type { CallbackNotifier } from '../notify/callback-notifier.js';
import { assertNever } from '../util/assert-never.js';
import type { NoticeTargets } from './notice-targets.js';
import { mayAdminister } from './peer.js';
import type { TileApi, TileRef } from './tile-api.js';

export interface LineServiceOptions {
  tiles: TileApi;
  notices: NoticeTargets;
  adminToken: string | undefined;
  log: Logger;
  /** Graceful stop (the `stop` line). */
  requestStop: () => void;
  /** The daemon's stats, answered as one JSON line. */
  stats: () => DaemonStats;
}

/** A line command's tile: the numbers and map, and the name exactly as received (for error notices). */
type LineTile = TileRef & { readonly raw: string };

/**
 * The line protocol (wire.md §3) on top of the tile API: each command from
 * one connection, answered on the requester's completion listener
 * (`Z_X_Y`, `error Z_X_Y reason`, `done`) or in-band on the connection.
 */
export class LineService {
  readonly #o: LineServiceOptions;
  /**
   * Line tile requests accepted and not yet notified, per listener. With the
   * notices already waiting they must stay within --max-pending-notices, so
   * that every accepted request's notice has room: a request past that is
   * refused up front instead of being rendered and its notice lost.
   */
  readonly #owedNotices = new Map<CallbackNotifier, number>();
  /** Accepted line tiles whose journal commit is pending (they reach the scheduler right after it). */
  readonly #accepting = new Set<Promise<void>>();

  constructor(options: LineServiceOptions) {
    this.#o = options;
  }

  /** One command from one connection. A returned promise holds back the connection's next lines. */
  handle = (command: LineCommand, ctx: LineContext): Promise<void> | undefined => {
    switch (command.type) {
      case 'tile':
        this.#lineTile(command, ctx, 'interactive', false);
        return undefined;
      case 'dirty':
        if (!mayAdminister(ctx.peer, command.token, this.#o.adminToken)) {
          this.#notify(ctx, formatErrorNotice(command.raw, refusal('dirty')));
          return undefined;
        }
        this.#lineTile(command, ctx, 'dirty', true);
        return undefined;
      case 'bulk':
        if (command.force && !mayAdminister(ctx.peer, command.token, this.#o.adminToken)) {
          ctx.reply(formatErrorNotice(command.raw, refusal('bulk ... force')));
          return undefined;
        }
        return this.#inBand(command, ctx, 'bulk', command.force);
      case 'expire':
        if (!mayAdminister(ctx.peer, command.token, this.#o.adminToken)) {
          ctx.reply(formatErrorNotice(command.raw, refusal('expire')));
          return undefined;
        }
        return this.#inBand(command, ctx, 'dirty', true);
      case 'cancel':
        try {
          this.#o.tiles.cancel(command, ctx.clientId);
        } catch (err) {
          this.#notify(ctx, formatErrorNotice(command.raw, messageOf(err)));
        }
        return undefined;
      case 'viewport':
        try {
          this.#o.tiles.setViewport(ctx.clientId, command);
        } catch (err) {
          this.#notify(ctx, formatErrorNotice('viewport', messageOf(err)));
        }
        return undefined;
      case 'stop':
        if (!mayAdminister(ctx.peer, command.token, this.#o.adminToken)) {
          this.#o.log.warn({ peer: ctx.peer }, 'stop refused');
          ctx.reply(formatErrorNotice('stop', refusal('stop')));
          return undefined;
        }
        this.#o.requestStop();
        return undefined;
      case 'ping':
        ctx.reply('pong\n');
        return undefined;
      case 'stats':
        ctx.reply(`${JSON.stringify(this.#o.stats())}\n`);
        return undefined;
      case 'invalid':
        this.#notify(ctx, formatErrorNotice(command.name, command.reason));
        return undefined;
      case 'barrier':
        return undefined; // answered by the session itself
      default:
        return assertNever(command, 'line command');
    }
  };

  /**
   * Resolves once the tiles accepted so far have reached the scheduler
   * (their journal commits take up to one event-loop turn), so that a
   * graceful stop finishes them too. Call after TileApi.beginStop().
   */
  settleAccepted(): Promise<void> {
    return Promise.all(this.#accepting).then(() => undefined);
  }

  /** Sends `done` to every listener that was told anything, or to the default one. */
  sendDone(): void {
    const targets = this.#o.notices.all();
    // `done` is owed whatever the backlog: it may go past --max-pending-notices.
    for (const n of targets.length > 0 ? targets : [this.#o.notices.default()]) n.enqueue(DONE_NOTICE, { overLimit: true });
  }

  #lineTile(ref: LineTile, ctx: LineContext, cls: PriorityClass, force: boolean): void {
    const tile = this.#admit(ref, (line) => this.#notify(ctx, line));
    if (tile === undefined) return;
    const name = noticeName(tile, ref.map);
    const success = formatTileNotice(name);
    const release = this.#reserveNotice(ctx, name);
    if (release === undefined) return;
    const done = ctx.track();
    const log = ctx.log.child({ tile: name, cls });
    log.debug('tile requested');
    // Journalled before it is queued (when a listener is known): a crash from here on re-queues it.
    const notifier = this.#o.notices.for(ctx.peer);
    const accepted = notifier ? notifier.accept({ tile: name, cls, force, clientId: ctx.clientId }) : Promise.resolve(undefined);
    const queued = accepted.then(
      () => undefined,
      () => undefined,
    );
    this.#accepting.add(queued);
    void queued.then(() => this.#accepting.delete(queued));
    accepted
      .then(
        (tileId) =>
          this.#settle(tile, name, cls, ctx.clientId, force, log).then((line) => {
            release();
            // Interrupted by a forced stop: the journal keeps the request for the next start.
            if (line === INTERRUPTED && tileId !== undefined) return undefined;
            if (line === CANCELLED) {
              notifier?.forget(tileId);
              return undefined;
            }
            if (line === INTERRUPTED) return this.#notify(ctx, formatErrorNotice(name, new ShuttingDownError().message), tileId);
            // The tile's own success notice needs no record of its own: the committed tile record stands for it.
            return line === success ? this.#notify(ctx, line, undefined, tileId) : this.#notify(ctx, line, tileId);
          }),
        (err: unknown) => {
          release();
          log.warn({ code: codeOf(err), err: messageOf(err) }, 'tile refused: the journal cannot be written');
          return this.#notify(ctx, formatErrorNotice(name, `${codeOf(err)} ${messageOf(err)}`));
        },
      )
      .finally(done);
  }

  /**
   * Re-queues a tile request an earlier run accepted and did not finish
   * (from the journal); its notice goes to the listener of its record,
   * under the name it was asked by (`Z_X_Y`, or `NAME/Z/X/Y` of a map).
   */
  resume(tile: TileCoord, name: string, cls: PriorityClass, clientId: string, force: boolean, notifier: CallbackNotifier, tileId: number): void {
    const log = this.#o.log.child({ tile: name, cls, resumed: true });
    void this.#settle(tile, name, cls, clientId, force, log).then((line) => {
      if (line === INTERRUPTED) return undefined;
      if (line === CANCELLED) return notifier.forget(tileId);
      // Accepted once already: its notice is owed whatever the backlog. A success notice is held by the tile's record.
      const held = line === formatTileNotice(name);
      return notifier.enqueue(line, { overLimit: true, answers: held ? undefined : tileId, heldBy: held ? tileId : undefined }).catch(() => undefined);
    });
  }

  /** Renders (or finds) a tile; resolves with the notice it is owed, or why none is. Never rejects. */
  #settle(tile: TileCoord, name: string, cls: PriorityClass, clientId: string, force: boolean, log: Logger): Promise<string | typeof CANCELLED | typeof INTERRUPTED> {
    return this.#o.tiles.queueAdmitted(tile, { cls, clientId, force }).then(
      (outcome) => {
        log.debug({ cached: outcome.cached, coalesced: outcome.coalesced }, 'tile ready');
        return formatTileNotice(name);
      },
      (err: unknown) => {
        log.debug({ code: codeOf(err), err: messageOf(err) }, 'tile failed');
        // A cancelled tile was withdrawn by its client: no notice is owed.
        if (codeOf(err) === ErrorCode.CANCELLED) return CANCELLED;
        if (codeOf(err) === ErrorCode.SHUTTING_DOWN) return INTERRUPTED;
        return formatErrorNotice(name, reasonOf(err));
      },
    );
  }

  /**
   * A seeding request (`bulk`, `expire`): answered on the connection, and
   * withdrawn if the connection goes away. When the class is full the
   * returned promise holds the connection's next lines until there is room.
   */
  #inBand(ref: LineTile, ctx: LineContext, cls: PriorityClass, force: boolean): Promise<void> | undefined {
    const tile = this.#admit(ref, (line) => ctx.reply(line));
    if (tile === undefined) return undefined;
    const name = noticeName(tile, ref.map);
    const tiles = this.#o.tiles;
    const submit = () => {
      const paid = ctx.owe();
      tiles
        .request(tile, { cls, clientId: `${ctx.clientId}#seed`, force, signal: ctx.signal })
        .then(
          () => ctx.reply(formatTileNotice(name)),
          (err: unknown) => ctx.reply(formatErrorNotice(name, reasonOf(err))),
        )
        .finally(paid);
    };
    if (!tiles.isFull(cls)) {
      submit();
      return undefined;
    }
    return tiles.waitForSpace(cls, ctx.signal).then(submit, () => undefined);
  }

  /**
   * The tile API's checks (coordinates, stopping) for a new line request;
   * undefined after answering the refusal: a bad tile or unknown map under
   * the name as received, a stopping daemon under the tile's notice name
   * (`Z_X_Y`, or `NAME/Z/X/Y`).
   */
  #admit(ref: LineTile, answer: (line: string) => void): TileCoord | undefined {
    try {
      return this.#o.tiles.admit(ref);
    } catch (err) {
      const code = codeOf(err);
      const name = code === ErrorCode.BAD_TILE || code === ErrorCode.UNKNOWN_MAP ? ref.raw : noticeName(ref, ref.map);
      answer(formatErrorNotice(name, messageOf(err)));
      return undefined;
    }
  }

  /**
   * Makes room for one notice to the peer's listener; returns the function
   * that gives it back (call it just before the notice is enqueued), or
   * undefined after answering `error NAME busy ...` in-band when the
   * listener already has --max-pending-notices waiting or owed.
   */
  #reserveNotice(ctx: LineContext, name: string): (() => void) | undefined {
    const notifier = this.#o.notices.for(ctx.peer);
    if (notifier === undefined) return () => undefined;
    const owed = this.#owedNotices.get(notifier) ?? 0;
    const pending = notifier.stats().pending;
    const max = this.#o.notices.maxPending;
    if (pending + owed >= max) {
      ctx.log.warn({ tile: name, pending, owed, maxPendingNotices: max }, 'tile refused: the completion listener has too many notices waiting');
      ctx.reply(
        formatErrorNotice(name, `busy: ${pending} completion notices are waiting for the listener and ${owed} more are owed (--max-pending-notices ${max}); the tile was not queued`),
      );
      return undefined;
    }
    this.#owedNotices.set(notifier, owed + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.#owedNotices.get(notifier) ?? 1) - 1;
      if (left > 0) this.#owedNotices.set(notifier, left);
      else this.#owedNotices.delete(notifier);
    };
  }

  /**
   * Delivers a notice to the peer's completion listener; in-band when no
   * listener may be derived. `answers`: the journalled tile it answers
   * (its record is swapped for the notice's); `heldBy`: the journalled tile
   * whose record stands for this notice (see CallbackNotifier.enqueue).
   * Resolves once the notice is journalled.
   */
  #notify(ctx: LineContext, line: string, answers?: number, heldBy?: number): Promise<void> {
    const notifier = this.#o.notices.for(ctx.peer);
    if (notifier === undefined) {
      ctx.reply(line);
      return Promise.resolve();
    }
    try {
      return notifier.enqueue(line, { answers, heldBy });
    } catch (err) {
      this.#o.log.error({ err: messageOf(err) }, 'notice refused');
      ctx.reply(formatErrorNotice(line.split(/\s/)[0] ?? '?', 'notice queue full'));
      return Promise.resolve();
    }
  }
}

/** The reason in `error Z_X_Y <reason>`: a full class is plain `busy` (wire.md §4). */
function reasonOf(err: unknown): string {
  return codeOf(err) === ErrorCode.BUSY ? 'busy' : messageOf(err);
}

/** The client withdrew the tile: no notice is owed. */
const CANCELLED = Symbol('cancelled');
/** A forced stop failed the queued tile: it is still owed (the journal re-queues it at the next start). */
const INTERRUPTED = Symbol('interrupted');

function refusal(command: string): string {
  return new UnauthorizedError(`${command} is accepted only from loopback or with the admin token`).message;
}
