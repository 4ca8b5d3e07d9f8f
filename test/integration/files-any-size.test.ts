// Files of any size: with 64 KiB chunks, a 1.5 GiB file (24,576 chunks - more than one frame's worth of
// single-object manifest could list) generated on the fly is uploaded with `dmfs upload` through a named
// pipe and read back with `dmfs read`, both hashed as they stream, with each client's peak resident set
// under 200 MiB and every node's under 300 MiB. Its manifest is a tree of 25 leaves under a root; a
// 1-byte ranged read of it fetches the root, one leaf and one chunk, counted on the nodes. (A 1 GiB file
// has the same two levels - 17 leaves - so this is the "1-byte read of a 1 GiB file".) Slow on a
// loaded machine: 4-8 minutes here under a load average of ~20 (24,576 chunks x 3 copies, 2 fsyncs each).
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  processMemory,
  roundTripThroughPipe,
  runCliSampled,
  seededSlice,
  startThreeNodeCluster,
  type TestCluster,
} from "../helpers/cluster-harness.ts";

const MiB = 1024 * 1024;
const CHUNK = 64 * 1024;
const SIZE = 1536 * MiB;
const SEED = "one-and-a-half-gib";
// The bound for both clients. Measured here at 64 KiB chunks before the client kept its young
// generation small and reused its read buffers (src/cli/garbage-collection.ts, FileClient.read): upload
// 169-207 MiB, read 205-214 MiB; after: see docs/performance.md.
const CLIENT_LIMIT = 200 * MiB;
const NODE_LIMIT = 300 * MiB;
let cluster: TestCluster;
let access: string[];

beforeAll(async () => {
  cluster = await startThreeNodeCluster();
  // The client's chunk size comes from the config (`cluster.chunkSize`); --node picks the gateway.
  const config = join(cluster.dir, "small-chunks.yaml");
  const servers = cluster.addrs
    .map((addr, i) => `  - listenAddr: "${addr}"\n    root: ./node-${i}\n`)
    .join("");
  await writeFile(config, `cluster:\n  dir: ${cluster.clusterDir}\n  chunkSize: 64KiB\nservers:\n${servers}`);
  access = ["--config", config, "--node", cluster.addrs[0] as string];
}, 60_000);

afterAll(async () => {
  await cluster?.stop();
});

function mib(bytes: number): string {
  return `${(bytes / MiB).toFixed(0)} MiB`;
}

/** Chunks and index objects every node served to clients so far (status activity.chunkReads). */
async function objectsRead(): Promise<number> {
  const counts = await Promise.all([0, 1, 2].map(async (i) => (await cluster.status(i)).activity.chunkReads));
  return counts.reduce((a, b) => a + b, 0);
}

describe("files of any size", () => {
  it("uploads and reads back 1.5 GiB in 64 KiB chunks with bounded memory; one byte costs three fetches", async () => {
    const { up, read, uploadSeconds, readSeconds, sentSha256, receivedSha256 } = await roundTripThroughPipe({
      dir: cluster.dir,
      seed: SEED,
      size: SIZE,
      path: "big.bin",
      access,
    });
    expect(up.code, up.stderr).toBe(0);
    expect(read.code, read.stderr).toBe(0);
    expect(receivedSha256).toBe(sentSha256);

    // One byte in the middle: the root (level 1, 25 entries), the leaf over it, its chunk. Two bytes
    // across the first two leaves: the root, both leaves, both chunks.
    for (const [at, length, objects] of [
      [SIZE / 2 + 12_345, 1, 3],
      [1000 * CHUNK - 1, 2, 5],
    ] as const) {
      const before = await objectsRead();
      let bytes = Buffer.alloc(0);
      const ranged = await runCliSampled(
        ["read", "big.bin", "--offset", String(at), "--length", String(length), ...access],
        async (out) => {
          for await (const piece of out) bytes = Buffer.concat([bytes, piece as Buffer]);
        },
      );
      expect(ranged.code, ranged.stderr).toBe(0);
      expect(bytes.equals(seededSlice(SEED, at, at + length))).toBe(true);
      expect((await objectsRead()) - before).toBe(objects);
    }

    const nodes = [0, 1, 2].map((i) => processMemory(cluster.nodes[i]?.proc.pid as number, "VmHWM"));
    console.info(
      `1.5 GiB in 64 KiB chunks: upload ${uploadSeconds.toFixed(0)} s (${(1536 / uploadSeconds).toFixed(0)} MiB/s), read ${readSeconds.toFixed(0)} s; ` +
        `peak RSS: upload client ${mib(up.peak)}, read client ${mib(read.peak)}, nodes ${nodes.map(mib).join(", ")}`,
    );
    expect(up.peak).toBeGreaterThan(0);
    expect(up.peak, `upload client peak RSS ${mib(up.peak)}`).toBeLessThan(CLIENT_LIMIT);
    expect(read.peak, `read client peak RSS ${mib(read.peak)}`).toBeLessThan(CLIENT_LIMIT);
    for (const [i, peak] of nodes.entries()) {
      expect(peak, `node ${i} peak RSS ${mib(peak)}`).toBeLessThan(NODE_LIMIT);
    }
    expect(up.stderr).toBe("");
    expect(read.stderr).toBe("");
  }, 1_500_000);
});
