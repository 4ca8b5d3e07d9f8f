// Suite "gc": how long one garbage collection pass takes over a node's store of N chunks, all listed by
// live manifests of 100 chunks each (case "keep": the pass marks every manifest, walks the store and
// deletes nothing) and again after half the files were deleted long ago (case "delete-half": the same
// plus deleting half the chunks). Chunk files are small and written straight into the store's layout
// before it opens (a pass reads manifests and file metadata, never chunk bytes); manifests are real.
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { blake3 } from "@noble/hashes/blake3.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import { encodeIndexObject } from "../src/client/manifest.ts";
import { CHUNK_OVERHEAD_BYTES } from "../src/crypto/chunk-format.ts";
import { GarbageCollector } from "../src/node/garbage-collector.ts";
import { createLogger } from "../src/node/logger.ts";
import { Catalog } from "../src/store/catalog.ts";
import { ChunkStore } from "../src/store/chunk-store.ts";
import { NodeDatabase } from "../src/store/node-database.ts";
import type { BenchRecord, BenchSuite } from "./index.ts";

const CHUNK_COUNTS = [10_000, 100_000];
const CHUNKS_PER_FILE = 100;
const GRACE_MS = 60_000;

export const gcSuite: BenchSuite = {
  columns: [
    { field: "case", title: "case" },
    { field: "chunks", title: "chunks" },
    { field: "manifests", title: "manifests" },
    { field: "deleted", title: "deleted" },
    { field: "seconds", title: "s/pass", format: (s) => Number(s).toFixed(2) },
    { field: "chunksPerSecond", title: "chunks/s", format: (r) => Number(r).toFixed(0) },
  ],
  run: async (report) => {
    for (const chunks of CHUNK_COUNTS) await runCount(chunks, report);
  },
};

async function runCount(chunks: number, report: (record: BenchRecord) => void): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), "dmfs-bench-gc-"));
  const db = NodeDatabase.open(root);
  try {
    const hex = (b: Uint8Array) => bytesToHex(blake3(b));
    await ChunkStore.open(root, { hash: async (b) => hex(b) }); // makes the layout
    const old = new Date(Date.now() - 2 * GRACE_MS);
    const files = chunks / CHUNKS_PER_FILE;
    const catalog = new Catalog(db);
    const entries = [];
    for (let f = 0; f < files; f++) {
      const ids: string[] = [];
      for (let c = 0; c < CHUNKS_PER_FILE; c++) {
        const id = randomBytes(32).toString("hex");
        const path = join(root, "chunks", id.slice(0, 2), id);
        await writeFile(path, randomBytes(CHUNK_OVERHEAD_BYTES + 100));
        await utimes(path, old, old);
        ids.push(id);
      }
      const manifest = encodeIndexObject({
        level: 0,
        entries: ids.map((id) => [id, CHUNK_OVERHEAD_BYTES + 100, 100] as const),
        file: { chunkSize: 100, size: 100 * CHUNKS_PER_FILE },
      });
      const manifestId = hex(manifest);
      const path = join(root, "chunks", manifestId.slice(0, 2), manifestId);
      await writeFile(path, manifest);
      await utimes(path, old, old);
      entries.push({
        pathId: f.toString(16).padStart(64, "0"),
        hlc: { wall: 1, logical: 0 },
        writer: "a".repeat(32),
        deleted: false,
        fileKey: "f".repeat(64),
        manifestId,
        size: 100 * CHUNKS_PER_FILE,
        meta: null,
      });
    }
    catalog.applyMany(entries);
    const store = await ChunkStore.open(root, { hash: async (b) => hex(b) });
    const gc = new GarbageCollector({
      catalog,
      store,
      fetchIndexObject: (id) => store.get(id),
      graceMs: GRACE_MS,
      log: createLogger("silent"),
    });
    const timed = async (name: string) => {
      const started = process.hrtime.bigint();
      const result = await gc.run();
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      report({
        suite: "gc",
        case: name,
        chunks,
        manifests: files,
        deleted: result.reclaimedChunks,
        seconds,
        chunksPerSecond: (chunks + files) / seconds,
      });
    };
    await timed("keep");
    catalog.applyMany(
      entries
        .filter((_, f) => f % 2 === 0)
        .map((e) => ({ ...e, hlc: { wall: 2, logical: 0 }, deleted: true, fileKey: null, manifestId: null })),
    );
    await timed("delete-half");
  } finally {
    db.close();
    await rm(root, { recursive: true, force: true });
  }
}
