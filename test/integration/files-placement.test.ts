// Placement on a real 5-node mesh with R=3: every chunk and the manifest of an uploaded file end up as
// chunk files on exactly the three nodes that rendezvous hashing ranks first, and nowhere else - checked
// on each node's disk, and against what `stat` reports.
import { existsSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rankNodes } from "../../src/cluster/placement.ts";
import { CHUNK_SIZE, seededStream, TestCluster, waitFor } from "../helpers/cluster-harness.ts";

const NODES = [0, 1, 2, 3, 4];
let cluster: TestCluster;

beforeAll(async () => {
  cluster = await TestCluster.create(
    NODES.map((i) => ({ join: i === 0 ? [] : [0] })),
    { replication: 3, writeQuorum: 2 },
  );
  await cluster.startAll();
  await cluster.waitForMesh();
});

afterAll(async () => {
  await cluster?.stop();
});

/** The indices of the nodes whose disk holds a chunk file for `chunkId`. */
function holders(chunkId: string): number[] {
  return NODES.filter((i) => existsSync(cluster.chunkPath(i, chunkId)));
}

describe("placement", () => {
  it("puts every chunk and the manifest on exactly the three top-ranked nodes", async () => {
    const ids = (await cluster.nodeIds()) as string[];
    const files = await cluster.files(3);
    const size = 6 * CHUNK_SIZE + 77;
    await files.upload(seededStream("placement", size), "placed.bin", 0);

    const stat = await files.stat("placed.bin");
    const objects = [stat.manifest.id, ...stat.chunks.map((c) => c.id)];
    expect(objects).toHaveLength(8);
    // The gateway (node 3) keeps a copy only of what it is a home of, like every other node.
    const expected = new Map(
      objects.map((id) => [
        id,
        rankNodes(id, ids)
          .slice(0, 3)
          .map((nodeId) => ids.indexOf(nodeId))
          .sort(),
      ]),
    );

    // Copies beyond the write quorum complete in the background: wait for them, then hold still.
    for (const id of objects) {
      await waitFor(`chunk ${id.slice(0, 8)} on its three homes`, () => holders(id).length >= 3, 10_000);
      expect(holders(id)).toEqual(expected.get(id));
    }

    // `stat` reports the same nodes.
    const located = [stat.manifest.nodes, ...stat.chunks.map((c) => c.nodes)];
    const again = await files.stat("placed.bin");
    const locatedNow = [again.manifest.nodes, ...again.chunks.map((c) => c.nodes)];
    for (const [i, id] of objects.entries()) {
      const homes = (expected.get(id) ?? []).map((n) => ids[n]).sort();
      expect([...(locatedNow[i] ?? [])].sort()).toEqual(homes);
      // The first stat may have run before the background copy landed, never with extra holders.
      for (const nodeId of located[i] ?? []) expect(homes).toContain(nodeId);
    }
  });
});
