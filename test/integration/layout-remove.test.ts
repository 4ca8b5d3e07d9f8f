// Versioned membership on real nodes: 4 nodes with R=3, one killed for good and taken out of the layout
// with `dmfs node remove`. Every chunk of 20 files must come back to exactly 3 verified copies on the 3
// live nodes within 60 s, and while that happens no chunk of an acknowledged file may be on fewer than
// 2 live disks. Checked on the nodes' disks (chunk files hashed by the test), not only in what they say.
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { blake3 } from "@noble/hashes/blake3.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createClusterCa } from "../../src/crypto/certificates.ts";
import { signLayout } from "../../src/crypto/layout-signature.ts";
import { oneSentence, seededBytes, seededStream, TestCluster, waitFor } from "../helpers/cluster-harness.ts";

const FILES = 20;
const LIVE = [0, 1, 2];
const DOOMED = 3;
let cluster: TestCluster;

beforeAll(async () => {
  cluster = await TestCluster.create(
    [0, 1, 2, 3].map((i) => ({ join: i === 0 ? [] : [0] })),
    { replication: 3, writeQuorum: 2 },
  );
  await cluster.startAll();
  await cluster.waitForMesh(20_000);
}, 120_000);

afterAll(async () => {
  await cluster?.stop();
});

/** Which of `nodes` hold a chunk file for `id`. */
function holders(id: string, nodes: number[]): number[] {
  return nodes.filter((i) => existsSync(cluster.chunkPath(i, id)));
}

/** Whether node i's copy of `id` is there and hashes to its id. */
async function verifiedOn(i: number, id: string): Promise<boolean> {
  const bytes = await readFile(cluster.chunkPath(i, id)).catch(() => undefined);
  return bytes !== undefined && bytesToHex(blake3(bytes)) === id;
}

const sizeOf = (n: number) => 50_000 + n * 170_000; // 50 KB to 3.3 MB: one to four chunks

describe("dmfs node remove", () => {
  it("brings every chunk of 20 files back to exactly 3 verified copies on the 3 live nodes within 60 s", async () => {
    const files = await cluster.files(0);
    const objects = new Set<string>();
    for (let n = 0; n < FILES; n++) {
      await files.upload(seededStream(`remove-${n}`, sizeOf(n)), `remove/${n}.bin`, 0);
      const stat = await files.stat(`remove/${n}.bin`);
      for (const id of [stat.manifest.id, ...stat.chunks.map((c) => c.id)]) objects.add(id);
    }
    const ids = [...objects];
    const everyone = [...LIVE, DOOMED];
    // Copies beyond the write quorum complete in the background: every chunk on 3 of the 4 disks.
    await waitFor(
      "every chunk on 3 nodes",
      () => ids.every((id) => holders(id, everyone).length === 3),
      30_000,
    );

    const doomedId = (await cluster.status(DOOMED)).nodeId;
    await cluster.kill(DOOMED);
    await waitFor(
      "node 0 to see node 3 down",
      async () => (await cluster.peerStates(0))[cluster.addrs[DOOMED] as string] === "down",
    );

    // Bad requests change nothing: an unknown node, a drain of a dead node, a layout not signed by the CA.
    expect(oneSentence(await cluster.runCli(["node", "remove", "node-9"], { gateway: 0 }), 4)).toMatch(
      /No node named or with id node-9 is in layout version 1/,
    );
    expect(oneSentence(await cluster.runCli(["node", "drain", doomedId], { gateway: 0 }), 2)).toMatch(
      /is not alive.*dmfs node remove/,
    );
    const impostor = await createClusterCa((await cluster.status(0)).clusterId);
    const forged = signLayout(impostor.key, {
      v: 1,
      clusterId: (await cluster.status(0)).clusterId,
      version: 99,
      issuedAt: Date.now(),
      nodes: [{ nodeId: doomedId, capacity: 1 }],
    });
    await expect(
      (await cluster.client(1)).request({ t: "layout.set", layout: forged }, "ok"),
    ).rejects.toMatchObject({
      code: "E_MESSAGE_INVALID",
    });
    expect(existsSync(join(cluster.nodes[1]?.root ?? "", "layout"))).toBe(false);

    const removal = await cluster.runCli(["node", "remove", doomedId.slice(0, 12), "--json"], { gateway: 0 });
    const removedAt = Date.now();
    expect(removal.stderr).toBe("");
    expect(removal.code).toBe(0);
    expect(JSON.parse(removal.stdout)).toMatchObject({ version: 2 });

    // While repair runs: every acknowledged chunk stays on at least 2 live disks.
    let fewest = Number.POSITIVE_INFINITY;
    let convergedMs = -1;
    while (Date.now() - removedAt < 60_000) {
      const counts = ids.map((id) => holders(id, LIVE).length);
      fewest = Math.min(fewest, ...counts);
      if (counts.every((c) => c === 3)) {
        convergedMs = Date.now() - removedAt;
        break;
      }
      await new Promise((r) => setTimeout(r, 100)); // sampling interval of the observer, not synchronisation
    }
    console.log(
      `${ids.length} chunks back to 3 copies ${convergedMs} ms after node remove; fewest live copies seen: ${fewest}`,
    );
    expect(fewest).toBeGreaterThanOrEqual(2);
    expect(convergedMs).toBeGreaterThanOrEqual(0);
    for (const id of ids) {
      for (const i of LIVE) expect(await verifiedOn(i, id), `node ${i} copy of ${id.slice(0, 8)}`).toBe(true);
    }
    // Every file reads back whole through each live node.
    for (let n = 0; n < FILES; n += 7) {
      const back = await cluster.readBack(`remove/${n}.bin`, n % 3);
      expect(back.equals(await seededBytes(`remove-${n}`, sizeOf(n)))).toBe(true);
    }

    // The layout the cluster follows now: version 2, the three live nodes, signed.
    const shown = await cluster.runCli(["cluster", "layout", "--json"], { gateway: 1 });
    expect(shown.code).toBe(0);
    const layout = JSON.parse(shown.stdout) as {
      version: number;
      signed: boolean;
      nodes: { nodeId: string; state: string }[];
      outside: { nodeId: string; state: string }[];
    };
    expect(layout).toMatchObject({ version: 2, signed: true });
    expect(layout.nodes.map((n) => n.state)).toEqual(["alive", "alive", "alive"]);
    expect(layout.nodes.map((n) => n.nodeId)).not.toContain(doomedId);
    expect(layout.outside).toEqual([expect.objectContaining({ nodeId: doomedId, state: "down" })]);
    // And each live node's own account, from its repair scans: nothing left to move.
    await waitFor(
      "every live node to report nothing left to repair",
      async () => {
        const now = JSON.parse(
          (await cluster.runCli(["cluster", "layout", "--json"], { gateway: 1 })).stdout,
        ) as {
          repair: { misplaced: number | null; underReplicated: number | null }[];
        };
        return (
          now.repair.length === 3 && now.repair.every((r) => r.misplaced === 0 && r.underReplicated === 0)
        );
      },
      20_000,
    );
  }, 180_000);
});
