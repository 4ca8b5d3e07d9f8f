// A node added with `dmfs cluster add-node` joins the layout when it first starts: 3 real nodes with
// R=3, a fourth issued and started while a reader reads every file over and over. Every chunk must end
// on exactly its 3 homes under the new layout (weighted by the capacities the layout names) and nowhere
// else, with no failed read on the way. Checked on the nodes' disks.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { homes } from "../../src/cluster/placement.ts";
import { seededBytes, seededStream, TestCluster, waitFor } from "../helpers/cluster-harness.ts";

const FILES = 10;
let cluster: TestCluster;

beforeAll(async () => {
  cluster = await TestCluster.create([{ join: [] }, { join: [0] }, { join: [0] }], {
    replication: 3,
    writeQuorum: 2,
  });
  await cluster.startAll();
  await cluster.waitForMesh(20_000);
}, 120_000);

afterAll(async () => {
  await cluster?.stop();
});

const sizeOf = (n: number) => 30_000 + n * 300_000; // one to four chunks

describe("dmfs cluster add-node", () => {
  it("the new node joins the layout when it starts; every chunk ends on exactly its 3 new homes, reads never fail", async () => {
    const files = await cluster.files(0);
    const objects = new Set<string>();
    for (let n = 0; n < FILES; n++) {
      await files.upload(seededStream(`add-${n}`, sizeOf(n)), `add/${n}.bin`, 0);
      const stat = await files.stat(`add/${n}.bin`);
      for (const id of [stat.manifest.id, ...stat.chunks.map((c) => c.id)]) objects.add(id);
    }
    const ids = [...objects];
    const expected = await Promise.all(
      Array.from({ length: FILES }, (_, n) => seededBytes(`add-${n}`, sizeOf(n))),
    );

    // A reader that reads every file through node 1 until told to stop.
    let stop = false;
    let reads = 0;
    const failures: string[] = [];
    const reader = (async () => {
      while (!stop) {
        for (let n = 0; n < FILES && !stop; n++) {
          try {
            const back = await cluster.readBack(`add/${n}.bin`, 1);
            if (!back.equals(expected[n] as Buffer)) failures.push(`add/${n}.bin came back different`);
            reads++;
          } catch (err) {
            failures.push(`add/${n}.bin: ${(err as Error).message}`);
          }
        }
      }
    })();

    const add = await cluster.runCli(["cluster", "add-node", "node-3", "--json"], { gateway: 0 });
    expect(add.stderr).toBe("");
    expect(add.code).toBe(0);
    const added = JSON.parse(add.stdout) as { bundle: string; nodeId: string; layoutVersion: number };
    expect(added.layoutVersion).toBe(2);
    expect(existsSync(join(added.bundle, "layout"))).toBe(true);

    const i = await cluster.addNode(added.bundle, { join: [0] });
    const startedAt = Date.now();
    await cluster.start(i);
    expect((await cluster.status(i)).nodeId).toBe(added.nodeId);

    const shown = await waitFor(
      "the cluster to follow layout version 2",
      async () => {
        const result = await cluster.runCli(["cluster", "layout", "--json"], { gateway: 2 });
        const layout = JSON.parse(result.stdout) as {
          version: number;
          nodes: { nodeId: string; capacity: number }[];
        };
        return layout.version === 2 ? layout : undefined;
      },
      20_000,
    );
    if (!shown) throw new Error("unreachable: waitFor returns a layout");
    expect(shown.nodes.map((n) => n.nodeId)).toContain(added.nodeId);
    const nodeIds = (await cluster.nodeIds()) as string[];
    const weighted = shown.nodes.map((n) => ({ nodeId: n.nodeId, weight: n.capacity }));
    const homesOf = new Map(
      ids.map((id) => [
        id,
        homes(id, weighted, 3)
          .map((nodeId) => nodeIds.indexOf(nodeId))
          .sort(),
      ]),
    );
    const holders = (id: string) => [0, 1, 2, 3].filter((j) => existsSync(cluster.chunkPath(j, id)));
    await waitFor(
      "every chunk on exactly its 3 homes under layout 2",
      () => ids.every((id) => JSON.stringify(holders(id)) === JSON.stringify(homesOf.get(id))),
      60_000,
    );
    const settledMs = Date.now() - startedAt;
    const onNewcomer = ids.filter((id) => holders(id).includes(i)).length;
    stop = true;
    await reader;
    console.log(
      `${ids.length} chunks on their homes ${settledMs} ms after the new node started; ${onNewcomer} moved to it; ${reads} reads, ${failures.length} failed`,
    );
    expect(failures).toEqual([]);
    expect(reads).toBeGreaterThan(0);
    expect(onNewcomer).toBeGreaterThan(0);
  }, 180_000);
});
