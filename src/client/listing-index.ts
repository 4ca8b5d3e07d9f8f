// The client's listing index: the catalog as this client decrypted it, in a SQLite file beside its
// bundle (`<cluster dir>/listing.db`), ordered by path so that listing a prefix reads only the rows it
// prints. Nodes cannot filter by path (they never see one), so the index is kept up to date from a node's
// changes (`catalog.changes`: the entries that node stored after a cursor, in arrival order); each node's
// cursor is kept here, so a sync fetches only what changed since the last one.
//
// The file is a cache: one that is not a database, is damaged, or was made for another cluster or data
// key is never used but deleted and rebuilt from the nodes (the caller is told why, in one sentence).
import fs from "node:fs";
import path from "node:path";
import { bytesToHex, utf8ToBytes } from "@noble/hashes/utils.js";
import Database from "better-sqlite3";
import { compareHlc } from "../cluster/hlc.ts";
import type { CatalogEntry } from "../cluster/types.ts";
import { loadBulkBlake3 } from "../crypto/blake3.ts";
import { pathIdOf } from "../crypto/catalog-crypto.ts";
import type { DataKeys } from "../crypto/keys.ts";
import { DmfsError, type ErrorCode, isDmfsError } from "../errors.ts";
import { DEFAULT_TOMBSTONE_GRACE_MS } from "../node/anti-entropy.ts";
import type { ChangeCursor } from "../protocol/messages.ts";
import { checkEntry } from "./checked-entry.ts";
import type { NodeClient } from "./node-client.ts";
import { prefixUpperBound } from "./path-prefix.ts";

export const LISTING_INDEX_FILE = "listing.db";
/** The index's own format; a file of another format is rebuilt, never migrated (it is a cache). */
const INDEX_FORMAT = "1";
/** Rows per query while listing: memory stays at one page whatever the number of files. */
const LIST_PAGE_ROWS = 500;
/** More pages than any catalog needs (a billion entries): a node that never says "no more" is cut off. */
const MAX_SYNC_PAGES = 1_000_000;
/** Hashed with the path key into a value that tells the data key the index was made with; a NUL is in no path. */
const KEY_CHECK_INPUT = "\0dmfs listing index key check";

export interface ListedFile {
  path: string;
  key: string;
  size: number;
  mtime: number;
}

/** An entry the client could not use: its metadata does not open or does not match it. */
export interface UnreadableEntry {
  pathId: string;
  writer: string;
  code: ErrorCode;
  reason: string;
}

/** What one sync did: `pages` requested from `from`, `entries` received, whether it started over. */
export interface SyncReport {
  from: string;
  pages: number;
  entries: number;
  rebuilt: boolean;
}

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS about (name TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT, WITHOUT ROWID;
  -- One row per path id: a file (path set), a delete (path and problem null) or an entry that did not
  -- check out (problem set). The clock and writer decide, as on the nodes, which of two versions wins.
  CREATE TABLE IF NOT EXISTS entries (
    path_id      TEXT PRIMARY KEY,
    hlc_wall     INTEGER NOT NULL,
    hlc_logical  INTEGER NOT NULL,
    writer       TEXT NOT NULL,
    path         TEXT,
    file_key     TEXT,
    size         INTEGER,
    mtime        INTEGER,
    problem_code TEXT,
    problem      TEXT
  ) STRICT, WITHOUT ROWID;
  CREATE UNIQUE INDEX IF NOT EXISTS entries_by_path ON entries (path) WHERE path IS NOT NULL;
  CREATE INDEX IF NOT EXISTS entries_unreadable ON entries (path_id) WHERE problem_code IS NOT NULL;
  CREATE INDEX IF NOT EXISTS entries_deletes_by_age ON entries (hlc_wall) WHERE path IS NULL AND problem_code IS NULL;
  -- Where the last sync from each node ended.
  CREATE TABLE IF NOT EXISTS cursors (
    node_id TEXT PRIMARY KEY,
    wall    INTEGER NOT NULL,
    logical INTEGER NOT NULL,
    path_id TEXT NOT NULL
  ) STRICT, WITHOUT ROWID;
`;

type EntryRow = {
  path_id: string;
  hlc_wall: number;
  hlc_logical: number;
  writer: string;
  path: string | null;
  file_key: string | null;
  size: number | null;
  mtime: number | null;
  problem_code: string | null;
  problem: string | null;
};

type FileRow = { path: string; file_key: string; size: number; mtime: number };

export class ListingIndex {
  private readonly sql: ReturnType<typeof prepare>;

  private constructor(
    /** The index file, or ":memory:" when it could not be kept on disk. */
    readonly file: string,
    private readonly db: Database.Database,
    private readonly keys: DataKeys,
  ) {
    this.sql = prepare(db);
  }

  /**
   * Opens `<clusterDir>/listing.db` for this cluster and data key. `notice` is one sentence for the
   * user when the file was not used as it was: rebuilt (damaged, another cluster's or key's, another
   * format) or kept in memory for this run only (the directory is not writable).
   */
  static open(
    clusterDir: string,
    clusterId: string,
    keys: DataKeys,
  ): { index: ListingIndex; notice?: string } {
    const file = path.join(clusterDir, LISTING_INDEX_FILE);
    const expected = { format: INDEX_FORMAT, clusterId, keyCheck: pathIdOf(keys, KEY_CHECK_INPUT) };
    let db: Database.Database;
    try {
      db = openFile(file);
    } catch (err) {
      if (!isCorruption(err)) return ListingIndex.instead(file, expected, keys, err);
      removeIndexFiles(file);
      return ListingIndex.fresh(file, expected, keys, `${file} is not a valid database`);
    }
    let problem: string | undefined;
    try {
      problem = mismatch(db, expected);
    } catch (err) {
      if (!isCorruption(err)) {
        db.close();
        throw indexError(err, file);
      }
      problem = `${file} is damaged (${(err as { code: string }).code})`;
    }
    if (problem === undefined) return { index: new ListingIndex(file, db, keys) };
    if (problem === "") {
      initialise(db, expected);
      return { index: new ListingIndex(file, db, keys) };
    }
    db.close();
    removeIndexFiles(file);
    return ListingIndex.fresh(file, expected, keys, problem);
  }

  private static fresh(file: string, expected: About, keys: DataKeys, why: string) {
    let db: Database.Database;
    try {
      db = openFile(file);
    } catch (err) {
      return ListingIndex.instead(file, expected, keys, err);
    }
    initialise(db, expected);
    return {
      index: new ListingIndex(file, db, keys),
      notice: `the listing index ${why}; rebuilt it from the cluster`,
    };
  }

  /** An index held in memory only (gone when closed): every first sync fetches the whole catalog. */
  static inMemory(clusterId: string, keys: DataKeys): ListingIndex {
    const db = new Database(":memory:");
    initialise(db, { format: INDEX_FORMAT, clusterId, keyCheck: pathIdOf(keys, KEY_CHECK_INPUT) });
    return new ListingIndex(":memory:", db, keys);
  }

  private static instead(file: string, expected: About, keys: DataKeys, err: unknown) {
    const reason = err instanceof Error ? err.message : String(err);
    return {
      index: ListingIndex.inMemory(expected.clusterId, keys),
      notice: `cannot keep the listing index at ${file} (${reason}); listed from a full sync`,
    };
  }

  /**
   * Brings the index up to date with `gateway`'s catalog: fetches the entries that node stored since
   * this index's cursor for it (all of them the first time), checks and decrypts each, and keeps the
   * newer version of every path. A node that purged a tombstone this index has not seen makes it start
   * over from that node's first entry: a delete could be missing otherwise.
   */
  async sync(gateway: Pick<NodeClient, "nodeId" | "request">): Promise<SyncReport> {
    const from = gateway.nodeId;
    const corrupt = (what: string) =>
      new DmfsError("E_CORRUPT", `node ${from.slice(0, 8)} ${what}`, { subject: from });
    // Path ids are keyed BLAKE3: the bulk backend checks a big catalog's ids several times faster than noble.
    const blake3 = await loadBulkBlake3();
    const pathIdFor = (p: string) => bytesToHex(blake3.keyedHash(this.keys.path, utf8ToBytes(p)));
    const ask = (after: ChangeCursor | undefined) => {
      const reply = gateway.request(
        { t: "catalog.changes", ...(after ? { after } : {}) },
        "catalog.changes.page",
      );
      reply.catch(() => undefined); // awaited below; this only silences a rejection while a page is applied
      return reply;
    };
    let cursor = this.cursorFor(from);
    const report: SyncReport = { from, pages: 0, entries: 0, rebuilt: false };
    let pending = ask(cursor);
    for (;;) {
      if (report.pages === MAX_SYNC_PAGES) throw corrupt(`kept sending changes past ${MAX_SYNC_PAGES} pages`);
      const page = await pending;
      report.pages++;
      if (cursor && page.purgedThrough && compareHlc(page.purgedThrough, cursor) > 0 && !report.rebuilt) {
        this.write(() => {
          this.sql.clearEntries.run();
          this.sql.clearCursors.run();
        });
        cursor = undefined;
        report.rebuilt = true;
        pending = ask(cursor);
        continue;
      }
      const next = page.cursor;
      if (next && cursor && compareCursors(next, cursor) <= 0) {
        throw corrupt("sent changes from before the ones asked for");
      }
      if (page.more && !next) throw corrupt("announced more changes and sent none");
      // The node prepares the next page while this one is checked and stored: the two overlap.
      if (page.more) pending = ask(next);
      this.write(() => {
        for (const entry of page.entries) this.apply(entry, from, pathIdFor);
        if (next) this.sql.setCursor.run(from, next.wall, next.logical, next.pathId);
      });
      report.entries += page.entries.length;
      cursor = next ?? cursor;
      if (!page.more) {
        // Deletes are kept as long as the nodes keep their tombstones by default, so a stale node cannot
        // bring a path back meanwhile; after that the nodes forget them too. (A cluster configured with a
        // longer cluster.tombstoneGraceMs is not known here: its deletes leave the index after 7 days.)
        this.write(() => this.sql.purgeDeletes.run(Date.now() - DEFAULT_TOMBSTONE_GRACE_MS));
        return report;
      }
    }
  }

  /** Files whose path starts with `prefix`, in path order (UTF-8 bytes), read a page at a time. */
  *files(prefix = "", limit = Number.POSITIVE_INFINITY): Generator<ListedFile> {
    const high = prefixUpperBound(prefix);
    let listed = 0;
    let after: string | undefined;
    for (;;) {
      const want = Math.min(LIST_PAGE_ROWS, limit - listed);
      if (want <= 0) return;
      const rows = this.read(() =>
        after === undefined
          ? high === undefined
            ? this.sql.filesFrom.all(prefix, want)
            : this.sql.filesFromTo.all(prefix, high, want)
          : high === undefined
            ? this.sql.filesAfter.all(after, want)
            : this.sql.filesAfterTo.all(after, high, want),
      );
      for (const row of rows) yield { path: row.path, key: row.file_key, size: row.size, mtime: row.mtime };
      listed += rows.length;
      if (rows.length < want) return;
      after = rows.at(-1)?.path;
    }
  }

  /** Entries that did not check out, read a page at a time. */
  *unreadable(): Generator<UnreadableEntry> {
    let after = "";
    for (;;) {
      const from = after;
      const rows = this.read(() => this.sql.unreadableAfter.all(from, LIST_PAGE_ROWS));
      for (const row of rows) {
        yield {
          pathId: row.path_id,
          writer: row.writer,
          code: row.problem_code as ErrorCode,
          reason: row.problem as string,
        };
      }
      if (rows.length < LIST_PAGE_ROWS) return;
      after = rows.at(-1)?.path_id ?? after;
    }
  }

  /** How many files the index holds and how many entries did not check out, by problem. */
  counts(): { files: number; unreadable: Partial<Record<ErrorCode, number>> } {
    return this.read(() => {
      const unreadable: Partial<Record<ErrorCode, number>> = {};
      for (const { code, n } of this.sql.unreadableCounts.all()) unreadable[code as ErrorCode] = n;
      return { files: this.sql.fileCount.get()?.n ?? 0, unreadable };
    });
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  private cursorFor(nodeId: string): ChangeCursor | undefined {
    const row = this.read(() => this.sql.cursor.get(nodeId));
    return row && { wall: row.wall, logical: row.logical, pathId: row.path_id };
  }

  /** Stores `entry` unless the index holds a newer version of its path; inside the caller's transaction. */
  private apply(entry: CatalogEntry, servedBy: string, pathIdFor: (path: string) => string): void {
    const current = this.sql.version.get(entry.pathId);
    if (current && compareVersions(current, entry) >= 0) return;
    const row: EntryRow = {
      path_id: entry.pathId,
      hlc_wall: entry.hlc.wall,
      hlc_logical: entry.hlc.logical,
      writer: entry.writer,
      path: null,
      file_key: null,
      size: null,
      mtime: null,
      problem_code: null,
      problem: null,
    };
    if (!entry.deleted) {
      try {
        const meta = checkEntry(this.keys, entry, servedBy, pathIdFor);
        Object.assign(row, { path: meta.path, file_key: entry.fileKey, size: entry.size, mtime: meta.mtime });
      } catch (err) {
        if (!isDmfsError(err)) throw err;
        Object.assign(row, { problem_code: err.code, problem: err.message });
      }
    }
    this.sql.upsert.run(row);
  }

  private write(work: () => void): void {
    try {
      this.db.transaction(work).immediate();
    } catch (err) {
      throw indexError(err, this.file);
    }
  }

  private read<T>(work: () => T): T {
    try {
      return work();
    } catch (err) {
      throw indexError(err, this.file);
    }
  }
}

type About = { format: string; clusterId: string; keyCheck: string };

function openFile(file: string): Database.Database {
  // Created private: the index holds every path in the clear. SQLite gives its -wal and -shm the same mode.
  fs.closeSync(fs.openSync(file, "a", 0o600));
  const db = new Database(file, { timeout: 10_000 });
  try {
    db.pragma("journal_mode = WAL");
    // A cache: a commit lost to a power cut is fetched again by the next sync.
    db.pragma("synchronous = NORMAL");
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}

/** Why an opened file cannot serve as this index: undefined if it can, "" if it is empty (new). */
function mismatch(db: Database.Database, expected: About): string | undefined {
  const tables = db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table'").pluck().all() as string[];
  if (tables.length === 0) return "";
  if (!tables.includes("about")) return `${db.name} is not a DMFS listing index`;
  const found = Object.fromEntries(
    (db.prepare("SELECT name, value FROM about").all() as { name: string; value: string }[]).map((r) => [
      r.name,
      r.value,
    ]),
  );
  if (found.format !== expected.format) return `${db.name} has another format (${found.format ?? "none"})`;
  if (found.clusterId !== expected.clusterId) return `${db.name} belongs to another cluster`;
  if (found.keyCheck !== expected.keyCheck) return `${db.name} was made with another data key`;
  const check = db.pragma("quick_check", { simple: true });
  if (check !== "ok")
    return `${db.name} is damaged (${String(check).replace(/\s+/g, " ").trim().slice(0, 120)})`;
  return undefined;
}

/** Idempotent: two `ls` runs that both found no index may both get here. */
function initialise(db: Database.Database, about: About): void {
  db.transaction(() => {
    db.exec(SCHEMA);
    const insert = db.prepare("INSERT OR IGNORE INTO about (name, value) VALUES (?, ?)");
    for (const [name, value] of Object.entries(about)) insert.run(name, value);
  }).immediate();
}

function prepare(db: Database.Database) {
  const files = (where: string) =>
    `SELECT path, file_key, size, mtime FROM entries WHERE path IS NOT NULL AND ${where} ORDER BY path LIMIT ?`;
  return {
    version: db.prepare<[string], Pick<EntryRow, "hlc_wall" | "hlc_logical" | "writer">>(
      "SELECT hlc_wall, hlc_logical, writer FROM entries WHERE path_id = ?",
    ),
    upsert: db.prepare<[EntryRow]>(
      `INSERT OR REPLACE INTO entries (path_id, hlc_wall, hlc_logical, writer, path, file_key, size, mtime,
       problem_code, problem) VALUES (:path_id, :hlc_wall, :hlc_logical, :writer, :path, :file_key, :size,
       :mtime, :problem_code, :problem)`,
    ),
    cursor: db.prepare<[string], { wall: number; logical: number; path_id: string }>(
      "SELECT wall, logical, path_id FROM cursors WHERE node_id = ?",
    ),
    setCursor: db.prepare<[string, number, number, string]>(
      "INSERT OR REPLACE INTO cursors (node_id, wall, logical, path_id) VALUES (?, ?, ?, ?)",
    ),
    clearEntries: db.prepare("DELETE FROM entries"),
    purgeDeletes: db.prepare<[number]>(
      "DELETE FROM entries WHERE path IS NULL AND problem_code IS NULL AND hlc_wall < ?",
    ),
    clearCursors: db.prepare("DELETE FROM cursors"),
    filesFrom: db.prepare<[string, number], FileRow>(files("path >= ?")),
    filesFromTo: db.prepare<[string, string, number], FileRow>(files("path >= ? AND path < ?")),
    filesAfter: db.prepare<[string, number], FileRow>(files("path > ?")),
    filesAfterTo: db.prepare<[string, string, number], FileRow>(files("path > ? AND path < ?")),
    unreadableAfter: db.prepare<[string, number], EntryRow>(
      `SELECT * FROM entries WHERE problem_code IS NOT NULL AND path_id > ? ORDER BY path_id LIMIT ?`,
    ),
    unreadableCounts: db.prepare<[], { code: string; n: number }>(
      "SELECT problem_code AS code, count(*) AS n FROM entries WHERE problem_code IS NOT NULL GROUP BY problem_code",
    ),
    fileCount: db.prepare<[], { n: number }>("SELECT count(*) AS n FROM entries WHERE path IS NOT NULL"),
  };
}

/** Last writer wins, as on the nodes: by clock stamp, then by writer. */
function compareVersions(
  row: Pick<EntryRow, "hlc_wall" | "hlc_logical" | "writer">,
  entry: CatalogEntry,
): number {
  const byClock = compareHlc({ wall: row.hlc_wall, logical: row.hlc_logical }, entry.hlc);
  if (byClock !== 0) return byClock;
  return row.writer < entry.writer ? -1 : row.writer > entry.writer ? 1 : 0;
}

function compareCursors(a: ChangeCursor, b: ChangeCursor): number {
  const byClock = compareHlc(a, b);
  if (byClock !== 0) return byClock;
  return a.pathId < b.pathId ? -1 : a.pathId > b.pathId ? 1 : 0;
}

function isCorruption(err: unknown): boolean {
  return err instanceof Database.SqliteError && /^SQLITE_(NOTADB|CORRUPT)/.test(err.code);
}

function removeIndexFiles(file: string): void {
  for (const suffix of ["", "-wal", "-shm"]) fs.rmSync(file + suffix, { force: true });
}

function indexError(err: unknown, file: string): DmfsError {
  if (isDmfsError(err)) return err;
  const reason = err instanceof Error ? err.message : String(err);
  return new DmfsError("E_IO", `cannot use the listing index ${file}: ${reason}`, {
    subject: file,
    cause: err,
  });
}
