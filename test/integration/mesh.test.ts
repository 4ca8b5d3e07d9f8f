// The mesh with real node processes over real TLS: formation from a partial bootstrap list, failure
// detection, rejoin after restart without a bootstrap list (on the same address and on a new one), and a
// 5-node mesh on 127.0.0.x hosts.
import { Readable } from "node:stream";
import { afterEach, describe, expect, it } from "vitest";
import { freePort, TestCluster, waitFor } from "../helpers/cluster-harness.ts";

let cluster: TestCluster | undefined;
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

function allAlive(states: Record<string, string>, expected: number): boolean {
  const values = Object.values(states);
  return values.length === expected && values.every((s) => s === "alive");
}

describe("mesh", () => {
  it("forms a full mesh from the demo's bootstrap shape, detects a killed node and takes it back after a restart", async () => {
    // The demo's shape: 0 knows nobody, 1 knows 0, 2 knows 0 and 1.
    cluster = await TestCluster.create([{ join: [] }, { join: [0] }, { join: [0, 1] }]);
    const c = cluster;
    await c.startAll();

    for (const i of [0, 1, 2]) {
      await waitFor(`node ${i} to see 2 alive peers`, async () => allAlive(await c.peerStates(i), 2), 5_000);
    }

    await c.kill(2);
    const down = c.addrs[2] as string;
    for (const i of [0, 1]) {
      await waitFor(
        `node ${i} to report node 2 down`,
        async () => (await c.peerStates(i))[down] === "down",
        5_000,
      );
    }

    // Restarted with an empty bootstrap list, it rejoins from the members it remembered.
    await c.start(2, { join: [] });
    for (const i of [0, 1, 2]) {
      await waitFor(
        `node ${i} to see 2 alive peers again`,
        async () => allAlive(await c.peerStates(i), 2),
        5_000,
      );
    }
  });

  it("sees a node restarted on a new address alive on every peer, under its new address only", async () => {
    cluster = await TestCluster.create([{ join: [] }, { join: [0] }, { join: [0] }, { join: [0] }]);
    const c = cluster;
    await c.startAll();
    await c.waitForMesh(20_000);
    const movedId = (await c.status(3)).nodeId;
    const oldAddr = c.addrs[3] as string;
    await c.kill(3);
    for (const i of [0, 1, 2]) {
      await waitFor(
        `node ${i} to report node 3 down`,
        async () => (await c.peerStates(i))[oldAddr] === "down",
      );
    }

    // Same root (same node id), another port; no bootstrap list: it dials the members it remembered.
    c.addrs[3] = `127.0.0.1:${await freePort()}`;
    const newAddr = c.addrs[3];
    await c.start(3, { join: [] });
    for (const i of [0, 1, 2]) {
      await waitFor(
        `node ${i} to see node 3 alive at ${newAddr}`,
        async () => {
          const moved = (await c.status(i)).members.find((m) => m.nodeId === movedId);
          return moved?.addr === newAddr && moved.state === "alive";
        },
        20_000,
      );
      const addrs = (await c.status(i)).members.map((m) => m.addr);
      expect(addrs).not.toContain(oldAddr);
    }
    await c.waitForMesh(20_000);
    // Files still flow through the moved node with every peer: a write to all 4 nodes needs its links.
    const files = await c.files(3);
    await files.upload(Readable.from([Buffer.from("moved and back")]), "moved.txt", 0);
    expect((await c.readBack("moved.txt", 1)).toString()).toBe("moved and back");
  }, 120_000);

  it("forms a 5-node mesh on five loopback addresses when each node knows only the one before it", async () => {
    cluster = await TestCluster.create(
      [1, 2, 3, 4, 5].map((h, i) => ({ host: `127.0.0.${h}`, join: i === 0 ? [] : [i - 1] })),
    );
    const c = cluster;
    await c.startAll();
    for (const i of [0, 1, 2, 3, 4]) {
      await waitFor(`node ${i} to see 4 alive peers`, async () => allAlive(await c.peerStates(i), 4), 10_000);
    }
    const status = await c.status(4);
    expect(status.members.map((m) => m.addr).sort()).toEqual([...c.addrs].sort());
  });
});
