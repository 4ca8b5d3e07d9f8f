// The catalog table: every path's winning entry under last-writer-wins, the 256 anti-entropy bucket
// digests (cached, recomputed only for buckets that changed), which manifests are live for GC, and when
// each entry was stored here (this node's arrival clock), which clients list changes by.
import type Database from "better-sqlite3";
import { BUCKET_COUNT, bucketOf, type DigestFields, digestSortedBucket } from "../cluster/digest.ts";
import { compareHlc, HybridClock, MAX_LOGICAL } from "../cluster/hlc.ts";
import { compareEntries } from "../cluster/lww.ts";
import type { CatalogEntry, Hlc } from "../cluster/types.ts";
import { DmfsError } from "../errors.ts";
import type { NodeDatabase } from "./node-database.ts";

/** Entries per reply of `entriesInBuckets` by default: small enough for one frame. */
export const DEFAULT_PAGE_LIMIT = 500;

/** A page of entries; `cursor` is present when more entries follow - pass it back to continue. */
export type CatalogPage = { entries: CatalogEntry[]; cursor?: string };

/** Entries per page of `changesSince` by default, and the bytes a page stays under (one frame holds it). */
export const DEFAULT_CHANGES_LIMIT = 1000;
export const CHANGES_PAGE_BYTES = 768 * 1024;

/** A place in this node's order of changes: the arrival stamp of an entry and its path id. */
export type ChangeCursor = { wall: number; logical: number; pathId: string };

/**
 * Entries stored here after a cursor, in arrival order. `cursor` is the last entry's place (absent
 * when there is none); `more` says whether entries follow it; `purgedThrough` is the latest arrival
 * stamp of a tombstone purged here (null if none was): a client whose cursor is older may have missed
 * that delete.
 */
export type ChangesPage = {
  entries: CatalogEntry[];
  cursor?: ChangeCursor;
  more: boolean;
  purgedThrough: Hlc | null;
};

export type CatalogCounts = { files: number; tombstones: number };

type Replacement = { previous: CatalogEntry | undefined; next: CatalogEntry };

type CatalogRow = {
  path_id: string;
  changed_wall: number;
  changed_logical: number;
  hlc_wall: number;
  hlc_logical: number;
  writer: string;
  deleted: 0 | 1;
  file_key: string | null;
  manifest_id: string | null;
  size: number;
  meta: Uint8Array | null;
};

const COLUMNS =
  "path_id, changed_wall, changed_logical, hlc_wall, hlc_logical, writer, deleted, file_key, manifest_id, size, meta";
/** Bytes of an entry on the wire besides its meta: ids, clock, field names (an upper bound). */
const ENTRY_WIRE_BYTES = 400;
const HEX_64 = /^[0-9a-f]{64}$/;
const HEX_32 = /^[0-9a-f]{32}$/;

/**
 * One catalog per database: the digest cache and the counts assume every write goes through it.
 * Iterators read in pages, so other calls may run between the steps of an iteration.
 */
export class Catalog {
  /** Cached bucket digests; undefined marks a bucket changed since it was last digested. */
  private readonly digests: (Uint8Array | undefined)[] = new Array(BUCKET_COUNT).fill(undefined);
  private readonly tally: CatalogCounts;
  private readonly sql: Statements;
  /** Stamps each stored entry with when it arrived here: strictly increasing, also across restarts. */
  private readonly arrivals: HybridClock;
  private purged: Hlc | null;

  /** `now`: wall-clock milliseconds for the arrival clock (injected by tests). */
  constructor(
    private readonly db: NodeDatabase,
    now: () => number = Date.now,
  ) {
    this.sql = prepareStatements(db.sqlite);
    this.tally = db.read(() => this.sql.counts.get()) ?? { files: 0, tombstones: 0 };
    const [lastChange, purged] = db.read(() => [this.sql.lastChange.get(), this.sql.purged.get()]);
    this.purged = purged ? { wall: purged.wall, logical: purged.logical } : null;
    const after = [
      lastChange && { wall: lastChange.changed_wall, logical: lastChange.changed_logical },
      this.purged,
    ]
      .filter((h): h is Hlc => Boolean(h))
      .sort(compareHlc)
      .at(-1);
    this.arrivals = new HybridClock(now, after);
  }

  /** Stores `entry` if it beats the current one for its path; true if it did (false for a re-delivery). */
  apply(entry: CatalogEntry): boolean {
    return this.applyMany([entry]) === 1;
  }

  /** Applies every entry in one transaction; returns how many won and were stored. */
  applyMany(entries: Iterable<CatalogEntry>): number {
    return this.applyEach(entries).filter(Boolean).length;
  }

  /**
   * Applies every entry in one transaction, in order (a later entry for the same path competes with
   * an earlier one); whether each won and was stored.
   */
  applyEach(entries: Iterable<CatalogEntry>): boolean[] {
    const won: boolean[] = [];
    const replacements = this.db.write(() => {
      const stored: Replacement[] = [];
      for (const entry of entries) {
        const replacement = this.store(entry);
        won.push(replacement !== undefined);
        if (replacement) stored.push(replacement);
      }
      return stored;
    });
    // The cached digests and counts follow the database only once the transaction has committed.
    for (const { previous, next } of replacements) {
      this.digests[bucketOf(next.pathId)] = undefined;
      if (previous !== undefined) this.tally[previous.deleted ? "tombstones" : "files"]--;
      this.tally[next.deleted ? "tombstones" : "files"]++;
    }
    return won;
  }

  get(pathId: string): CatalogEntry | undefined {
    const row = this.db.read(() => this.sql.get.get(pathId));
    return row && toEntry(row);
  }

  /** The latest live entry for a file key (one file can sit at several paths). */
  byFileKey(fileKey: string): CatalogEntry | undefined {
    const row = this.db.read(() => this.sql.byFileKey.get(fileKey));
    return row && toEntry(row);
  }

  list(options: { includeDeleted?: boolean } = {}): CatalogEntry[] {
    return [...this.entries(options)];
  }

  /** Every entry in pathId order, read a page at a time so a big catalog never sits in memory whole. */
  *entries({ includeDeleted = false }: { includeDeleted?: boolean } = {}): Generator<CatalogEntry> {
    let after = "";
    let page: CatalogRow[];
    do {
      const from = after;
      page = this.db.read(() => this.sql.pageAfter.all(from, includeDeleted ? 1 : 0, DEFAULT_PAGE_LIMIT));
      for (const row of page) yield toEntry(row);
      after = page.at(-1)?.path_id ?? after;
    } while (page.length === DEFAULT_PAGE_LIMIT);
  }

  /** The 256 bucket digests (copies); only buckets changed since the last call are recomputed. */
  bucketDigests(): Uint8Array[] {
    for (let bucket = 0; bucket < BUCKET_COUNT; bucket++) {
      if (this.digests[bucket] !== undefined) continue;
      const [low, high] = bucketRange(bucket);
      this.digests[bucket] = this.db.read(() =>
        digestSortedBucket(digestFields(this.sql.digestRange.iterate(low, high))),
      );
    }
    return this.digests.map((digest) => Uint8Array.from(digest ?? []));
  }

  /**
   * Entries of the given buckets in pathId order, at most `limit` per call (tombstones included: they
   * are what anti-entropy must spread). Pass the returned cursor back for the next page.
   */
  entriesInBuckets(buckets: readonly number[], cursor?: string, limit = DEFAULT_PAGE_LIMIT): CatalogPage {
    for (const bucket of buckets) {
      if (!Number.isInteger(bucket) || bucket < 0 || bucket >= BUCKET_COUNT) {
        throw invalid(`bucket ${bucket} is not an integer from 0 to ${BUCKET_COUNT - 1}`, String(bucket));
      }
    }
    if (cursor !== undefined && !HEX_64.test(cursor))
      throw invalid(`cursor ${cursor} is not a pathId`, cursor);
    if (!Number.isInteger(limit) || limit < 1) throw invalid(`page limit ${limit} is not a positive integer`);
    const after = cursor ?? "";
    const wanted = [...new Set(buckets)]
      .sort((a, b) => a - b)
      .filter((b) => cursor === undefined || b >= bucketOf(cursor));
    const rows: CatalogRow[] = [];
    for (const bucket of wanted) {
      const [low, high] = bucketRange(bucket);
      // One row beyond the limit tells whether a next page exists.
      const found = this.db.read(() => this.sql.rangeAfter.all(low, high, after, limit + 1 - rows.length));
      for (const row of found) rows.push(row);
      if (rows.length > limit) break;
    }
    if (rows.length <= limit) return { entries: rows.map(toEntry) };
    const entries = rows.slice(0, limit).map(toEntry);
    return { entries, cursor: entries.at(-1)?.pathId ?? after };
  }

  /**
   * Entries stored here after `after` (from the first when absent), in arrival order, tombstones
   * included: at most `limit`, and fewer when their bytes would pass CHANGES_PAGE_BYTES. Served from the
   * index on the arrival stamp, so a page costs its own size whatever the catalog's.
   */
  changesSince(after: ChangeCursor | undefined, limit = DEFAULT_CHANGES_LIMIT): ChangesPage {
    if (after !== undefined) assertCursor(after);
    if (!Number.isInteger(limit) || limit < 1) throw invalid(`page limit ${limit} is not a positive integer`);
    const from = after ?? { wall: -1, logical: 0, pathId: "" };
    // One row beyond the limit tells whether a next page exists.
    const rows = this.db.read(() =>
      this.sql.changesAfter.all(from.wall, from.logical, from.pathId, limit + 1),
    );
    const entries: CatalogEntry[] = [];
    let bytes = 0;
    let last: CatalogRow | undefined;
    for (const row of rows) {
      bytes += ENTRY_WIRE_BYTES + (row.meta?.length ?? 0);
      if (entries.length === limit || (entries.length > 0 && bytes > CHANGES_PAGE_BYTES)) break;
      entries.push(toEntry(row));
      last = row;
    }
    return {
      entries,
      ...(last
        ? { cursor: { wall: last.changed_wall, logical: last.changed_logical, pathId: last.path_id } }
        : {}),
      more: entries.length < rows.length,
      purgedThrough: this.purged && { ...this.purged },
    };
  }

  /**
   * Deletes tombstones stamped before `olderThanWallMs` and, when `arrivedThrough` is given, stored here
   * no later than it (what every peer has acknowledged; the caller decides both); returns how many.
   * Remembers the latest arrival stamp among them (see `changesSince`).
   */
  purgeTombstones(olderThanWallMs: number, arrivedThrough?: Hlc): number {
    const purged = this.db.write(() => {
      const rows = arrivedThrough
        ? this.sql.purgeArrived.all(olderThanWallMs, arrivedThrough.wall, arrivedThrough.logical)
        : this.sql.purge.all(olderThanWallMs);
      const latest = rows
        .map((r): Hlc => ({ wall: r.changed_wall, logical: r.changed_logical }))
        .reduce<Hlc | null>((a, b) => (a === null || compareHlc(b, a) > 0 ? b : a), this.purged);
      if (latest !== null && latest !== this.purged) this.sql.setPurged.run(latest.wall, latest.logical);
      return { rows, latest };
    });
    this.purged = purged.latest;
    for (const { path_id } of purged.rows) this.digests[bucketOf(path_id)] = undefined;
    this.tally.tombstones -= purged.rows.length;
    return purged.rows.length;
  }

  /** The latest arrival stamp of a tombstone purged here (null if none was): this node's purge horizon. */
  purgedThrough(): Hlc | null {
    return this.purged && { ...this.purged };
  }

  /** The arrival stamp of the entry stored here last (null when the catalog is empty). */
  lastArrival(): Hlc | null {
    const row = this.db.read(() => this.sql.lastChange.get());
    return row ? { wall: row.changed_wall, logical: row.changed_logical } : null;
  }

  counts(): CatalogCounts {
    return { ...this.tally };
  }

  /** The latest stamp stored, so a restarted node's clock can start after it even if wall time stepped back. */
  latestHlc(): Hlc | undefined {
    const row = this.db.read(() => this.sql.latest.get());
    return row && { wall: row.hlc_wall, logical: row.hlc_logical };
  }

  /** True if some live (not deleted) entry references the manifest. */
  isManifestLive(manifestId: string): boolean {
    return this.db.read(() => this.sql.manifestLive.get(manifestId)?.live === 1);
  }

  /** Every manifest a live entry references, each once, read a page at a time. */
  *liveManifestIds(): Generator<string> {
    let after = "";
    let page: { manifest_id: string }[];
    do {
      const from = after;
      page = this.db.read(() => this.sql.liveManifestsAfter.all(from, DEFAULT_PAGE_LIMIT));
      for (const row of page) yield row.manifest_id;
      after = page.at(-1)?.manifest_id ?? after;
    } while (page.length === DEFAULT_PAGE_LIMIT);
  }

  /**
   * Manifests no live entry references, released (by the stamp of the write that superseded their
   * last reference) before `releasedBeforeWallMs`: what garbage collection may delete. This is what
   * this node saw: a manifest whose entry lost before it ever arrived here was never live, so is absent.
   */
  releasedManifests(releasedBeforeWallMs: number, limit = DEFAULT_PAGE_LIMIT): string[] {
    return this.db
      .read(() => this.sql.releasedBefore.all(releasedBeforeWallMs, limit))
      .map((r) => r.manifest_id);
  }

  /** Drops the release record once garbage collection has deleted the manifest. */
  forgetReleasedManifest(manifestId: string): void {
    this.db.write(() => this.sql.unrelease.run(manifestId));
  }

  /** Stores `entry` if it wins, inside the caller's transaction; says what it replaced. */
  private store(entry: CatalogEntry): Replacement | undefined {
    assertWellFormed(entry);
    const currentRow = this.sql.get.get(entry.pathId);
    const previous = currentRow && toEntry(currentRow);
    if (previous !== undefined && compareEntries(entry, previous) <= 0) return undefined;
    this.sql.upsert.run(toRow(entry, this.arrivals.tick()));
    this.trackManifests(previous, entry);
    return { previous, next: entry };
  }

  private trackManifests(previous: CatalogEntry | undefined, next: CatalogEntry): void {
    const before = previous?.deleted === false ? previous.manifestId : null;
    const after = next.deleted ? null : next.manifestId;
    if (after !== null) this.sql.unrelease.run(after);
    if (before !== null && before !== after && this.sql.manifestLive.get(before)?.live !== 1) {
      this.sql.release.run(before, next.hlc.wall);
    }
  }
}

type Statements = ReturnType<typeof prepareStatements>;

function prepareStatements(sqlite: Database.Database) {
  return {
    get: sqlite.prepare<[string], CatalogRow>(`SELECT ${COLUMNS} FROM catalog WHERE path_id = ?`),
    upsert: sqlite.prepare<[CatalogRow]>(
      `INSERT OR REPLACE INTO catalog (${COLUMNS}) VALUES (:path_id, :changed_wall, :changed_logical,
       :hlc_wall, :hlc_logical, :writer, :deleted, :file_key, :manifest_id, :size, :meta)`,
    ),
    changesAfter: sqlite.prepare<[number, number, string, number], CatalogRow>(
      `SELECT ${COLUMNS} FROM catalog WHERE (changed_wall, changed_logical, path_id) > (?, ?, ?)
       ORDER BY changed_wall, changed_logical, path_id LIMIT ?`,
    ),
    lastChange: sqlite.prepare<[], Pick<CatalogRow, "changed_wall" | "changed_logical">>(
      "SELECT changed_wall, changed_logical FROM catalog ORDER BY changed_wall DESC, changed_logical DESC LIMIT 1",
    ),
    purged: sqlite.prepare<[], Hlc>("SELECT wall, logical FROM catalog_purged WHERE id = 1"),
    setPurged: sqlite.prepare<[number, number]>(
      `INSERT INTO catalog_purged (id, wall, logical) VALUES (1, ?, ?)
       ON CONFLICT (id) DO UPDATE SET wall = excluded.wall, logical = excluded.logical`,
    ),
    byFileKey: sqlite.prepare<[string], CatalogRow>(
      `SELECT ${COLUMNS} FROM catalog WHERE file_key = ? AND deleted = 0
       ORDER BY hlc_wall DESC, hlc_logical DESC, writer DESC LIMIT 1`,
    ),
    pageAfter: sqlite.prepare<[string, number, number], CatalogRow>(
      `SELECT ${COLUMNS} FROM catalog WHERE path_id > ? AND (? OR deleted = 0) ORDER BY path_id LIMIT ?`,
    ),
    rangeAfter: sqlite.prepare<[string, string, string, number], CatalogRow>(
      `SELECT ${COLUMNS} FROM catalog WHERE path_id >= ? AND path_id < ? AND path_id > ?
       ORDER BY path_id LIMIT ?`,
    ),
    digestRange: sqlite.prepare<[string, string], CatalogRow>(
      `SELECT ${COLUMNS} FROM catalog WHERE path_id >= ? AND path_id < ? ORDER BY path_id`,
    ),
    purge: sqlite.prepare<[number], Pick<CatalogRow, "path_id" | "changed_wall" | "changed_logical">>(
      "DELETE FROM catalog WHERE deleted = 1 AND hlc_wall < ? RETURNING path_id, changed_wall, changed_logical",
    ),
    purgeArrived: sqlite.prepare<
      [number, number, number],
      Pick<CatalogRow, "path_id" | "changed_wall" | "changed_logical">
    >(
      `DELETE FROM catalog WHERE deleted = 1 AND hlc_wall < ? AND (changed_wall, changed_logical) <= (?, ?)
       RETURNING path_id, changed_wall, changed_logical`,
    ),
    counts: sqlite.prepare<[], CatalogCounts>(
      "SELECT count(*) - coalesce(sum(deleted), 0) AS files, coalesce(sum(deleted), 0) AS tombstones FROM catalog",
    ),
    latest: sqlite.prepare<[], Pick<CatalogRow, "hlc_wall" | "hlc_logical">>(
      "SELECT hlc_wall, hlc_logical FROM catalog ORDER BY hlc_wall DESC, hlc_logical DESC LIMIT 1",
    ),
    manifestLive: sqlite.prepare<[string], { live: number }>(
      "SELECT EXISTS (SELECT 1 FROM catalog WHERE manifest_id = ? AND deleted = 0) AS live",
    ),
    liveManifestsAfter: sqlite.prepare<[string, number], { manifest_id: string }>(
      `SELECT DISTINCT manifest_id FROM catalog WHERE deleted = 0 AND manifest_id > ?
       ORDER BY manifest_id LIMIT ?`,
    ),
    release: sqlite.prepare<[string, number]>(
      `INSERT INTO released_manifests (manifest_id, released_at) VALUES (?, ?)
       ON CONFLICT (manifest_id) DO UPDATE SET released_at = max(released_at, excluded.released_at)`,
    ),
    unrelease: sqlite.prepare<[string]>("DELETE FROM released_manifests WHERE manifest_id = ?"),
    releasedBefore: sqlite.prepare<[number, number], { manifest_id: string }>(
      `SELECT manifest_id FROM released_manifests WHERE released_at < ?
       ORDER BY released_at, manifest_id LIMIT ?`,
    ),
  };
}

/** [low, high) bounds of a bucket's pathIds; "g" sorts after every lowercase hex id starting "ff". */
function bucketRange(bucket: number): [string, string] {
  const hex = (b: number) => b.toString(16).padStart(2, "0");
  return [hex(bucket), bucket === BUCKET_COUNT - 1 ? "g" : hex(bucket + 1)];
}

function* digestFields(rows: Iterable<CatalogRow>): Generator<DigestFields> {
  for (const row of rows) {
    yield {
      pathId: row.path_id,
      hlc: { wall: row.hlc_wall, logical: row.hlc_logical },
      writer: row.writer,
      deleted: row.deleted === 1,
    };
  }
}

function toEntry(row: CatalogRow): CatalogEntry {
  return {
    pathId: row.path_id,
    hlc: { wall: row.hlc_wall, logical: row.hlc_logical },
    writer: row.writer,
    deleted: row.deleted === 1,
    fileKey: row.file_key,
    manifestId: row.manifest_id,
    size: row.size,
    // better-sqlite3 returns a Buffer; callers get a plain Uint8Array of their own.
    meta: row.meta && Uint8Array.from(row.meta),
  };
}

function toRow(entry: CatalogEntry, changed: Hlc): CatalogRow {
  return {
    path_id: entry.pathId,
    changed_wall: changed.wall,
    changed_logical: changed.logical,
    hlc_wall: entry.hlc.wall,
    hlc_logical: entry.hlc.logical,
    writer: entry.writer,
    deleted: entry.deleted ? 1 : 0,
    file_key: entry.fileKey,
    manifest_id: entry.manifestId,
    size: entry.size,
    meta: entry.meta,
  };
}

/** The catalog's ordering and bucket ranges rely on these; the wire schemas should already ensure them. */
function assertWellFormed(entry: CatalogEntry): void {
  const { pathId, hlc, writer, size } = entry;
  if (!HEX_64.test(pathId))
    throw invalid(`catalog entry pathId ${pathId} is not 64 lowercase hex characters`, pathId);
  if (!HEX_32.test(writer))
    throw invalid(`catalog entry ${pathId} has a writer that is not a node id`, pathId);
  if (
    !Number.isSafeInteger(hlc.wall) ||
    hlc.wall < 0 ||
    !Number.isInteger(hlc.logical) ||
    hlc.logical < 0 ||
    hlc.logical > MAX_LOGICAL
  ) {
    throw invalid(`catalog entry ${pathId} has an invalid clock stamp`, pathId);
  }
  if (!Number.isSafeInteger(size) || size < 0)
    throw invalid(`catalog entry ${pathId} has an invalid size`, pathId);
}

function assertCursor({ wall, logical, pathId }: ChangeCursor): void {
  if (
    !Number.isSafeInteger(wall) ||
    wall < 0 ||
    !Number.isInteger(logical) ||
    logical < 0 ||
    logical > MAX_LOGICAL
  )
    throw invalid(`change cursor ${wall}.${logical} is not a clock stamp`);
  if (!HEX_64.test(pathId)) throw invalid(`change cursor path id ${pathId} is not a pathId`, pathId);
}

function invalid(sentence: string, subject?: string): DmfsError {
  return new DmfsError("E_MESSAGE_INVALID", sentence, subject === undefined ? undefined : { subject });
}
