// FileClientOptions.uploadGate: the S3 gateway runs every request's upload through one FileClient, and
// the gate bounds the chunks being sealed or written across all of them. A fake gateway node counts the
// chunk writes under way at once; the pool is the real one.
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FileClient } from "../../src/client/file-client.ts";
import type { NodeClient } from "../../src/client/node-client.ts";
import { CHUNK_OVERHEAD_BYTES } from "../../src/crypto/chunk-format.ts";
import { deriveKeys } from "../../src/crypto/keys.ts";
import { CryptoPool } from "../../src/workers/crypto-pool.ts";
import { FifoGate } from "../../src/workers/fifo-gate.ts";

const CHUNK = 64 * 1024;
const UPLOADS = 6;
const CHUNKS_EACH = 12;

/** A gateway node that accepts everything; each chunk write answers a few turns of the event loop later. */
function countingNode() {
  const seen = { writing: 0, mostWriting: 0, written: 0, pulledAhead: 0 };
  const node = {
    nodeId: "f".repeat(64),
    async request(message: { t: string; data?: Uint8Array }) {
      if (message.t === "file.begin") return { t: "file.begun", gcGraceMs: 3_600_000 };
      if (message.t === "file.chunk.write" && message.data?.length === CHUNK + CHUNK_OVERHEAD_BYTES) {
        seen.writing++;
        seen.mostWriting = Math.max(seen.mostWriting, seen.writing);
        for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
        seen.writing--;
        seen.written++;
      }
      return { t: "ok" };
    },
  };
  return { node: node as unknown as NodeClient, seen };
}

/** `chunks` full chunks of random bytes, in pieces of a quarter chunk; counts how many chunks were read. */
async function* source(chunks: number, read: { chunks: number }) {
  for (let i = 0; i < chunks; i++) {
    read.chunks++;
    for (let q = 0; q < 4; q++) yield randomBytes(CHUNK / 4);
  }
}

describe("FileClient uploadGate", () => {
  let pool: CryptoPool;
  const keys = deriveKeys(randomBytes(32));
  beforeAll(() => {
    pool = new CryptoPool({ threads: 2 });
  });
  afterAll(async () => {
    await pool.destroy();
  });

  async function uploadAll(gate: FifoGate | undefined) {
    const { node, seen } = countingNode();
    const files = new FileClient(node, pool, keys, CHUNK, gate ? { uploadGate: gate } : {});
    const reads = Array.from({ length: UPLOADS }, () => ({ chunks: 0 }));
    let mostReadAhead = 0;
    const watch = setInterval(() => {
      // Chunks read from the sources beyond those written or being written: what waiting uploads hold.
      const read = reads.reduce((sum, r) => sum + r.chunks, 0);
      mostReadAhead = Math.max(mostReadAhead, read - seen.written - seen.writing);
    }, 0);
    try {
      const results = await Promise.all(
        reads.map((read, i) => files.upload(source(CHUNKS_EACH, read), `b/object-${i}`, Date.now())),
      );
      return { seen, results, mostReadAhead };
    } finally {
      clearInterval(watch);
    }
  }

  it("keeps the chunks in flight across all uploads within the gate, and every upload completes", async () => {
    const gate = new FifoGate(3);
    const { seen, results, mostReadAhead } = await uploadAll(gate);
    expect(results.map((r) => r.size)).toEqual(Array(UPLOADS).fill(CHUNKS_EACH * CHUNK));
    expect(seen.written).toBe(UPLOADS * CHUNKS_EACH);
    expect(seen.mostWriting).toBeGreaterThan(0);
    expect(seen.mostWriting).toBeLessThanOrEqual(3);
    expect([gate.running, gate.waiting]).toEqual([0, 0]);
    // Beyond the gate's 3 being sealed or written, each upload holds at most two chunks: the two read
    // ahead at its start, or later the one waiting for room and the one its source is filling.
    expect(mostReadAhead).toBeLessThanOrEqual(3 + 2 * UPLOADS);
  });

  it("without a gate each upload has its own window, so the same uploads have more in flight", async () => {
    const { seen } = await uploadAll(undefined);
    expect(seen.written).toBe(UPLOADS * CHUNKS_EACH);
    expect(seen.mostWriting).toBeGreaterThan(3);
  });

  it("gives the room back when an upload fails, so the others finish", async () => {
    const gate = new FifoGate(2);
    const { node } = countingNode();
    const files = new FileClient(node, pool, keys, CHUNK, { uploadGate: gate });
    async function* failing() {
      yield randomBytes(CHUNK);
      yield randomBytes(CHUNK);
      yield randomBytes(CHUNK / 2);
      throw new Error("the client went away");
    }
    const results = await Promise.allSettled([
      files.upload(failing(), "b/broken", Date.now()),
      ...Array.from({ length: 3 }, (_, i) => files.upload(source(6, { chunks: 0 }), `b/ok-${i}`, Date.now())),
    ]);
    expect(results.map((r) => r.status)).toEqual(["rejected", "fulfilled", "fulfilled", "fulfilled"]);
    expect([gate.running, gate.waiting]).toEqual([0, 0]);
  });
});
