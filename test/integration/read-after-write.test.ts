// Read-after-write across gateways, on three real nodes (R=3, W=2): an upload is acknowledged once its
// catalog entry is on two nodes, and the third receives it a moment later. A client that reads right
// after the acknowledgement through that third node must find the file (by path and by key): a node
// that misses asks its peers (src/node/file-lookup.ts). Four uploads of a chunk and a half at a time
// keep the nodes busy storing copies, so the third node's catalog write often lands after the client's
// question: without the peers asked, 2 of 3 runs failed here.
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FileClient } from "../../src/client/file-client.ts";
import { CHUNK_SIZE, startThreeNodeCluster, type TestCluster } from "../helpers/cluster-harness.ts";

const FILES = 48;
const AT_ONCE = 4;

let cluster: TestCluster;

beforeAll(async () => {
  cluster = await startThreeNodeCluster();
}, 60_000);

afterAll(async () => {
  await cluster?.stop();
});

describe("read after write", () => {
  it("finds every file through the other two nodes the moment its upload through node 0 is acknowledged", async () => {
    const writer = await cluster.files(0);
    const readers: FileClient[] = [await cluster.files(1), await cluster.files(2)];
    const misses: string[] = [];
    let next = 0;
    const worker = async () => {
      for (let i = next++; i < FILES; i = next++) {
        const path = `raw/${i}.txt`;
        // A chunk and a half: the nodes are busy storing and hashing copies while catalog entries land.
        const body = Buffer.alloc(CHUNK_SIZE + CHUNK_SIZE / 2, i);
        const { key } = await writer.upload(Readable.from([body]), path, 1_000);
        const [byPath, byKey] = await Promise.all(
          readers
            .flatMap((r) => [r.stat(path), r.stat(key)])
            .map((p) =>
              p.then(
                () => null,
                (e: Error) => e,
              ),
            ),
        );
        for (const err of [byPath, byKey]) if (err) misses.push(`${path}: ${err.message}`);
      }
    };
    await Promise.all(Array.from({ length: AT_ONCE }, worker));
    expect(misses).toEqual([]);
  }, 120_000);
});
