import { mkdirSync, renameSync, existsSync } from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import type Database from 'better-sqlite3';
import type { Logger } from '../log.js';
import { StorageError, messageOf } from '../errors.js';
import { PRIORITY_CLASSES, type PriorityClass } from '../scheduler/priority.js';

/**
 * The journal: accepted line-protocol tile requests and undelivered
 * completion notices, kept in SQLite (better-sqlite3) under --state-dir so
 * that a restart after a crash re-queues the one and delivers the other.
 *
 * Why SQLite and not an append-only file of our own: atomic multi-row
 * transactions (a tile record becomes its error notice's record in one commit), a
 * WAL whose torn tail is detected by checksums and ignored on open, and
 * deletes that don't need compaction code. All of that would otherwise be
 * hand-written and would need its own crash tests.
 *
 * Durability: WAL mode with `synchronous = NORMAL`. A commit has been
 * written to the WAL file (the OS page cache) before it returns, so a
 * process crash (kill -9, an abort, an OOM kill) loses nothing committed.
 * NORMAL does not fsync on each commit: a power loss or kernel crash can
 * lose the transactions committed since the last checkpoint (the database
 * stays consistent). `FULL` would add an fsync per event-loop turn.
 *
 * Writes are batched: every operation asked for during one event-loop turn
 * is committed in one transaction at setImmediate, and the promises of the
 * operations resolve only after that commit. Callers acknowledge nothing
 * before their promise resolves, which is the "written before acknowledged"
 * rule.
 */

/** A completion listener: where a notice goes. Part of every record. */
export interface ListenerAddress {
  readonly host: string;
  readonly port: number;
}

/**
 * A line-protocol tile request that was accepted and whose notice has not
 * been delivered yet. Its success notice (`Z_X_Y`) has no record of its
 * own: this record stands for it (a restart re-queues the tile, finds it on
 * disk and announces it), which saves a write and a swap per tile.
 */
export interface JournalledTile extends ListenerAddress {
  readonly id: number;
  /** Z_X_Y */
  readonly tile: string;
  readonly cls: PriorityClass;
  readonly force: boolean;
  readonly clientId: string;
}

/** A notice not yet delivered: one whole line, `\n` included. */
export interface JournalledNotice extends ListenerAddress {
  readonly id: number;
  readonly line: string;
}

/** What the notifier asks of a journal. */
export interface NoticeJournal {
  /** Records an accepted tile request; resolves with its id once committed, rejects with StorageError. */
  acceptTile(tile: Omit<JournalledTile, 'id'>): Promise<number>;
  /** Records a notice (and, in the same commit, drops the tile record it answers: an error notice); resolves with its id once committed. */
  addNotice(notice: Omit<JournalledNotice, 'id'>, answersTile: number | undefined): Promise<number>;
  /** Drops a delivered notice and/or a tile record that is owed nothing more. Best effort, batched. */
  release(noticeId: number | undefined, tileId: number | undefined): void;
}

export interface Recovered {
  tiles: JournalledTile[];
  notices: JournalledNotice[];
  /** Rows that did not parse and were deleted, as `table id: reason`. */
  skipped: string[];
}

export const JOURNAL_FILE = 'journal.sqlite';

/**
 * better-sqlite3 (a native addon) is loaded when the first journal is
 * opened, not on import: a daemon with --no-journal, a stdio child and the
 * client commands never load it.
 */
let sqlite: typeof Database | undefined;
function loadSqlite(): typeof Database {
  sqlite ??= createRequire(import.meta.url)('better-sqlite3') as typeof Database;
  return sqlite;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS tiles (id INTEGER PRIMARY KEY, host, port, tile, cls, force, client);
CREATE TABLE IF NOT EXISTS notices (id INTEGER PRIMARY KEY, host, port, line);
`;

type Op =
  | { kind: 'tile'; tile: Omit<JournalledTile, 'id'>; resolve: (id: number) => void; reject: (err: Error) => void }
  | { kind: 'notice'; notice: Omit<JournalledNotice, 'id'>; answersTile: number | undefined; resolve: (id: number) => void; reject: (err: Error) => void }
  | { kind: 'release'; noticeId: number | undefined; tileId: number | undefined };

interface Statements {
  insertTile: Database.Statement;
  insertNotice: Database.Statement;
  deleteTile: Database.Statement;
  deleteNotice: Database.Statement;
  /** One turn's operations in one transaction; made once, not per turn. */
  batch: Database.Transaction<(ops: readonly Op[], results: number[]) => void>;
}

export class SqliteJournal implements NoticeJournal {
  readonly file: string;
  readonly #log: Logger;
  #db: Database.Database | undefined;
  #st: Statements | undefined;
  /** Why the journal cannot be written, when it could not be opened. */
  #openError: Error | undefined;
  #ops: Op[] = [];
  #scheduled: NodeJS.Immediate | undefined;
  #closed = false;
  #failingSince: number | undefined;

  /**
   * Opens (or creates) `<dir>/journal.sqlite`. Never throws for storage
   * trouble: a folder that cannot be created or a file that cannot be
   * opened leaves a journal whose writes fail with StorageError (new tile
   * requests are refused with it) and the daemon still serves. A file that
   * is not a database is moved aside and replaced. A journal held by a
   * running daemon throws StorageError (two daemons must not share one).
   */
  constructor(dir: string, log: Logger) {
    this.file = path.join(dir, JOURNAL_FILE);
    this.#log = log.child({ journal: this.file });
    try {
      mkdirSync(dir, { recursive: true });
      this.#db = this.#open();
    } catch (err) {
      if (err instanceof StorageError) throw err;
      this.#openError = err as Error;
      this.#log.error({ err: messageOf(err) }, 'the journal cannot be opened: line-protocol tile requests will be refused with STORAGE_ERROR');
    }
  }

  #open(): Database.Database {
    try {
      return this.#openDb();
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code !== 'SQLITE_NOTADB' && code !== 'SQLITE_CORRUPT') throw err;
      // Not a database (or a damaged one): keep it for inspection and start afresh.
      const aside = `${this.file}.corrupt-${Date.now()}`;
      renameSync(this.file, aside);
      for (const suffix of ['-wal', '-shm']) if (existsSync(this.file + suffix)) renameSync(this.file + suffix, aside + suffix);
      this.#log.warn({ movedTo: aside, err: messageOf(err) }, 'the journal file is not a readable database: moved aside, its records are skipped');
      return this.#openDb();
    }
  }

  #openDb(): Database.Database {
    const Sqlite = loadSqlite();
    const db = new Sqlite(this.file, { timeout: 0 });
    try {
      // One daemon per journal: the exclusive lock is taken by the first write and held until close.
      db.pragma('locking_mode = EXCLUSIVE');
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.exec(SCHEMA);
      this.#st = {
        insertTile: db.prepare('INSERT INTO tiles (host, port, tile, cls, force, client) VALUES (?, ?, ?, ?, ?, ?)'),
        insertNotice: db.prepare('INSERT INTO notices (host, port, line) VALUES (?, ?, ?)'),
        deleteTile: db.prepare('DELETE FROM tiles WHERE id = ?'),
        deleteNotice: db.prepare('DELETE FROM notices WHERE id = ?'),
        batch: db.transaction((ops: readonly Op[], results: number[]) => {
          for (const op of ops) results.push(this.#run(op));
        }),
      };
      return db;
    } catch (err) {
      db.close();
      if ((err as { code?: string }).code === 'SQLITE_BUSY') {
        throw new StorageError(`the journal ${this.file} is in use by another mosaicd: give each daemon its own --state-dir`, { cause: err });
      }
      throw err;
    }
  }

  /** True when writes can be attempted (the file is open). */
  get open(): boolean {
    return this.#db !== undefined && !this.#closed;
  }

  /**
   * Reads what an earlier run left: notices in the order they were
   * enqueued, tile requests in the order they were accepted. Rows that do
   * not parse are deleted and listed in `skipped` (and logged), never fatal.
   */
  recover(): Recovered {
    try {
      return this.#recover();
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code !== 'SQLITE_CORRUPT' && code !== 'SQLITE_NOTADB') throw err;
      // Damaged beyond single rows: keep the file for inspection, start afresh, say so.
      this.#db?.close();
      const aside = `${this.file}.corrupt-${Date.now()}`;
      renameSync(this.file, aside);
      for (const suffix of ['-wal', '-shm']) if (existsSync(this.file + suffix)) renameSync(this.file + suffix, aside + suffix);
      this.#log.warn({ movedTo: aside, err: messageOf(err) }, 'the journal is damaged: moved aside, its records are skipped');
      this.#db = this.#openDb();
      return { tiles: [], notices: [], skipped: [`the whole journal (${code}), moved to ${aside}`] };
    }
  }

  #recover(): Recovered {
    const out: Recovered = { tiles: [], notices: [], skipped: [] };
    const db = this.#db;
    if (db === undefined) return out;
    const bad: Array<{ table: 'tiles' | 'notices'; id: unknown; why: string }> = [];
    for (const row of db.prepare('SELECT id, host, port, line FROM notices ORDER BY id').all() as Array<Record<string, unknown>>) {
      const why = badAddress(row) ?? badLine(row['line']);
      if (why) bad.push({ table: 'notices', id: row['id'], why });
      else out.notices.push({ id: row['id'] as number, host: row['host'] as string, port: row['port'] as number, line: row['line'] as string });
    }
    for (const row of db.prepare('SELECT id, host, port, tile, cls, force, client FROM tiles ORDER BY id').all() as Array<Record<string, unknown>>) {
      const why = badAddress(row) ?? badTile(row);
      if (why) bad.push({ table: 'tiles', id: row['id'], why });
      else {
        out.tiles.push({
          id: row['id'] as number,
          host: row['host'] as string,
          port: row['port'] as number,
          tile: row['tile'] as string,
          cls: row['cls'] as PriorityClass,
          force: row['force'] === 1,
          clientId: row['client'] as string,
        });
      }
    }
    for (const b of bad) {
      const what = `${b.table} ${String(b.id)}: ${b.why}`;
      out.skipped.push(what);
      this.#log.warn({ table: b.table, id: b.id, reason: b.why }, `skipped a journal record that does not parse (${what})`);
      try {
        db.prepare(`DELETE FROM ${b.table} WHERE id IS ?`).run(b.id);
      } catch (err) {
        this.#log.warn({ err: messageOf(err) }, 'could not delete a bad journal record; it will be skipped again next start');
      }
    }
    return out;
  }

  acceptTile(tile: Omit<JournalledTile, 'id'>): Promise<number> {
    return new Promise((resolve, reject) => this.#push({ kind: 'tile', tile, resolve, reject }));
  }

  addNotice(notice: Omit<JournalledNotice, 'id'>, answersTile: number | undefined): Promise<number> {
    return new Promise((resolve, reject) => this.#push({ kind: 'notice', notice, answersTile, resolve, reject }));
  }

  release(noticeId: number | undefined, tileId: number | undefined): void {
    if (noticeId === undefined && tileId === undefined) return;
    this.#push({ kind: 'release', noticeId, tileId });
  }

  /** Commits what is pending and closes the file. Records left in it are delivered by the next start. */
  close(): void {
    if (this.#closed) return;
    clearImmediate(this.#scheduled);
    this.#flush();
    this.#closed = true;
    try {
      this.#db?.close();
    } catch (err) {
      this.#log.warn({ err: messageOf(err) }, 'closing the journal failed');
    }
  }

  #push(op: Op): void {
    if (this.#closed || this.#db === undefined) {
      if (op.kind !== 'release') {
        op.reject(new StorageError(this.#closed ? 'the journal is closed' : `the journal ${this.file} cannot be opened: ${messageOf(this.#openError)}`));
      }
      return;
    }
    this.#ops.push(op);
    this.#scheduled ??= setImmediate(() => this.#flush());
  }

  /** One transaction for the whole batch; if it fails, each operation alone, so one that can succeed (a delete) does. */
  #flush(): void {
    this.#scheduled = undefined;
    const ops = this.#ops;
    if (ops.length === 0) return;
    this.#ops = [];
    const db = this.#db!;
    const results: number[] = [];
    try {
      this.#st!.batch(ops, results);
    } catch (batchErr) {
      let failed = 0;
      let firstErr: unknown;
      for (const op of ops) {
        try {
          const id = db.transaction(() => this.#run(op))();
          if (op.kind !== 'release') op.resolve(id);
        } catch (err) {
          failed++;
          firstErr ??= err;
          if (op.kind !== 'release') op.reject(storageError(this.file, err));
        }
      }
      if (failed > 0) {
        if (this.#failingSince === undefined) {
          this.#failingSince = Date.now();
          this.#log.error({ err: messageOf(firstErr ?? batchErr), failed }, 'the journal cannot be written: new tile requests are refused with STORAGE_ERROR until it can');
        }
        return;
      }
      this.#recovered();
      return;
    }
    this.#recovered();
    for (let i = 0; i < ops.length; i++) {
      const op = ops[i]!;
      if (op.kind !== 'release') op.resolve(results[i]!);
    }
  }

  #recovered(): void {
    if (this.#failingSince === undefined) return;
    this.#log.warn({ failingForMs: Date.now() - this.#failingSince }, 'the journal can be written again');
    this.#failingSince = undefined;
  }

  #run(op: Op): number {
    const st = this.#st!;
    switch (op.kind) {
      case 'tile': {
        const t = op.tile;
        return Number(st.insertTile.run(t.host, t.port, t.tile, t.cls, t.force ? 1 : 0, t.clientId).lastInsertRowid);
      }
      case 'notice': {
        const n = op.notice;
        const id = Number(st.insertNotice.run(n.host, n.port, n.line).lastInsertRowid);
        if (op.answersTile !== undefined) st.deleteTile.run(op.answersTile);
        return id;
      }
      case 'release':
        if (op.noticeId !== undefined) st.deleteNotice.run(op.noticeId);
        if (op.tileId !== undefined) st.deleteTile.run(op.tileId);
        return 0;
    }
  }
}

function storageError(file: string, err: unknown): StorageError {
  const code = (err as { code?: string }).code;
  const what = code === 'SQLITE_FULL' ? 'the state folder is full' : 'the state folder cannot be written';
  return new StorageError(`${what} (${code ?? messageOf(err)}, ${file}): the tile was not queued`, { cause: err });
}

// A line request's notice name: `Z_X_Y`, or `NAME/Z/X/Y` of a named map (docs/maps.md).
const TILE_NAME = /^(?:\d{1,2}_\d{1,10}_\d{1,10}|[A-Za-z][A-Za-z0-9_-]{0,31}\/\d{1,2}\/\d{1,10}\/\d{1,10})$/;
/** A stored notice longer than this is not one we wrote (ours are a tile name and a short reason). */
const MAX_NOTICE_BYTES = 64 * 1024;

function badAddress(row: Record<string, unknown>): string | undefined {
  const { id, host, port } = row;
  if (typeof id !== 'number') return `id ${JSON.stringify(id)} is not a number`;
  if (typeof host !== 'string' || host.length === 0 || host.length > 255) return `listener host ${JSON.stringify(host)} is not a host`;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) return `listener port ${JSON.stringify(port)} is not a port`;
  return undefined;
}

function badLine(line: unknown): string | undefined {
  if (typeof line !== 'string' || !line.endsWith('\n') || line.indexOf('\n') !== line.length - 1 || line.length > MAX_NOTICE_BYTES) {
    return `notice ${JSON.stringify(typeof line === 'string' ? line.slice(0, 80) : line)} is not one line`;
  }
  return undefined;
}

function badTile(row: Record<string, unknown>): string | undefined {
  const { tile, cls, force, client } = row;
  if (typeof tile !== 'string' || !TILE_NAME.test(tile)) return `tile ${JSON.stringify(typeof tile === 'string' ? tile.slice(0, 80) : tile)} is not Z_X_Y`;
  if (typeof cls !== 'string' || !(PRIORITY_CLASSES as readonly string[]).includes(cls)) return `class ${JSON.stringify(cls)} is unknown`;
  if (force !== 0 && force !== 1) return `force ${JSON.stringify(force)} is not 0 or 1`;
  if (typeof client !== 'string' || client.length === 0 || client.length > 1024) return `client ${JSON.stringify(client)} is not a client id`;
  return undefined;
}
