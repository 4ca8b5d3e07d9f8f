// The catalog table: every path's winning entry under last-writer-wins, the 256 anti-entropy bucket
// digests (cached, recomputed only for buckets that changed), and which manifests are live for GC.
import type Database from "better-sqlite3";
import { BUCKET_COUNT, bucketOf, type DigestFields, digestSortedBucket } from "../cluster/digest.ts";
import { MAX_LOGICAL } from "../cluster/hlc.ts";
import { compareEntries } from "../cluster/lww.ts";
import type { CatalogEntry, Hlc } from "../cluster/types.ts";
import { DmfsError } from "../errors.ts";
import type { NodeDatabase } from "./node-database.ts";

/** Entries per reply of `entriesInBuckets` by default: small enough for one frame. */
export const DEFAULT_PAGE_LIMIT = 500;

/** A page of entries; `cursor` is present when more entries follow - pass it back to continue. */
export type CatalogPage = { entries: CatalogEntry[]; cursor?: string };

export type CatalogCounts = { files: number; tombstones: number };

type Replacement = { previous: CatalogEntry | undefined; next: CatalogEntry };

type CatalogRow = {
  path_id: string;
  hlc_wall: number;
  hlc_logical: number;
  writer: string;
  deleted: 0 | 1;
  file_key: string | null;
  manifest_id: string | null;
  size: number;
  meta: Uint8Array | null;
};

const COLUMNS = "path_id, hlc_wall, hlc_logical, writer, deleted, file_key, manifest_id, size, meta";
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

  constructor(private readonly db: NodeDatabase) {
    this.sql = prepareStatements(db.sqlite);
    this.tally = db.read(() => this.sql.counts.get()) ?? { files: 0, tombstones: 0 };
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

  /** Deletes tombstones stamped before `olderThanWallMs` (the grace period is the caller's); returns how many. */
  purgeTombstones(olderThanWallMs: number): number {
    const purged = this.db.write(() => this.sql.purge.all(olderThanWallMs));
    for (const { path_id } of purged) this.digests[bucketOf(path_id)] = undefined;
    this.tally.tombstones -= purged.length;
    return purged.length;
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
    this.sql.upsert.run(toRow(entry));
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
      `INSERT OR REPLACE INTO catalog (${COLUMNS}) VALUES
       (:path_id, :hlc_wall, :hlc_logical, :writer, :deleted, :file_key, :manifest_id, :size, :meta)`,
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
    purge: sqlite.prepare<[number], { path_id: string }>(
      "DELETE FROM catalog WHERE deleted = 1 AND hlc_wall < ? RETURNING path_id",
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

function toRow(entry: CatalogEntry): CatalogRow {
  return {
    path_id: entry.pathId,
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

function invalid(sentence: string, subject?: string): DmfsError {
  return new DmfsError("E_MESSAGE_INVALID", sentence, subject === undefined ? undefined : { subject });
}
