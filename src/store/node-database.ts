// The node's own SQLite database, <root>/node.db: the catalog, which manifests are live, the
// remembered members and the acknowledgements this node sent. Opening migrates the schema by
// `user_version`; every commit is fsynced before it returns, because an upload's acknowledgement
// promises the catalog entry is on disk.
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { DmfsError, type ErrorCode, ErrorCodes } from "../errors.ts";
import { storeError } from "./store-errors.ts";

export const DATABASE_FILE = "node.db";

/** Schema steps in order; step i brings `user_version` from i to i + 1. Never edit a released step. */
const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE catalog (
    path_id     TEXT PRIMARY KEY,
    hlc_wall    INTEGER NOT NULL,
    hlc_logical INTEGER NOT NULL,
    writer      TEXT NOT NULL,
    deleted     INTEGER NOT NULL CHECK (deleted IN (0, 1)),
    file_key    TEXT,
    manifest_id TEXT,
    size        INTEGER NOT NULL,
    meta        BLOB
  ) STRICT, WITHOUT ROWID;
  CREATE INDEX catalog_live_by_file_key ON catalog (file_key, hlc_wall, hlc_logical, writer) WHERE deleted = 0;
  CREATE INDEX catalog_live_by_manifest ON catalog (manifest_id) WHERE deleted = 0;
  CREATE INDEX catalog_tombstones_by_age ON catalog (hlc_wall) WHERE deleted = 1;

  -- Manifests no live entry references any more, and since when: candidates for garbage collection.
  CREATE TABLE released_manifests (
    manifest_id TEXT PRIMARY KEY,
    released_at INTEGER NOT NULL
  ) STRICT, WITHOUT ROWID;

  CREATE TABLE members (
    node_id   TEXT PRIMARY KEY,
    addr      TEXT NOT NULL,
    last_seen INTEGER NOT NULL
  ) STRICT, WITHOUT ROWID;
  `,
  // 2: when each entry was stored here (this node's arrival clock), so clients can ask for the entries
  // changed since a point; and the latest such stamp of a tombstone purged, so a client whose cursor is
  // older knows it may have missed a delete. Rows from before get their own stamp as arrival stamp.
  `
  ALTER TABLE catalog ADD COLUMN changed_wall INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE catalog ADD COLUMN changed_logical INTEGER NOT NULL DEFAULT 0;
  UPDATE catalog SET changed_wall = hlc_wall, changed_logical = hlc_logical;
  CREATE INDEX catalog_by_change ON catalog (changed_wall, changed_logical, path_id);

  CREATE TABLE catalog_purged (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    wall    INTEGER NOT NULL,
    logical INTEGER NOT NULL
  ) STRICT;
  `,
  // 3: what this node acknowledged to each peer after a complete anti-entropy pull (the peer's arrival
  // stamp) and when, so a node that returns can tell whether a peer purged tombstones it never received.
  `
  CREATE TABLE acks_sent (
    peer_id TEXT PRIMARY KEY,
    wall    INTEGER NOT NULL,
    logical INTEGER NOT NULL,
    sent_at INTEGER NOT NULL
  ) STRICT, WITHOUT ROWID;
  `,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

export class NodeDatabase {
  private constructor(
    /** The database file, named in every error. */
    readonly path: string,
    /** The better-sqlite3 handle; the tables' own modules (catalog, members) use it. */
    readonly sqlite: Database.Database,
  ) {}

  /** Opens (creating if needed) and migrates `<root>/node.db`. A file that is not SQLite is left untouched. */
  static open(root: string): NodeDatabase {
    const file = path.join(root, DATABASE_FILE);
    let created = false;
    try {
      fs.mkdirSync(root, { recursive: true });
      if (fs.existsSync(file)) fs.accessSync(file, fs.constants.R_OK | fs.constants.W_OK);
      else created = true;
    } catch (err) {
      throw storeError(err, "open database", file);
    }
    let sqlite: Database.Database | undefined;
    try {
      sqlite = new Database(file);
      configure(sqlite, file);
      migrate(sqlite, file);
      if (created) fsyncDirectory(root);
      return new NodeDatabase(file, sqlite);
    } catch (err) {
      sqlite?.close();
      throw databaseError(err, "open database", file);
    }
  }

  get isOpen(): boolean {
    return this.sqlite.open;
  }

  /** Runs `work` as one IMMEDIATE transaction: all of it is committed and fsynced, or none of it. */
  write<T>(work: () => T): T {
    try {
      return this.sqlite.transaction(work).immediate();
    } catch (err) {
      throw databaseError(err, "write database", this.path);
    }
  }

  /** Runs `work`, turning SQLite failures into DmfsErrors that name the database file. */
  read<T>(work: () => T): T {
    try {
      return work();
    } catch (err) {
      throw databaseError(err, "read database", this.path);
    }
  }

  /** Closes the handle; SQLite checkpoints the write-ahead log into node.db. Safe to call twice. */
  close(): void {
    if (!this.sqlite.open) return;
    this.sqlite.pragma("optimize");
    this.sqlite.close();
  }
}

function configure(sqlite: Database.Database, file: string): void {
  // The first statement reads the header, so a file that is not a database fails here, unmodified.
  const mode = sqlite.pragma("journal_mode = WAL", { simple: true });
  if (mode !== "wal") {
    throw new DmfsError("E_IO", `cannot open database ${file}: write-ahead logging is unavailable there`, {
      subject: file,
    });
  }
  sqlite.pragma("synchronous = FULL");
  sqlite.pragma("foreign_keys = ON");
}

function migrate(sqlite: Database.Database, file: string): void {
  const version = Number(sqlite.pragma("user_version", { simple: true }));
  if (version > SCHEMA_VERSION) {
    throw new DmfsError(
      "E_IO",
      `cannot open database ${file}: its schema version ${version} is newer than this DMFS supports (${SCHEMA_VERSION})`,
      { subject: file },
    );
  }
  MIGRATIONS.slice(version).forEach((step, offset) => {
    sqlite
      .transaction(() => {
        sqlite.exec(step);
        sqlite.pragma(`user_version = ${version + offset + 1}`);
      })
      .immediate();
  });
}

/** Makes the new database file's directory entry durable, as a rename-based write would. */
function fsyncDirectory(dir: string): void {
  const fd = fs.openSync(dir, "r");
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

const CODE_BY_SQLITE_RESULT: Readonly<Record<string, ErrorCode>> = {
  SQLITE_FULL: "E_NO_SPACE",
  SQLITE_READONLY: "E_READ_ONLY",
  SQLITE_PERM: "E_PERMISSION",
  SQLITE_AUTH: "E_PERMISSION",
};

function databaseError(err: unknown, operation: string, file: string): DmfsError {
  if (!(err instanceof Database.SqliteError)) return storeError(err, operation, file);
  // Extended result codes (SQLITE_READONLY_DBMOVED, SQLITE_IOERR_WRITE...) share their primary prefix.
  const primary = err.code.split("_").slice(0, 2).join("_");
  if (primary === "SQLITE_NOTADB" || primary === "SQLITE_CORRUPT") {
    return new DmfsError(
      "E_IO",
      `cannot ${operation} ${file}: it is not a valid SQLite database (${err.code})`,
      {
        subject: file,
        cause: err,
      },
    );
  }
  const code = CODE_BY_SQLITE_RESULT[primary] ?? "E_IO";
  return new DmfsError(code, `cannot ${operation} ${file}: ${ErrorCodes[code]} (${err.code})`, {
    subject: file,
    cause: err,
  });
}
