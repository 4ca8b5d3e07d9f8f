// Zones on real nodes: 6 nodes in 3 zones (two each, `dmfs node --zone`), R=3. Once `dmfs cluster layout
// apply` has signed the zones into the layout, every chunk must have exactly one copy in each zone - on
// the nodes' disks, not only in what they say - and with both nodes of one zone stopped every file
// must still read back whole.
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ClusterLayoutJson } from "../../src/cli/cluster-layout.ts";
import { seededBytes, seededStream, TestCluster, waitFor } from "../helpers/cluster-harness.ts";

const ZONES = ["room-a", "room-a", "room-b", "room-b", "room-c", "room-c"];
const FILES = 12;
let cluster: TestCluster;

beforeAll(async () => {
  cluster = await TestCluster.create(
    ZONES.map((zone, i) => ({ join: i === 0 ? [] : [0], extraArgs: ["--zone", zone] })),
    { replication: 3, writeQuorum: 2 },
  );
  await cluster.startAll();
  await cluster.waitForMesh(30_000);
}, 180_000);

afterAll(async () => {
  await cluster?.stop();
});

const sizeOf = (n: number) => 40_000 + n * 190_000; // 40 KB to 2.1 MB: one to three chunks

/** Which nodes hold a chunk file for `id`. */
function holders(id: string): number[] {
  return ZONES.map((_, i) => i).filter((i) => existsSync(cluster.chunkPath(i, id)));
}

async function layoutJson(gateway: number): Promise<ClusterLayoutJson> {
  const shown = await cluster.runCli(["cluster", "layout", "--json"], { gateway });
  expect(shown.stderr).toBe("");
  return JSON.parse(shown.stdout) as ClusterLayoutJson;
}

describe("zones", () => {
  it("puts one copy of every chunk in each of 3 zones, and reads every file with a whole zone stopped", async () => {
    // Before apply the implicit layout knows no zones; the nodes' configs do.
    const before = await layoutJson(0);
    expect(before).toMatchObject({ signed: false, zones: 1 });
    expect(before.zoneChanges.map((c) => c.zone).sort()).toEqual([...ZONES].sort());

    const applied = await cluster.runCli(["cluster", "layout", "apply", "--json"], { gateway: 0 });
    expect(applied.stderr).toBe("");
    expect(applied.code).toBe(0);
    expect(JSON.parse(applied.stdout)).toMatchObject({ version: 2, changed: true });
    const signed = await readFile(join(cluster.clusterDir, "layout"));
    // Every node follows the new layout and has settled on it (nothing stored yet, so nothing to move).
    await waitFor(
      "every node to follow layout version 2 and settle",
      async () => {
        for (let i = 0; i < ZONES.length; i++) {
          const held = await readFile(join(cluster.rootOf(i), "layout")).catch(() => undefined);
          if (!held?.equals(signed)) return false;
        }
        return (await layoutJson(0)).changing.length === 0;
      },
      30_000,
    );
    const after = await layoutJson(3);
    expect(after).toMatchObject({ version: 2, signed: true, zones: 3, zoneChanges: [] });
    const ids = await cluster.nodeIds();
    const zoneOfNode = new Map(after.nodes.map((n) => [n.nodeId, n.zone]));
    expect(ids.map((id) => zoneOfNode.get(id as string))).toEqual(ZONES);
    const human = await cluster.runCli(["cluster", "layout"], { gateway: 5 });
    expect(human.stdout).toMatch(/room-c/);
    expect(human.stdout).toMatch(/as many of the 3 zones/);
    // Applying again changes nothing: the layout already says what the nodes report.
    const again = await cluster.runCli(["cluster", "layout", "apply", "--json"], { gateway: 1 });
    expect(JSON.parse(again.stdout)).toMatchObject({ version: 2, changed: false });

    const files = await cluster.files(0);
    const objects = new Set<string>();
    for (let n = 0; n < FILES; n++) {
      await files.upload(seededStream(`zones-${n}`, sizeOf(n)), `zones/${n}.bin`, 0);
      const stat = await files.stat(`zones/${n}.bin`);
      for (const id of [stat.manifest.id, ...stat.chunks.map((c) => c.id)]) objects.add(id);
    }
    const chunkIds = [...objects];
    // Copies beyond the write quorum finish in the background: wait for 3 on disk, then check the zones.
    await waitFor("every chunk on 3 nodes", () => chunkIds.every((id) => holders(id).length === 3), 30_000);
    for (const id of chunkIds) {
      const zones = holders(id).map((i) => ZONES[i]);
      expect(zones.sort(), `zones holding ${id.slice(0, 8)}`).toEqual(["room-a", "room-b", "room-c"]);
    }
    console.log(`${chunkIds.length} chunks of ${FILES} files: one copy in each of 3 zones`);

    // Lose a whole zone: every file still reads back whole, through a node of each zone left.
    await Promise.all([cluster.kill(4), cluster.kill(5)]);
    await waitFor("node 0 to see room-c down", async () => {
      const states = await cluster.peerStates(0);
      return states[cluster.addrs[4] as string] === "down" && states[cluster.addrs[5] as string] === "down";
    });
    for (let n = 0; n < FILES; n++) {
      const back = await cluster.readBack(`zones/${n}.bin`, n % 2 === 0 ? 0 : 3);
      expect(back.equals(await seededBytes(`zones-${n}`, sizeOf(n))), `zones/${n}.bin`).toBe(true);
    }
  }, 240_000);
});
