// Suite "range": ranged reads against one real node (R=1): a 64 MiB file in 64 KiB chunks (1,024 chunks)
// is uploaded once with the uploads' fan-out of 1,000 (a root over 2 leaves) and once with a fan-out of
// 8 (a root over 4 levels), then 100 reads of 4 KiB at spread offsets are timed one after another, and
// one whole read for comparison. The node counts the objects each read fetched (status chunkReads).
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { CryptoPool } from "../src/workers/crypto-pool.ts";
import { BenchCluster } from "./e2e-cluster.ts";
import type { BenchSuite } from "./index.ts";

const CHUNK = 64 * 1024;
const CHUNKS = 1024;
const SIZE = CHUNKS * CHUNK;
const READS = 100;
const READ_BYTES = 4096;
const FAN_OUTS = [1000, 8];

export const rangeSuite: BenchSuite = {
  columns: [
    { field: "case", title: "case" },
    { field: "levels", title: "levels" },
    { field: "reads", title: "reads" },
    { field: "objectsPerRead", title: "objects/read", format: (n) => Number(n).toFixed(1) },
    { field: "medianMs", title: "median ms", format: (n) => Number(n).toFixed(1) },
    { field: "p95Ms", title: "p95 ms", format: (n) => Number(n).toFixed(1) },
    { field: "wholeReadSeconds", title: "whole s", format: (n) => Number(n).toFixed(2) },
  ],
  run: async (report) => {
    const dir = await mkdtemp(join(tmpdir(), "dmfs-bench-range-"));
    const cluster = await BenchCluster.create(dir, 1, { replication: 1, writeQuorum: 1 });
    const pool = new CryptoPool({ threads: 1 });
    try {
      await cluster.startNode();
      for (const fanOut of FAN_OUTS) {
        const files = await cluster.fileClient(0, pool, { chunkSize: CHUNK, indexFanOut: fanOut });
        const path = `range-${fanOut}.bin`;
        await files.upload(Readable.from(pieces()), path, Date.now());
        const before = (await cluster.status(0)).activity.chunkReads;
        const times: number[] = [];
        for (let r = 0; r < READS; r++) {
          // Spread over the file, never chunk-aligned, some across a chunk boundary.
          const offset = Math.floor(((r * 7919) % READS) * (SIZE / READS)) + CHUNK - 1000 * (r % 5);
          const started = performance.now();
          const range = await files.readRange(path, { offset, length: READ_BYTES });
          for await (const _ of range.bytes) {
            // drained: the bytes are what a caller would write out
          }
          times.push(performance.now() - started);
        }
        const objects = (await cluster.status(0)).activity.chunkReads - before;
        const wholeStarted = performance.now();
        const whole = await files.readRange(path);
        for await (const _ of whole.bytes) {
          // drained
        }
        times.sort((a, b) => a - b);
        report({
          suite: "range",
          case: `fan-out-${fanOut}`,
          chunks: CHUNKS,
          levels: levelsOf(CHUNKS, fanOut),
          reads: READS,
          objectsPerRead: objects / READS,
          medianMs: times[Math.floor(READS / 2)] ?? null,
          p95Ms: times[Math.floor(READS * 0.95)] ?? null,
          wholeReadSeconds: (performance.now() - wholeStarted) / 1000,
        });
      }
    } finally {
      await pool.destroy();
      await cluster.stop();
      await rm(dir, { recursive: true, force: true });
    }
  },
};

/** The file's bytes, a chunk at a time, each chunk different (no dedup). */
function* pieces(): Generator<Buffer> {
  for (let i = 0; i < CHUNKS; i++) {
    const piece = Buffer.alloc(CHUNK, i % 251);
    piece.writeUInt32BE(i, 0);
    yield piece;
  }
}

function levelsOf(chunks: number, fanOut: number): number {
  let levels = 1;
  for (let span = fanOut; span < chunks; span *= fanOut) levels++;
  return levels;
}
