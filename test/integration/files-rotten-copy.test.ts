import { readFile } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CHUNK_SIZE, seededStream, TestCluster } from "../helpers/cluster-harness.ts";

const SIZE = 2 * CHUNK_SIZE + 777;
let cluster: TestCluster;

beforeAll(async () => {
  cluster = await TestCluster.create([{ join: [] }, { join: [0] }, { join: [0, 1] }], {
    replication: 3,
    writeQuorum: 3,
  });
  await cluster.startAll();
  await cluster.waitForMesh();
});

afterAll(async () => {
  await cluster?.stop();
});

describe("an upload meeting existing copies (R = W = 3)", () => {
  it("never acknowledges on a rotten existing copy: each one is quarantined and rewritten first", async () => {
    const files = await cluster.files(0);
    await files.upload(seededStream("rotten", SIZE), "first.bin", 0);
    const stat = await files.stat("first.bin");
    const [first, second] = stat.chunks.map((c) => c.id);
    if (!first || !second) throw new Error("expected at least two chunks");
    // W = 3: the acknowledgement means every node holds every object.
    const good = new Map<string, Buffer>();
    for (const id of [stat.manifest.id, first, second])
      good.set(id, await readFile(cluster.chunkPath(1, id)));
    // The gateway's own copy (a local put), and two copies that arrive as chunk.put from the gateway.
    const rotted: [number, string][] = [
      [0, first],
      [1, second],
      [2, stat.manifest.id],
    ];
    for (const [node, id] of rotted) await cluster.flipAByte(node, id);

    const started = performance.now();
    await files.upload(seededStream("rotten", SIZE), "second.bin", 0);
    console.log(`second upload over three rotten copies: ${Math.round(performance.now() - started)} ms`);

    for (const [node, id] of rotted) {
      expect((await readFile(cluster.chunkPath(node, id))).equals(good.get(id) as Buffer)).toBe(true);
      expect(await cluster.quarantined(node)).toEqual([expect.stringMatching(new RegExp(`^${id}\\.`))]);
      expect(
        cluster.nodes[node]?.output.some((l) => l.includes("quarantined a rotten chunk copy and rewrote it")),
      ).toBe(true);
    }
  });
});
