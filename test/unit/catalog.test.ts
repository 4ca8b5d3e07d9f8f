import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { blake3 } from "@noble/hashes/blake3.js";
import { bytesToHex, utf8ToBytes } from "@noble/hashes/utils.js";
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import {
  BUCKET_COUNT,
  bucketDigests,
  bucketOf,
  diffBuckets,
  digestRecord,
} from "../../src/cluster/digest.ts";
import { compareHlc } from "../../src/cluster/hlc.ts";
import type { CatalogEntry, Hlc } from "../../src/cluster/types.ts";
import { Catalog, CHANGES_PAGE_BYTES, type ChangeCursor } from "../../src/store/catalog.ts";
import { DATABASE_FILE, NodeDatabase, SCHEMA_VERSION } from "../../src/store/node-database.ts";

const WRITER_A = "0a".repeat(16);
const WRITER_B = "0b".repeat(16);
const hexOf = (label: string, bytes = 32) => bytesToHex(blake3(utf8ToBytes(label), { dkLen: bytes }));
/** A pathId in a chosen bucket, distinct per label. */
const pathIn = (bucket: number, label: string) =>
  bucket.toString(16).padStart(2, "0") + hexOf(label).slice(2);

function file(pathId: string, wall: number, overrides: Partial<CatalogEntry> = {}): CatalogEntry {
  return {
    pathId,
    hlc: { wall, logical: 0 },
    writer: WRITER_A,
    deleted: false,
    fileKey: hexOf(`key ${pathId} ${wall}`),
    manifestId: hexOf(`manifest ${pathId} ${wall}`),
    size: 100,
    meta: utf8ToBytes(`meta ${wall}`),
    ...overrides,
  };
}

function tombstone(pathId: string, wall: number, writer = WRITER_A): CatalogEntry {
  return file(pathId, wall, { writer, deleted: true, fileKey: null, manifestId: null, size: 0, meta: null });
}

const byPathId = (entries: CatalogEntry[]) => [...entries].sort((x, y) => (x.pathId < y.pathId ? -1 : 1));

const roots: string[] = [];
const databases: NodeDatabase[] = [];

function tempRoot(): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "dmfs-catalog-"));
  roots.push(root);
  return root;
}

function openDatabase(root = tempRoot()): NodeDatabase {
  const db = NodeDatabase.open(root);
  databases.push(db);
  return db;
}

const openCatalog = (root?: string) => new Catalog(openDatabase(root));

afterEach(() => {
  for (const db of databases.splice(0)) db.close();
  for (const root of roots.splice(0)) fs.rmSync(root, { recursive: true, force: true });
});

function openError(root: string): unknown {
  try {
    NodeDatabase.open(root).close();
  } catch (err) {
    return err;
  }
  return undefined;
}

describe("node database", () => {
  it("opens node.db in WAL mode, fsyncing every commit, with foreign keys on and the schema migrated", () => {
    const root = tempRoot();
    const db = openDatabase(root);
    expect(db.path).toBe(path.join(root, DATABASE_FILE));
    expect(db.sqlite.pragma("journal_mode", { simple: true })).toBe("wal");
    expect(db.sqlite.pragma("synchronous", { simple: true })).toBe(2); // FULL
    expect(db.sqlite.pragma("foreign_keys", { simple: true })).toBe(1);
    expect(db.sqlite.pragma("user_version", { simple: true })).toBe(SCHEMA_VERSION);
  });

  it("creates its root directory when missing", () => {
    const root = path.join(tempRoot(), "nested", "node");
    openDatabase(root);
    expect(fs.existsSync(path.join(root, DATABASE_FILE))).toBe(true);
  });

  it("reopens an existing database without migrating it again, and closes twice safely", () => {
    const root = tempRoot();
    const first = NodeDatabase.open(root);
    new Catalog(first).apply(file(pathIn(1, "kept"), 10));
    first.close();
    first.close();
    expect(first.isOpen).toBe(false);
    const catalog = openCatalog(root);
    expect(catalog.get(pathIn(1, "kept"))?.hlc.wall).toBe(10);
  });

  it("refuses a file that is not SQLite with E_IO naming the path, and leaves it as it is", () => {
    const root = tempRoot();
    const dbFile = path.join(root, DATABASE_FILE);
    const garbage = Buffer.concat([
      Buffer.from("this is not a database\n"),
      Buffer.from(hexOf("noise", 4000), "hex"),
    ]);
    fs.writeFileSync(dbFile, garbage);
    const err = openError(root);
    expect(err).toMatchObject({ code: "E_IO", subject: dbFile });
    expect((err as Error).message).toContain(dbFile);
    expect(fs.readFileSync(dbFile).equals(garbage)).toBe(true);
    expect(fs.readdirSync(root)).toEqual([DATABASE_FILE]);
  });

  it("reports a root that is not a directory as a typed error naming the database path", () => {
    const root = path.join(tempRoot(), "plain-file");
    fs.writeFileSync(root, "x");
    expect(openError(root)).toMatchObject({ code: "E_IO", subject: path.join(root, DATABASE_FILE) });
  });

  it("refuses a database written by a newer schema", () => {
    const root = tempRoot();
    const db = NodeDatabase.open(root);
    db.sqlite.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    db.close();
    expect(openError(root)).toMatchObject({ code: "E_IO", subject: path.join(root, DATABASE_FILE) });
  });

  it("rolls a failed write back whole", () => {
    const catalog = openCatalog();
    const good = file(pathIn(2, "good"), 10);
    const malformed = { ...file(pathIn(2, "bad"), 10), writer: "not a node id" };
    expect(() => catalog.applyMany([good, malformed])).toThrow(
      expect.objectContaining({ code: "E_MESSAGE_INVALID" }),
    );
    expect(catalog.get(good.pathId)).toBeUndefined();
    expect(catalog.counts()).toEqual({ files: 0, tombstones: 0 });
  });

  it("keeps a committed entry when the process is killed right after apply returns", () => {
    const root = tempRoot();
    const entry = file(pathIn(3, "durable"), 42);
    const script = `
      import { Catalog } from ${JSON.stringify(path.resolve("src/store/catalog.ts"))};
      import { NodeDatabase } from ${JSON.stringify(path.resolve("src/store/node-database.ts"))};
      const entry = ${JSON.stringify({ ...entry, meta: null })};
      new Catalog(NodeDatabase.open(${JSON.stringify(root)})).apply(entry);
      process.kill(process.pid, "SIGKILL");
    `;
    const child = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
      encoding: "utf8",
      timeout: 20_000,
    });
    expect(child.signal).toBe("SIGKILL");
    expect(openCatalog(root).get(entry.pathId)).toEqual({ ...entry, meta: null });
  });
});

describe("bucket digests (pure)", () => {
  it("put a path in the bucket of its first byte", () => {
    expect(bucketOf(pathIn(0, "x"))).toBe(0);
    expect(bucketOf(pathIn(0xab, "x"))).toBe(0xab);
    expect(bucketOf(pathIn(255, "x"))).toBe(255);
  });

  it("encode pathId, clock, writer and the delete flag in 59 canonical bytes", () => {
    const record = digestRecord(tombstone("ff".repeat(32), 0x0102030405, WRITER_B));
    expect(bytesToHex(record)).toBe(`${"ff".repeat(32)}0000000102030405` + `0000${WRITER_B}01`);
  });

  it("do not depend on the order entries arrive in", () => {
    const entries = [file(pathIn(7, "a"), 1), file(pathIn(7, "b"), 2), tombstone(pathIn(9, "c"), 3)];
    expect(bucketDigests(entries)).toEqual(bucketDigests([...entries].reverse()));
  });

  it("name exactly the buckets that differ", () => {
    const base = [file(pathIn(7, "a"), 1), file(pathIn(200, "b"), 2)];
    const mine = bucketDigests(base);
    const theirs = bucketDigests([
      file(pathIn(7, "a"), 1),
      tombstone(pathIn(200, "b"), 3),
      file(pathIn(3, "c"), 4),
    ]);
    expect(diffBuckets(mine, mine)).toEqual([]);
    expect(diffBuckets(mine, theirs)).toEqual([3, 200]);
    expect(diffBuckets(mine, theirs.slice(0, 100))).toHaveLength(BUCKET_COUNT - 100 + 1);
  });
});

describe("Catalog", () => {
  it("stores a new entry and refuses an older or repeated one", () => {
    const catalog = openCatalog();
    const pathId = pathIn(1, "p");
    expect(catalog.apply(file(pathId, 10))).toBe(true);
    expect(catalog.apply(file(pathId, 10))).toBe(false);
    expect(catalog.apply(file(pathId, 9))).toBe(false);
    expect(catalog.get(pathId)).toEqual(file(pathId, 10));
    expect(catalog.apply(file(pathId, 10, { writer: WRITER_B }))).toBe(true);
    expect(catalog.get(pathId)?.writer).toBe(WRITER_B);
  });

  it("lets a later delete win over a write and a later write win over a delete", () => {
    const catalog = openCatalog();
    const pathId = pathIn(1, "p");
    catalog.apply(file(pathId, 10));
    expect(catalog.apply(tombstone(pathId, 11))).toBe(true);
    expect(catalog.apply(file(pathId, 10))).toBe(false);
    expect(catalog.get(pathId)?.deleted).toBe(true);
    expect(catalog.apply(file(pathId, 12))).toBe(true);
    expect(catalog.get(pathId)?.deleted).toBe(false);
  });

  it("finds the latest live entry for a file key", () => {
    const catalog = openCatalog();
    const fileKey = hexOf("shared content");
    const [a, b, c] = [pathIn(1, "a"), pathIn(2, "b"), pathIn(3, "c")];
    catalog.applyMany([file(a, 10, { fileKey }), file(b, 30, { fileKey }), file(c, 20, { fileKey })]);
    expect(catalog.byFileKey(fileKey)?.pathId).toBe(b);
    catalog.apply(tombstone(b, 31));
    expect(catalog.byFileKey(fileKey)?.pathId).toBe(c);
    expect(catalog.byFileKey(hexOf("unknown"))).toBeUndefined();
  });

  it("lists live entries, or tombstones too, in pathId order across many pages", () => {
    const catalog = openCatalog();
    const entries = Array.from({ length: 1_203 }, (_, i) =>
      i % 4 === 0 ? tombstone(hexOf(`list ${i}`), i) : file(hexOf(`list ${i}`), i),
    );
    expect(catalog.applyMany(entries)).toBe(entries.length);
    const sorted = byPathId(entries);
    expect(catalog.list({ includeDeleted: true })).toEqual(sorted);
    expect(catalog.list()).toEqual(sorted.filter((e) => !e.deleted));
    expect(catalog.counts()).toEqual({ files: 902, tombstones: 301 });
  });

  it("lets other calls run between the steps of an iteration", () => {
    const catalog = openCatalog();
    catalog.applyMany(Array.from({ length: 1_100 }, (_, i) => file(hexOf(`iter ${i}`), i + 1)));
    let seen = 0;
    for (const entry of catalog.entries()) {
      if (seen++ === 600) catalog.apply(tombstone(entry.pathId, 10_000));
    }
    expect(seen).toBe(1_100);
    expect(catalog.counts()).toEqual({ files: 1_099, tombstones: 1 });
  });

  it("keeps bucket digests equal to digests computed from scratch, recomputing only changed buckets", () => {
    const catalog = openCatalog();
    catalog.applyMany(Array.from({ length: 600 }, (_, i) => file(hexOf(`digest ${i}`), i + 1)));
    const before = catalog.bucketDigests();
    expect(before).toEqual(bucketDigests(catalog.list({ includeDeleted: true })));
    const changed = pathIn(0x42, "changed");
    catalog.apply(file(changed, 5_000));
    const after = catalog.bucketDigests();
    expect(diffBuckets(before, after)).toEqual([0x42]);
    expect(after).toEqual(bucketDigests(catalog.list({ includeDeleted: true })));
    // Digests come as copies: scribbling on one does not corrupt the cache.
    after[0x42]?.fill(0);
    expect(catalog.bucketDigests()[0x42]).toEqual(
      bucketDigests(catalog.list({ includeDeleted: true }))[0x42],
    );
  });

  it("pages through the entries of chosen buckets, tombstones included, each entry once", () => {
    const catalog = openCatalog();
    const entries = Array.from({ length: 2_000 }, (_, i) =>
      i % 3 === 0 ? tombstone(hexOf(`page ${i}`), i + 1) : file(hexOf(`page ${i}`), i + 1),
    );
    catalog.applyMany(entries);
    const wanted = [255, 0, 17, 17, 128];
    const expected = byPathId(entries.filter((e) => wanted.includes(bucketOf(e.pathId))));
    const collected: CatalogEntry[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 100; page++) {
      const reply = catalog.entriesInBuckets(wanted, cursor, 7);
      expect(reply.entries.length).toBeLessThanOrEqual(7);
      collected.push(...reply.entries);
      cursor = reply.cursor;
      if (cursor === undefined) break;
    }
    expect(cursor).toBeUndefined();
    expect(collected).toEqual(expected);
    expect(catalog.entriesInBuckets([0x42]).entries).toEqual(
      byPathId(entries.filter((e) => bucketOf(e.pathId) === 0x42)),
    );
  });

  it("returns no cursor when a page ends exactly at the last entry", () => {
    const catalog = openCatalog();
    catalog.applyMany([file(pathIn(5, "a"), 1), file(pathIn(5, "b"), 2)]);
    expect(catalog.entriesInBuckets([5], undefined, 2).cursor).toBeUndefined();
    const first = catalog.entriesInBuckets([5], undefined, 1);
    expect(first.entries).toHaveLength(1);
    expect(catalog.entriesInBuckets([5], first.cursor, 1)).toEqual({
      entries: [catalog.list().at(-1)],
    });
  });

  it("rejects bucket numbers, cursors and limits out of range", () => {
    const catalog = openCatalog();
    const invalid = expect.objectContaining({ code: "E_MESSAGE_INVALID" });
    expect(() => catalog.entriesInBuckets([256])).toThrow(invalid);
    expect(() => catalog.entriesInBuckets([1.5])).toThrow(invalid);
    expect(() => catalog.entriesInBuckets([1], "zz")).toThrow(invalid);
    expect(() => catalog.entriesInBuckets([1], undefined, 0)).toThrow(invalid);
  });

  it("purges only tombstones older than the horizon and updates digests and counts", () => {
    const catalog = openCatalog();
    const [old, recent, live] = [pathIn(10, "old"), pathIn(11, "recent"), pathIn(12, "live")];
    catalog.applyMany([tombstone(old, 100), tombstone(recent, 300), file(live, 50)]);
    const before = catalog.bucketDigests();
    expect(catalog.purgeTombstones(200)).toBe(1);
    expect(catalog.get(old)).toBeUndefined();
    expect(catalog.get(recent)?.deleted).toBe(true);
    expect(catalog.get(live)?.deleted).toBe(false);
    expect(catalog.counts()).toEqual({ files: 1, tombstones: 1 });
    expect(diffBuckets(before, catalog.bucketDigests())).toEqual([10]);
  });

  it("purges, when given an arrival stamp, only the old tombstones stored here no later than it", () => {
    const catalog = openCatalog();
    const [first, second] = [pathIn(20, "first"), pathIn(21, "second")];
    expect(catalog.lastArrival()).toBeNull();
    catalog.apply(tombstone(first, 100));
    const acknowledged = catalog.lastArrival() as Hlc;
    catalog.apply(tombstone(second, 100));
    expect(compareHlc(catalog.lastArrival() as Hlc, acknowledged)).toBeGreaterThan(0);
    expect(catalog.purgeTombstones(50, acknowledged)).toBe(0);
    expect(catalog.purgeTombstones(200, acknowledged)).toBe(1);
    expect(catalog.get(first)).toBeUndefined();
    expect(catalog.get(second)?.deleted).toBe(true);
    expect(catalog.counts()).toEqual({ files: 0, tombstones: 1 });
  });

  it("restores its counts and latest clock stamp after a restart", () => {
    const root = tempRoot();
    const first = NodeDatabase.open(root);
    new Catalog(first).applyMany([
      file(pathIn(1, "a"), 500, { hlc: { wall: 500, logical: 7 } }),
      tombstone(pathIn(2, "b"), 400),
    ]);
    first.close();
    const catalog = openCatalog(root);
    expect(catalog.counts()).toEqual({ files: 1, tombstones: 1 });
    expect(catalog.latestHlc()).toEqual({ wall: 500, logical: 7 });
    expect(openCatalog().latestHlc()).toBeUndefined();
  });

  it("tracks which manifests are live and since when the others were released", () => {
    const catalog = openCatalog();
    const [a, b] = [pathIn(1, "a"), pathIn(2, "b")];
    const [m1, m2] = [hexOf("m1"), hexOf("m2")];
    catalog.applyMany([file(a, 10, { manifestId: m1 }), file(b, 20, { manifestId: m1 })]);
    expect(catalog.isManifestLive(m1)).toBe(true);
    expect([...catalog.liveManifestIds()]).toEqual([m1]);

    catalog.apply(tombstone(a, 30));
    expect(catalog.isManifestLive(m1)).toBe(true);
    expect(catalog.releasedManifests(Number.MAX_SAFE_INTEGER)).toEqual([]);

    catalog.apply(file(b, 40, { manifestId: m2 }));
    expect(catalog.isManifestLive(m1)).toBe(false);
    expect([...catalog.liveManifestIds()]).toEqual([m2]);
    // Released at the stamp of the write that dropped the last reference.
    expect(catalog.releasedManifests(40)).toEqual([]);
    expect(catalog.releasedManifests(41)).toEqual([m1]);

    catalog.apply(file(a, 50, { manifestId: m1 }));
    expect(catalog.releasedManifests(Number.MAX_SAFE_INTEGER)).toEqual([]);
    catalog.apply(tombstone(a, 60));
    expect(catalog.releasedManifests(Number.MAX_SAFE_INTEGER)).toEqual([m1]);
    catalog.forgetReleasedManifest(m1);
    expect(catalog.releasedManifests(Number.MAX_SAFE_INTEGER)).toEqual([]);
  });

  it("rejects malformed entries with a typed error naming the path", () => {
    const catalog = openCatalog();
    const pathId = pathIn(1, "p");
    const cases: CatalogEntry[] = [
      file(pathId.toUpperCase(), 1),
      file(pathId, 1, { writer: "xyz" }),
      file(pathId, 1, { hlc: { wall: 1, logical: 65_536 } }),
      file(pathId, 1, { hlc: { wall: -1, logical: 0 } }),
      file(pathId, 1, { size: -5 }),
    ];
    for (const entry of cases) {
      expect(() => catalog.apply(entry)).toThrow(expect.objectContaining({ code: "E_MESSAGE_INVALID" }));
    }
    expect(catalog.counts()).toEqual({ files: 0, tombstones: 0 });
  });

  it("converges whatever order the same entries arrive in", () => {
    // Few paths and clock values, two writers: many entries compete for the same path.
    const delivery = fc.record({
      path: fc.integer({ min: 0, max: 5 }),
      wall: fc.integer({ min: 1, max: 6 }),
      writer: fc.constantFrom(WRITER_A, WRITER_B),
      deleted: fc.boolean(),
    });
    const deliveries = fc
      .array(delivery, { minLength: 1, maxLength: 25 })
      .chain((list) => fc.tuple(fc.constant(list), fc.shuffledSubarray(list, { minLength: list.length })));
    // Two databases for all runs: each run writes its own paths, so the whole catalogs must still match.
    const first = openCatalog();
    const second = openCatalog();
    let run = 0;
    fc.assert(
      fc.property(deliveries, ([inOrder, shuffled]) => {
        run++;
        const toEntry = ({
          path: p,
          wall,
          writer,
          deleted,
        }: {
          path: number;
          wall: number;
          writer: string;
          deleted: boolean;
        }) => {
          const pathId = pathIn(p * 50, `converge ${run} ${p}`);
          return deleted ? tombstone(pathId, wall, writer) : file(pathId, wall, { writer });
        };
        first.applyMany(inOrder.map(toEntry));
        second.applyMany(shuffled.map(toEntry));
        expect(second.bucketDigests()).toEqual(first.bucketDigests());
        expect(second.list({ includeDeleted: true })).toEqual(first.list({ includeDeleted: true }));
        expect(second.counts()).toEqual(first.counts());
      }),
      { numRuns: 50 },
    );
  });
});

describe("Catalog changes (what clients sync their listing index from)", () => {
  /** Every change after `after`, page by page; how many pages it took. */
  function drain(catalog: Catalog, after?: ChangeCursor, limit?: number) {
    const entries: CatalogEntry[] = [];
    let cursor = after;
    let pages = 0;
    for (;;) {
      const page = catalog.changesSince(cursor, limit);
      pages++;
      entries.push(...page.entries);
      cursor = page.cursor ?? cursor;
      if (!page.more) return { entries, cursor, pages, purgedThrough: page.purgedThrough };
    }
  }

  it("serves every entry once in the order it was stored, a newer version moving to the end", () => {
    const catalog = openCatalog();
    const paths = Array.from({ length: 25 }, (_, i) => pathIn(i * 9, `change ${i}`));
    catalog.applyMany(paths.map((p) => file(p, 100)));
    const first = drain(catalog, undefined, 4);
    expect(first.entries.map((e) => e.pathId)).toEqual(paths);
    expect(first.pages).toBe(7);

    // A delete, a newer write and a re-delivery (which loses) after the cursor.
    catalog.apply(tombstone(paths[3] as string, 200));
    catalog.apply(file(paths[0] as string, 201));
    expect(catalog.apply(file(paths[5] as string, 100))).toBe(false);
    const second = drain(catalog, first.cursor, 4);
    expect(second.entries.map((e) => [e.pathId, e.deleted])).toEqual([
      [paths[3], true],
      [paths[0], false],
    ]);
    expect(second.pages).toBe(1);
    expect(drain(catalog, second.cursor).entries).toEqual([]);
  });

  it("orders by arrival here, not by the entries' own clocks", () => {
    const catalog = openCatalog();
    const [late, early] = [pathIn(1, "late"), pathIn(2, "early")];
    catalog.apply(file(late, 5_000));
    const { cursor } = drain(catalog);
    // Stamped long ago by another node, arriving only now (anti-entropy after a partition).
    catalog.apply(file(early, 10));
    expect(drain(catalog, cursor).entries.map((e) => e.pathId)).toEqual([early]);
  });

  it("keeps a page under its byte budget, but always serves at least one entry", () => {
    const catalog = openCatalog();
    const big = new Uint8Array(4000);
    catalog.applyMany(
      Array.from({ length: 400 }, (_, i) => file(pathIn(i % 256, `big ${i}`), 1, { meta: big })),
    );
    const page = catalog.changesSince(undefined, 1000);
    expect(page.more).toBe(true);
    expect(page.entries.length * 4000).toBeLessThanOrEqual(CHANGES_PAGE_BYTES);
    expect(page.entries.length).toBeGreaterThan(100);
    expect(drain(catalog).entries).toHaveLength(400);
  });

  it("answers from the index on the arrival stamp, never by scanning the table", () => {
    const db = openDatabase();
    new Catalog(db);
    const plan = db.sqlite
      .prepare(
        `EXPLAIN QUERY PLAN SELECT * FROM catalog WHERE (changed_wall, changed_logical, path_id) > (?, ?, ?)
         ORDER BY changed_wall, changed_logical, path_id LIMIT ?`,
      )
      .all(1, 0, "", 10) as { detail: string }[];
    expect(plan.map((p) => p.detail).join("; ")).toMatch(
      /^SEARCH catalog USING (COVERING )?INDEX catalog_by_change/,
    );
  });

  it("stamps arrivals after the last one stored, also when reopened with the wall clock set back", () => {
    const root = tempRoot();
    const first = new Catalog(openDatabase(root), () => 1_000_000);
    first.apply(file(pathIn(1, "before restart"), 1));
    const { cursor } = drain(first);
    const again = new Catalog(openDatabase(root), () => 10);
    again.apply(file(pathIn(2, "after restart"), 1));
    expect(drain(again, cursor).entries.map((e) => e.pathId)).toEqual([pathIn(2, "after restart")]);
  });

  it("remembers the latest arrival stamp of a purged tombstone, across restarts", () => {
    const root = tempRoot();
    const catalog = new Catalog(openDatabase(root));
    expect(catalog.changesSince(undefined).purgedThrough).toBeNull();
    catalog.applyMany([tombstone(pathIn(1, "old delete"), 10), file(pathIn(2, "kept"), 10)]);
    const before = drain(catalog);
    expect(catalog.purgeTombstones(1_000)).toBe(1);
    const purged = catalog.changesSince(undefined).purgedThrough;
    expect(purged).not.toBeNull();
    // The purged tombstone arrived before the live entry: a cursor past both missed nothing.
    expect(
      compareHlc(purged as Hlc, { wall: before.cursor?.wall ?? 0, logical: before.cursor?.logical ?? 0 }),
    ).toBeLessThan(0);
    expect(new Catalog(openDatabase(root)).changesSince(undefined).purgedThrough).toEqual(purged);
  });

  it("rejects cursors and limits out of range", () => {
    const catalog = openCatalog();
    const pathId = pathIn(0, "x");
    for (const cursor of [
      { wall: -1, logical: 0, pathId },
      { wall: 1.5, logical: 0, pathId },
      { wall: 1, logical: 65536, pathId },
      { wall: 1, logical: 0, pathId: "zz" },
    ]) {
      expect(() => catalog.changesSince(cursor)).toThrow(
        expect.objectContaining({ code: "E_MESSAGE_INVALID" }),
      );
    }
    expect(() => catalog.changesSince(undefined, 0)).toThrow(
      expect.objectContaining({ code: "E_MESSAGE_INVALID" }),
    );
  });

  it("migrates a database of the first schema: its entries are served, stamped by their own clocks", () => {
    const root = tempRoot();
    fs.copyFileSync(
      path.join(import.meta.dirname, "../fixtures/legacy-meta-v1/node-0", DATABASE_FILE),
      path.join(root, DATABASE_FILE),
    );
    const catalog = new Catalog(openDatabase(root));
    const { entries, cursor } = drain(catalog);
    expect(entries).toHaveLength(3);
    const latest = entries
      .map((e) => e.hlc)
      .sort(compareHlc)
      .at(-1);
    expect({ wall: cursor?.wall, logical: cursor?.logical }).toEqual(latest);
    catalog.apply(file(pathIn(7, "after migration"), 1));
    expect(drain(catalog, cursor).entries.map((e) => e.pathId)).toEqual([pathIn(7, "after migration")]);
  });
});
