// Zones on real nodes: 6 nodes in 3 zones (two each, `dmfs node --zone`), R=3. Files are uploaded while
// the layout knows no zones; `dmfs cluster layout apply` then signs the zones in, and the nodes move the
// copies: `dmfs status` shows misplaced copies, bytes left to move and an ETA while they do (repair is
// paced to 1 MB/s here so there is something to see), the metrics count the bytes moved, and at the end
// every chunk has exactly one copy in each zone - on the nodes' disks, not only in what they say. With
// both nodes of one zone stopped every file must still read back.
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ClusterLayoutJson } from "../../src/cli/cluster-layout.ts";
import type { ClusterStatusJson } from "../../src/cli/status.ts";
import { freePort, seededBytes, seededStream, TestCluster, waitFor } from "../helpers/cluster-harness.ts";
import { parseMetrics, sampleValue } from "../helpers/prometheus.ts";

const ZONES = ["room-a", "room-a", "room-b", "room-b", "room-c", "room-c"];
const FILES = 12;
let cluster: TestCluster;
const metricsAddrs: string[] = [];

beforeAll(async () => {
  for (const _ of ZONES) metricsAddrs.push(`127.0.0.1:${await freePort()}`);
  cluster = await TestCluster.create(
    ZONES.map((zone, i) => ({
      join: i === 0 ? [] : [0],
      extraArgs: ["--zone", zone, "--rebalance-mbps", "1", "--metrics-addr", metricsAddrs[i] as string],
    })),
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

async function clusterStatus(): Promise<ClusterStatusJson> {
  const shown = await cluster.runCli(["status", "--json"], { gateway: 0 });
  expect(shown.stderr).toBe("");
  return JSON.parse(shown.stdout) as ClusterStatusJson;
}

describe("zones", () => {
  it("moves copies so every chunk has one in each of 3 zones, shows the move in status, reads with a zone stopped", async () => {
    // Before apply the implicit layout knows no zones; the nodes' configs do.
    const before = await layoutJson(0);
    expect(before).toMatchObject({ signed: false, zones: 1 });
    expect(before.zoneChanges.map((c) => c.zone).sort()).toEqual([...ZONES].sort());

    const files = await cluster.files(0);
    const objects = new Set<string>();
    for (let n = 0; n < FILES; n++) {
      await files.upload(seededStream(`zones-${n}`, sizeOf(n)), `zones/${n}.bin`, 0);
      const stat = await files.stat(`zones/${n}.bin`);
      for (const id of [stat.manifest.id, ...stat.chunks.map((c) => c.id)]) objects.add(id);
    }
    const chunkIds = [...objects];
    // Copies beyond the write quorum finish in the background.
    await waitFor("every chunk on 3 nodes", () => chunkIds.every((id) => holders(id).length === 3), 30_000);
    const sameZone = chunkIds.filter((id) => new Set(holders(id).map((i) => ZONES[i])).size < 3).length;
    console.log(`${sameZone} of ${chunkIds.length} chunks have two copies in one zone before apply`);
    expect(sameZone).toBeGreaterThan(0);

    const applied = await cluster.runCli(["cluster", "layout", "apply", "--json"], { gateway: 0 });
    expect(applied.stderr).toBe("");
    expect(applied.code).toBe(0);
    expect(JSON.parse(applied.stdout)).toMatchObject({ version: 2, changed: true });
    const appliedAt = Date.now();

    // While the copies move: status shows what is left and when it should be done; then it reaches 0. A
    // `dmfs status` takes a second or more on a loaded machine and the move may last only a few, so the
    // nodes' own status replies (what `dmfs status` sums) are sampled too, every 100 ms until settled.
    let sawMoving:
      | { misplaced: number | null; bytesToMove: number | null; etaSeconds: number | null }
      | undefined;
    let moving = true;
    const sampler = (async () => {
      while (moving && !sawMoving) {
        for (let i = 0; i < ZONES.length && !sawMoving; i++) {
          const repair = (await cluster.status(i).catch(() => undefined))?.repair;
          if (repair && (repair.bytesToMove ?? 0) > 0 && repair.etaSeconds !== null) sawMoving = repair;
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    const settled = await waitFor(
      "status to show nothing left to move",
      async () => {
        const s = await clusterStatus();
        if (!sawMoving && (s.bytesToMove ?? 0) > 0 && s.etaSeconds !== null) sawMoving = s;
        return s.bytesToMove === 0 && s.misplaced === 0 && s.underReplicated === 0 ? s : undefined;
      },
      120_000,
    ).finally(() => {
      moving = false;
    });
    await sampler;
    console.log(
      `settled ${Date.now() - appliedAt} ms after apply; seen while moving: ${sawMoving?.misplaced} misplaced, ${sawMoving?.bytesToMove} bytes left, ETA ${sawMoving?.etaSeconds} s`,
    );
    expect(sawMoving, "a status that showed bytes left to move with an ETA").toBeDefined();
    expect(sawMoving?.misplaced).toBeGreaterThan(0);
    expect(settled?.etaSeconds).toBe(0);
    const human = await cluster.runCli(["status"], { gateway: 2 });
    expect(human.stdout).toMatch(/misplaced copies: 0 +bytes left to move: 0 B/);

    const signed = await readFile(join(cluster.clusterDir, "layout"));
    await waitFor(
      "every node to follow layout version 2 and settle",
      async () => {
        for (let i = 0; i < ZONES.length; i++) {
          const held = await readFile(join(cluster.rootOf(i), "layout")).catch(() => undefined);
          if (!held?.equals(signed)) return false;
        }
        return (await layoutJson(0)).changing.length === 0;
      },
      60_000,
    );
    const after = await layoutJson(3);
    expect(after).toMatchObject({ version: 2, signed: true, zones: 3, zoneChanges: [] });
    const ids = await cluster.nodeIds();
    const zoneOfNode = new Map(after.nodes.map((n) => [n.nodeId, n.zone]));
    expect(ids.map((id) => zoneOfNode.get(id as string))).toEqual(ZONES);
    const shown = await cluster.runCli(["cluster", "layout"], { gateway: 5 });
    expect(shown.stdout).toMatch(/room-c/);
    expect(shown.stdout).toMatch(/as many of the 3 zones/);
    // Applying again changes nothing: the layout already says what the nodes report.
    const again = await cluster.runCli(["cluster", "layout", "apply", "--json"], { gateway: 1 });
    expect(JSON.parse(again.stdout)).toMatchObject({ version: 2, changed: false });

    // On disk: exactly 3 copies of every chunk, one in each zone (the surplus copies were dropped).
    await waitFor("every chunk on exactly 3 nodes", () => chunkIds.every((id) => holders(id).length === 3));
    for (const id of chunkIds) {
      const zones = holders(id).map((i) => ZONES[i]);
      expect(zones.sort(), `zones holding ${id.slice(0, 8)}`).toEqual(["room-a", "room-b", "room-c"]);
    }
    // The metrics count what moved.
    let moved = 0;
    for (const addr of metricsAddrs) {
      const families = parseMetrics(await (await fetch(`http://${addr}/metrics`)).text());
      moved += sampleValue(families, "dmfs_repair_moved_bytes_total") ?? 0;
      expect(sampleValue(families, "dmfs_misplaced_chunks")).toBe(0);
      expect(sampleValue(families, "dmfs_repair_bytes_to_move")).toBe(0);
    }
    console.log(
      `${chunkIds.length} chunks of ${FILES} files: one copy in each of 3 zones; ${moved} bytes moved`,
    );
    expect(moved).toBeGreaterThan(0);

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
  }, 300_000);
});
