// The collector against a real chunk store and catalog, with manifests fetched through a fake: what a
// live manifest lists stays, unreferenced chunks go only once older than the grace, a shared chunk lives
// while any manifest lists it, an unreadable manifest stops every deletion, and entries that become
// live between mark and sweep are honoured.
import { mkdtemp, rm, utimes } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { blake3 } from "@noble/hashes/blake3.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { decodeIndexObject, encodeManifestV1 } from "../../src/client/manifest.ts";
import { ManifestBuilder } from "../../src/client/manifest-builder.ts";
import type { CatalogEntry } from "../../src/cluster/types.ts";
import { CHUNK_OVERHEAD_BYTES } from "../../src/crypto/chunk-format.ts";
import { DmfsError } from "../../src/errors.ts";
import { GarbageCollector } from "../../src/node/garbage-collector.ts";
import { createLogger } from "../../src/node/logger.ts";
import { Catalog } from "../../src/store/catalog.ts";
import { ChunkStore } from "../../src/store/chunk-store.ts";
import { NodeDatabase } from "../../src/store/node-database.ts";

const GRACE_MS = 60_000;
const hex = (b: Uint8Array) => bytesToHex(blake3(b));
let dir: string;
let db: NodeDatabase;
let catalog: Catalog;
let store: ChunkStore;
let unreadable: Set<string>;
let collector: GarbageCollector;
let wall = 1_000;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "dmfs-gc-"));
  db = NodeDatabase.open(dir);
  catalog = new Catalog(db);
  store = await ChunkStore.open(dir, { hash: async (b) => hex(b) });
  unreadable = new Set();
  collector = new GarbageCollector({
    catalog,
    store,
    fetchIndexObject: async (id) => {
      if (unreadable.has(id)) throw new DmfsError("E_NOT_FOUND", `no alive node holds ${id}`);
      return store.get(id);
    },
    graceMs: GRACE_MS,
    log: createLogger("silent"),
  });
});
afterEach(async () => {
  db.close();
  await rm(dir, { recursive: true, force: true });
});

/** Stores a chunk whose file looks `ageMs` old. */
async function chunk(seed: number, ageMs = 2 * GRACE_MS): Promise<string> {
  const data = new Uint8Array(CHUNK_OVERHEAD_BYTES + 100).fill(seed);
  const id = hex(data);
  await store.put(id, data);
  const then = new Date(Date.now() - ageMs);
  await utimes(store.pathOf(id), then, then);
  return id;
}

/** Stores a first-format manifest of `chunkIds` (old) and a live catalog entry for it at `path`. */
async function file(path: number, chunkIds: string[]): Promise<string> {
  const bytes = encodeManifestV1({
    v: 1,
    chunkSize: 100,
    size: 100 * chunkIds.length,
    chunks: chunkIds.map((id) => [id, CHUNK_OVERHEAD_BYTES + 100]),
  });
  const id = hex(bytes);
  await store.put(id, bytes);
  const then = new Date(Date.now() - 2 * GRACE_MS);
  await utimes(store.pathOf(id), then, then);
  catalog.apply(entry(path, id));
  return id;
}

/**
 * Stores a manifest tree of `chunkIds` with fan-out 2 (old index objects) and a live catalog entry for it
 * at `path`; returns the root's id and the other index objects' ids.
 */
async function treeFile(path: number, chunkIds: string[]): Promise<{ root: string; index: string[] }> {
  const written: string[] = [];
  const builder = new ManifestBuilder(100, 2, async (bytes) => {
    const id = hex(bytes);
    await store.put(id, bytes);
    const then = new Date(Date.now() - 2 * GRACE_MS);
    await utimes(store.pathOf(id), then, then);
    written.push(id);
    return id;
  });
  for (const id of chunkIds) await builder.add(id, CHUNK_OVERHEAD_BYTES + 100, 100);
  const { manifestId } = await builder.finish();
  catalog.apply(entry(path, manifestId));
  return { root: manifestId, index: written.filter((id) => id !== manifestId) };
}

function entry(path: number, manifestId: string | null): CatalogEntry {
  return {
    pathId: path.toString(16).padStart(64, "0"),
    hlc: { wall: wall++, logical: 0 },
    writer: "a".repeat(32),
    deleted: manifestId === null,
    fileKey: manifestId && "f".repeat(64),
    manifestId,
    size: 0,
    meta: null,
  };
}

describe("garbage collector", () => {
  it("deletes old unreferenced chunks only, keeping what live manifests list and young chunks", async () => {
    const [a, b, shared] = [await chunk(1), await chunk(2), await chunk(3)];
    const young = await chunk(4, 1_000);
    const orphan = await chunk(5);
    const mA = await file(1, [a, shared]);
    const mB = await file(2, [b, shared]);
    const first = await collector.run();
    expect(first).toEqual({
      reclaimedBytes: 100 + CHUNK_OVERHEAD_BYTES,
      reclaimedChunks: 1,
      reclaimableBytes: 100 + CHUNK_OVERHEAD_BYTES,
    });
    expect(await store.has(orphan)).toBe(false);
    expect(await store.has(young)).toBe(true);
    expect(collector.isCondemned(orphan)).toBe(true);
    expect(collector.isCondemned(young)).toBe(false);

    catalog.apply(entry(1, null)); // delete file 1: its own chunk and manifest go, the shared one stays
    const second = await collector.run();
    expect(second.reclaimedChunks).toBe(2);
    expect(await store.has(a)).toBe(false);
    expect(await store.has(mA)).toBe(false);
    for (const id of [b, shared, mB, young]) expect(await store.has(id)).toBe(true);
    expect(collector.reclaimedBytes).toBe(first.reclaimedBytes + second.reclaimedBytes);
  });

  it("deletes nothing in a pass that cannot read a live manifest", async () => {
    const orphan = await chunk(6);
    const listed = await chunk(7);
    const m = await file(3, [listed]);
    unreadable.add(m);
    const result = await collector.run();
    expect(result.reclaimedChunks).toBe(0);
    expect(result.skipped).toMatch(/could not be read/);
    expect(await store.has(orphan)).toBe(true);
    expect(await store.has(listed)).toBe(true);
  });

  it("walks manifest trees: keeps every index object and chunk of a live tree, collects a deleted tree whole", async () => {
    const live = await Promise.all([10, 11, 12, 13, 14].map((seed) => chunk(seed)));
    const gone = await Promise.all([20, 21, 22, 23, 24].map((seed) => chunk(seed)));
    const liveTree = await treeFile(4, live);
    const goneTree = await treeFile(5, gone);
    expect(decodeIndexObject(await store.get(liveTree.root), liveTree.root).level).toBe(2); // 3 levels
    expect(liveTree.index).toHaveLength(5); // three leaves, two level-1 objects
    catalog.apply(entry(5, null));
    const result = await collector.run();
    expect(result.reclaimedChunks).toBe(gone.length + goneTree.index.length + 1);
    for (const id of [...live, ...liveTree.index, liveTree.root]) expect(await store.has(id)).toBe(true);
    for (const id of [...gone, ...goneTree.index, goneTree.root]) expect(await store.has(id)).toBe(false);
  });

  it("deletes nothing in a pass that cannot read an index object below a live root", async () => {
    const orphan = await chunk(30);
    const listed = await Promise.all([31, 32, 33].map((seed) => chunk(seed)));
    const tree = await treeFile(6, listed);
    unreadable.add(tree.index[0] as string);
    const result = await collector.run();
    expect(result.reclaimedChunks).toBe(0);
    expect(result.skipped).toMatch(/could not be read/);
    expect(await store.has(orphan)).toBe(true);
  });

  it("keeps a chunk renewed by a write after the mark", async () => {
    const id = await chunk(8);
    const data = await store.get(id);
    expect(await store.put(id, data)).toBe("existed"); // an upload writing it again renews it
    expect((await collector.run()).reclaimedChunks).toBe(0);
    expect(await store.has(id)).toBe(true);
    expect(collector.isCondemned(id)).toBe(false); // young again: repair may still spread it
  });
});
