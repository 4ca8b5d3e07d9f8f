import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import { LISTING_INDEX_FILE, ListingIndex } from "../../src/client/listing-index.ts";
import type { NodeClient } from "../../src/client/node-client.ts";
import { prefixUpperBound } from "../../src/client/path-prefix.ts";
import type { CatalogEntry } from "../../src/cluster/types.ts";
import { deriveKeys } from "../../src/crypto/keys.ts";
import { encodeFrame, FrameDecoder, maxFrameBytesFor } from "../../src/protocol/frame.ts";
import { type Message, parseMessage } from "../../src/protocol/messages.ts";
import { Catalog } from "../../src/store/catalog.ts";
import { NodeDatabase } from "../../src/store/node-database.ts";
import { sealedEntry } from "../helpers/catalog-seed.ts";

const keys = deriveKeys(randomBytes(32));
const CLUSTER = "c1".repeat(16);
const limits = { maxFrameBytes: maxFrameBytesFor(1024 * 1024) };
const cleanups: (() => void)[] = [];

afterEach(() => {
  for (const cleanup of cleanups.splice(0).reverse()) cleanup();
});

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dmfs-listing-"));
  cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A node's catalog served as a gateway serves it: every request and reply through a frame and its schema. */
function fakeNode(nodeId = "a1".repeat(16)) {
  const db = NodeDatabase.open(tempDir());
  cleanups.push(() => db.close());
  const catalog = new Catalog(db);
  const served = { pages: 0, entries: 0 };
  const wire = (m: unknown) =>
    parseMessage(new FrameDecoder(limits).push(encodeFrame(m as Message, limits))[0]);
  const gateway = {
    nodeId,
    request: async (request: unknown) => {
      const m = wire({ ...(request as object), id: 1 });
      if (m.t !== "catalog.changes") throw new Error(`unexpected ${m.t}`);
      const page = catalog.changesSince(m.after, m.limit);
      served.pages++;
      served.entries += page.entries.length;
      return wire({ t: "catalog.changes.page", re: 1, ...page });
    },
  } as unknown as NodeClient;
  return { catalog, gateway, served };
}

function openIndex(dir: string, clusterId = CLUSTER, dataKeys = keys) {
  const opened = ListingIndex.open(dir, clusterId, dataKeys);
  cleanups.push(() => opened.index.close());
  return opened;
}

const paths = (index: ListingIndex, prefix?: string, limit?: number) =>
  [...index.files(prefix, limit)].map((f) => f.path);

describe("the listing index", () => {
  it("fetches everything on the first sync and only the changes after, uploads and deletes alike", async () => {
    const node = fakeNode();
    node.catalog.applyMany(Array.from({ length: 2500 }, (_, i) => sealedEntry(keys, `bulk/${i}`, 1000)));
    const { index } = openIndex(tempDir());
    expect(await index.sync(node.gateway)).toMatchObject({ pages: 3, entries: 2500, rebuilt: false });
    expect(index.counts().files).toBe(2500);

    expect(await index.sync(node.gateway)).toMatchObject({ pages: 1, entries: 0 });

    const removed = node.catalog.get(sealedEntry(keys, "bulk/7", 0).pathId) as CatalogEntry;
    node.catalog.applyMany([
      sealedEntry(keys, "new/one", 2000),
      sealedEntry(keys, "new/two", 2000),
      {
        ...removed,
        hlc: { wall: 2000, logical: 0 },
        deleted: true,
        fileKey: null,
        manifestId: null,
        size: 0,
        meta: null,
      },
    ]);
    expect(await index.sync(node.gateway)).toMatchObject({ pages: 1, entries: 3 });
    expect(paths(index, "new/")).toEqual(["new/one", "new/two"]);
    expect(paths(index, "bulk/7")).toEqual([
      "bulk/70",
      "bulk/700",
      "bulk/701",
      "bulk/702",
      "bulk/703",
      "bulk/704",
      "bulk/705",
      "bulk/706",
      "bulk/707",
      "bulk/708",
      "bulk/709",
      "bulk/71",
      "bulk/710",
      "bulk/711",
      "bulk/712",
      "bulk/713",
      "bulk/714",
      "bulk/715",
      "bulk/716",
      "bulk/717",
      "bulk/718",
      "bulk/719",
      "bulk/72",
      "bulk/720",
      "bulk/721",
      "bulk/722",
      "bulk/723",
      "bulk/724",
      "bulk/725",
      "bulk/726",
      "bulk/727",
      "bulk/728",
      "bulk/729",
      "bulk/73",
      "bulk/730",
      "bulk/731",
      "bulk/732",
      "bulk/733",
      "bulk/734",
      "bulk/735",
      "bulk/736",
      "bulk/737",
      "bulk/738",
      "bulk/739",
      "bulk/74",
      "bulk/740",
      "bulk/741",
      "bulk/742",
      "bulk/743",
      "bulk/744",
      "bulk/745",
      "bulk/746",
      "bulk/747",
      "bulk/748",
      "bulk/749",
      "bulk/75",
      "bulk/750",
      "bulk/751",
      "bulk/752",
      "bulk/753",
      "bulk/754",
      "bulk/755",
      "bulk/756",
      "bulk/757",
      "bulk/758",
      "bulk/759",
      "bulk/76",
      "bulk/760",
      "bulk/761",
      "bulk/762",
      "bulk/763",
      "bulk/764",
      "bulk/765",
      "bulk/766",
      "bulk/767",
      "bulk/768",
      "bulk/769",
      "bulk/77",
      "bulk/770",
      "bulk/771",
      "bulk/772",
      "bulk/773",
      "bulk/774",
      "bulk/775",
      "bulk/776",
      "bulk/777",
      "bulk/778",
      "bulk/779",
      "bulk/78",
      "bulk/780",
      "bulk/781",
      "bulk/782",
      "bulk/783",
      "bulk/784",
      "bulk/785",
      "bulk/786",
      "bulk/787",
      "bulk/788",
      "bulk/789",
      "bulk/79",
      "bulk/790",
      "bulk/791",
      "bulk/792",
      "bulk/793",
      "bulk/794",
      "bulk/795",
      "bulk/796",
      "bulk/797",
      "bulk/798",
      "bulk/799",
    ]);
    expect(index.counts().files).toBe(2501);
  });

  it("lists a prefix in UTF-8 byte order, up to a limit, from the path index", () => {
    const dir = tempDir();
    const { index } = openIndex(dir);
    return (async () => {
      const node = fakeNode();
      const names = [
        "a/b",
        "a/b/c",
        "a/bc",
        "a0",
        "a/",
        "a\u{10FFFF}",
        "a\u{10FFFF}x",
        "b",
        "é",
        "😀",
        "\uE000",
      ];
      node.catalog.applyMany(names.map((n) => sealedEntry(keys, n, 5)));
      await index.sync(node.gateway);
      expect(paths(index)).toEqual([...names].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y))));
      expect(paths(index, "a/")).toEqual(["a/", "a/b", "a/b/c", "a/bc"]);
      expect(paths(index, "a/b")).toEqual(["a/b", "a/b/c", "a/bc"]);
      expect(paths(index, "a\u{10FFFF}")).toEqual(["a\u{10FFFF}", "a\u{10FFFF}x"]);
      expect(paths(index, "a/", 2)).toEqual(["a/", "a/b"]);
      expect(paths(index, "nothing")).toEqual([]);
      const db = new Database(path.join(dir, LISTING_INDEX_FILE), { readonly: true });
      cleanups.push(() => db.close());
      const plan = db
        .prepare(
          "EXPLAIN QUERY PLAN SELECT path FROM entries WHERE path IS NOT NULL AND path >= ? AND path < ? ORDER BY path LIMIT 10",
        )
        .all("a/", "a0") as { detail: string }[];
      expect(plan.map((p) => p.detail).join("; ")).toMatch(
        /^SEARCH entries USING (COVERING )?INDEX entries_by_path/,
      );
    })();
  });

  it("keeps the newer version of a path when a stale node serves an older one", async () => {
    const [fresh, stale] = [fakeNode("a1".repeat(16)), fakeNode("b2".repeat(16))];
    const old = sealedEntry(keys, "doc", Date.now() - 1000);
    fresh.catalog.applyMany([
      old,
      {
        ...old,
        hlc: { wall: old.hlc.wall + 1, logical: 0 },
        deleted: true,
        fileKey: null,
        manifestId: null,
        size: 0,
        meta: null,
      },
    ]);
    stale.catalog.apply(old);
    const { index } = openIndex(tempDir());
    await index.sync(fresh.gateway);
    expect(paths(index)).toEqual([]);
    expect(await index.sync(stale.gateway)).toMatchObject({ entries: 1 });
    expect(paths(index)).toEqual([]);
  });

  it("reports an entry that does not check out until a newer one replaces it", async () => {
    const node = fakeNode();
    const honest = sealedEntry(keys, "x", 10);
    node.catalog.apply({ ...sealedEntry(keys, "y", 10), pathId: honest.pathId });
    const { index } = openIndex(tempDir());
    await index.sync(node.gateway);
    expect([...index.unreadable()]).toEqual([
      expect.objectContaining({
        pathId: honest.pathId,
        code: "E_CORRUPT",
        reason: expect.stringContaining("filed under another path"),
      }),
    ]);
    expect(index.counts()).toEqual({ files: 0, unreadable: { E_CORRUPT: 1 } });
    node.catalog.apply({ ...honest, hlc: { wall: 11, logical: 0 } });
    await index.sync(node.gateway);
    expect([...index.unreadable()]).toEqual([]);
    expect(paths(index)).toEqual(["x"]);
  });

  it("starts over when the node purged a tombstone this index has not seen", async () => {
    const node = fakeNode();
    const doomed = sealedEntry(keys, "doomed", 10);
    node.catalog.applyMany([doomed, sealedEntry(keys, "kept", 10)]);
    const { index } = openIndex(tempDir());
    await index.sync(node.gateway);
    node.catalog.apply({
      ...doomed,
      hlc: { wall: 20, logical: 0 },
      deleted: true,
      fileKey: null,
      manifestId: null,
      size: 0,
      meta: null,
    });
    expect(node.catalog.purgeTombstones(1_000)).toBe(1);
    expect(await index.sync(node.gateway)).toMatchObject({ rebuilt: true, pages: 2, entries: 1 });
    expect(paths(index)).toEqual(["kept"]);
  });

  it("forgets a delete once the nodes forget its tombstone", async () => {
    const node = fakeNode();
    const [recent, old] = [sealedEntry(keys, "recent", Date.now()), sealedEntry(keys, "old", 10)];
    const gone = (e: CatalogEntry) => ({
      ...e,
      hlc: { wall: e.hlc.wall + 1, logical: 0 },
      deleted: true,
      fileKey: null,
      manifestId: null,
      size: 0,
      meta: null,
    });
    node.catalog.applyMany([gone(recent), gone(old)]);
    const dir = tempDir();
    const { index } = openIndex(dir);
    await index.sync(node.gateway);
    index.close();
    const db = new Database(path.join(dir, LISTING_INDEX_FILE), { readonly: true });
    cleanups.push(() => db.close());
    expect(db.prepare("SELECT path_id FROM entries").pluck().all()).toEqual([recent.pathId]);
  });

  it("refuses a node whose changes go back before the cursor", async () => {
    const node = fakeNode();
    node.catalog.apply(sealedEntry(keys, "a", 10));
    const { index } = openIndex(tempDir());
    await index.sync(node.gateway);
    const replay = {
      nodeId: node.gateway.nodeId,
      request: async () => ({ t: "catalog.changes.page", re: 1, ...node.catalog.changesSince(undefined) }),
    } as unknown as NodeClient;
    await expect(index.sync(replay)).rejects.toMatchObject({ code: "E_CORRUPT" });
  });

  it("keeps its rows between runs and rebuilds a file that is damaged or made for another cluster or key", async () => {
    const dir = tempDir();
    const node = fakeNode();
    node.catalog.apply(sealedEntry(keys, "kept", 10));
    const first = openIndex(dir);
    expect(first.notice).toBeUndefined();
    await first.index.sync(node.gateway);
    first.index.close();
    const again = openIndex(dir);
    expect(again.notice).toBeUndefined();
    expect(paths(again.index)).toEqual(["kept"]);
    expect(fs.statSync(path.join(dir, LISTING_INDEX_FILE)).mode & 0o077).toBe(0);
    again.index.close();

    const other = openIndex(dir, "d2".repeat(16));
    expect(other.notice).toMatch(/listing\.db belongs to another cluster; rebuilt it from the cluster$/);
    expect(paths(other.index)).toEqual([]);
    other.index.close();
    const otherKey = openIndex(dir, "d2".repeat(16), deriveKeys(randomBytes(32)));
    expect(otherKey.notice).toMatch(/was made with another data key; rebuilt it/);
    otherKey.index.close();

    fs.writeFileSync(path.join(dir, LISTING_INDEX_FILE), randomBytes(8192));
    for (const suffix of ["-wal", "-shm"])
      fs.rmSync(path.join(dir, LISTING_INDEX_FILE + suffix), { force: true });
    const garbage = openIndex(dir);
    expect(garbage.notice).toMatch(/listing\.db is not a valid database; rebuilt it from the cluster$/);
    await garbage.index.sync(node.gateway);
    expect(paths(garbage.index)).toEqual(["kept"]);
    garbage.index.close();

    const foreign = path.join(dir, LISTING_INDEX_FILE);
    fs.rmSync(foreign);
    const db = new Database(foreign);
    db.exec("CREATE TABLE t (x)");
    db.close();
    expect(openIndex(dir).notice).toMatch(/is not a DMFS listing index; rebuilt it/);
  });

  it("rebuilds an index whose pages were damaged", async () => {
    const dir = tempDir();
    const node = fakeNode();
    node.catalog.applyMany(Array.from({ length: 3000 }, (_, i) => sealedEntry(keys, `f/${i}`, 10)));
    const { index } = openIndex(dir);
    await index.sync(node.gateway);
    index.close();
    const file = path.join(dir, LISTING_INDEX_FILE);
    const checkpoint = new Database(file);
    checkpoint.pragma("wal_checkpoint(TRUNCATE)");
    checkpoint.close();
    // Zero a stretch in the middle of the file: inside the table and index pages, past the header.
    const fd = fs.openSync(file, "r+");
    fs.writeSync(fd, Buffer.alloc(64 * 1024), 0, 64 * 1024, Math.floor(fs.statSync(file).size / 2));
    fs.closeSync(fd);
    const damaged = openIndex(dir);
    expect(damaged.notice).toMatch(/listing\.db is damaged .*; rebuilt it from the cluster$/);
    await damaged.index.sync(node.gateway);
    expect(damaged.index.counts().files).toBe(3000);
  });

  it("is kept in memory with a notice when the directory is not writable", () => {
    const dir = path.join(tempDir(), "missing");
    const { index, notice } = openIndex(dir);
    expect(index.file).toBe(":memory:");
    expect(notice).toMatch(
      /^cannot keep the listing index at .*listing\.db \(.*\); listed from a full sync$/,
    );
  });
});

describe("prefixUpperBound", () => {
  const utf8 = (s: string) => Buffer.from(s, "utf8");
  // Code points of every UTF-8 length, the highest ones and those around the surrogates included.
  const codePoint = fc.oneof(
    fc.integer({ min: 0x20, max: 0x7f }),
    fc.constantFrom(0x7f, 0x80, 0x7ff, 0x800, 0xd7ff, 0xe000, 0xffff, 0x10000, 0x10fffe, 0x10ffff),
    fc.integer({ min: 0x80, max: 0x10ffff }).filter((c) => c < 0xd800 || c > 0xdfff),
  );
  const text = fc.array(codePoint, { maxLength: 6 }).map((cps) => String.fromCodePoint(...cps));

  it("bounds exactly the strings that start with the prefix, in UTF-8 byte order", () => {
    fc.assert(
      fc.property(text, text, (prefix, s) => {
        const high = prefixUpperBound(prefix);
        const inRange =
          Buffer.compare(utf8(s), utf8(prefix)) >= 0 &&
          (high === undefined || Buffer.compare(utf8(s), utf8(high)) < 0);
        expect(inRange).toBe(s.startsWith(prefix));
      }),
      { numRuns: 5000 },
    );
  });

  it("bounds extensions of the prefix too", () => {
    fc.assert(
      fc.property(text, text, (prefix, rest) => {
        const high = prefixUpperBound(prefix);
        if (high !== undefined) expect(Buffer.compare(utf8(prefix + rest), utf8(high))).toBeLessThan(0);
      }),
    );
  });

  it("has no bound for the empty prefix or one of only the last code point", () => {
    expect(prefixUpperBound("")).toBeUndefined();
    expect(prefixUpperBound("\u{10FFFF}\u{10FFFF}")).toBeUndefined();
    expect(prefixUpperBound("a\u{10FFFF}")).toBe("b");
    expect(prefixUpperBound("\uD7FF")).toBe("\uE000");
  });
});
