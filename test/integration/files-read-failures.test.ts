// Reads on three real nodes (R=3) when things go wrong: any two nodes killed, and chunk files corrupted
// by hand on disk. The read still returns the right bytes; a corrupt copy is moved to the node's
// quarantine/ and a good copy takes its place.
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rankNodes } from "../../src/cluster/placement.ts";
import {
  CHUNK_SIZE,
  seededBytes,
  seededStream,
  startThreeNodeCluster,
  type TestCluster,
  waitFor,
} from "../helpers/cluster-harness.ts";

const SIZE = 4 * CHUNK_SIZE + 1234;
let cluster: TestCluster;
let original: Buffer;
let chunkIds: string[];

beforeAll(async () => {
  cluster = await startThreeNodeCluster();
  original = await seededBytes("reads", SIZE);
  const files = await cluster.files(0);
  await files.upload(seededStream("reads", SIZE), "reads.bin", 0);
  const stat = await files.stat("reads.bin");
  chunkIds = stat.chunks.map((c) => c.id);
  const objects = [stat.manifest.id, ...chunkIds];
  await waitFor(
    "every node to hold every chunk",
    () => objects.every((id) => [0, 1, 2].every((i) => existsSync(cluster.chunkPath(i, id)))),
    10_000,
  );
});

afterAll(async () => {
  await cluster?.stop();
});

/** Waits until node `node` holds a chunk file for `chunkId` again, byte-equal to node `good`'s copy. */
async function waitForGoodCopy(node: number, chunkId: string, good: number): Promise<void> {
  const expected = await readFile(cluster.chunkPath(good, chunkId));
  await waitFor(
    `node ${node} to hold a good copy of chunk ${chunkId.slice(0, 8)} again`,
    async () =>
      existsSync(cluster.chunkPath(node, chunkId)) &&
      (await readFile(cluster.chunkPath(node, chunkId))).equals(expected),
    10_000,
  );
}

describe("reads when nodes fail", () => {
  // Six node starts in one test: each takes 1-2 s on a quiet machine and up to 5 s under load.
  it("returns the file through the survivor with any two of three nodes killed", {
    timeout: 90_000,
  }, async () => {
    for (const [a, b, survivor] of [
      [0, 1, 2],
      [0, 2, 1],
      [1, 2, 0],
    ] as const) {
      await cluster.kill(a);
      await cluster.kill(b);
      expect((await cluster.readBack("reads.bin", survivor)).equals(original)).toBe(true);
      await cluster.start(a);
      await cluster.start(b);
      await cluster.waitForMesh();
    }
  });

  it("serves the right bytes past a corrupt local copy, quarantines it and puts a good copy back", async () => {
    const chunkId = chunkIds[1] as string;
    await cluster.flipAByte(0, chunkId);

    expect((await cluster.readBack("reads.bin", 0)).equals(original)).toBe(true);
    expect((await cluster.quarantined(0)).filter((name) => name.startsWith(`${chunkId}.`))).toHaveLength(1);
    await waitForGoodCopy(0, chunkId, 1);
    expect((await cluster.readBack("reads.bin", 0)).equals(original)).toBe(true);
  });

  it("skips a corrupt copy on a peer too, and both corrupt holders get a good copy back", async () => {
    const ids = (await cluster.nodeIds()) as string[];
    const chunkId = chunkIds[2] as string;
    // The gateway tries its own copy, then the peers in rank order: corrupt the first two it tries.
    const firstPeer = ids.indexOf(rankNodes(chunkId, ids).find((n) => n !== ids[0]) as string);
    const lastPeer = 3 - firstPeer;
    await cluster.flipAByte(0, chunkId);
    await cluster.flipAByte(firstPeer, chunkId);

    expect((await cluster.readBack("reads.bin", 0)).equals(original)).toBe(true);
    for (const node of [0, firstPeer]) {
      expect((await cluster.quarantined(node)).filter((name) => name.startsWith(`${chunkId}.`))).toHaveLength(
        1,
      );
      await waitForGoodCopy(node, chunkId, lastPeer);
    }
    expect(await cluster.quarantined(lastPeer)).toEqual([]);
  });
});
