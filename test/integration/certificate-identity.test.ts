// One certificate, one node, against real node processes: a second process started with node 0's
// certificate (its own root, so another node id) is refused by every node while node 0 is connected,
// and both sides say so once in their logs; node 0 itself, restarted, rejoins at once.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TestCluster, waitFor } from "../helpers/cluster-harness.ts";

const IMPOSTOR = 3;
let cluster: TestCluster;

beforeAll(async () => {
  // Four addresses and four node certificates; the fourth slot is the impostor, started by the test.
  cluster = await TestCluster.create([{ join: [] }, { join: [0] }, { join: [0, 1] }, { join: [1] }]);
  await Promise.all([0, 1, 2].map((i) => cluster.start(i)));
  await cluster.waitForMesh();
});

afterAll(async () => {
  await cluster?.stop();
});

function linesOf(node: number, text: string): string[] {
  return cluster.nodes[node]?.output.filter((l) => l.includes(text)) ?? [];
}

async function refusedCount(node: number): Promise<number> {
  return (await cluster.status(node)).counters.framesRejected.E_CERT_IN_USE ?? 0;
}

describe("one certificate, one node", () => {
  it("refuses a second process presenting a connected node's certificate, and both logs say so once", async () => {
    const [realId] = await cluster.nodeIds();
    const impostor = await cluster.start(IMPOSTOR, { cert: "node-0" });

    // It keeps retrying; let node 1 refuse it three times, then look at what was logged.
    await waitFor(
      "node 1 to refuse the impostor three times",
      async () => (await refusedCount(1)) >= 3,
      20_000,
    );
    const refusals = linesOf(1, "presenting certificate node-0: certificate node-0 is in use by node");
    expect(refusals).toHaveLength(1);
    expect(refusals[0]).toContain(`in use by node ${realId?.slice(0, 8)}, which is connected now`);
    const told = linesOf(
      IMPOSTOR,
      "refused by a peer: another node process is already using this node's certificate",
    );
    expect(told).toHaveLength(1);
    expect(told[0]).toContain(cluster.addrs[1] as string);

    // Nobody took it in: no node lists it, and it sees no peer alive.
    const impostorId = (await cluster.status(IMPOSTOR)).nodeId;
    expect(impostorId).not.toBe(realId);
    for (const i of [0, 1, 2]) {
      const members = (await cluster.status(i)).members.map((m) => m.nodeId);
      expect(members).not.toContain(impostorId);
    }
    expect(Object.values(await cluster.peerStates(IMPOSTOR))).not.toContain("alive");
    expect(impostor.proc.exitCode).toBeNull();
    await cluster.kill(IMPOSTOR);
  });

  it("lets node 0, restarted with its own root and certificate, rejoin at once", async () => {
    const [realId] = await cluster.nodeIds();
    await cluster.kill(0);
    const started = performance.now();
    await cluster.start(0);
    await cluster.waitForMesh(5_000);
    console.log(`node 0 restarted and meshed again in ${Math.round(performance.now() - started)} ms`);
    expect((await cluster.nodeIds())[0]).toBe(realId);
    expect(linesOf(0, "E_CERT_IN_USE").concat(linesOf(0, "refused by a peer"))).toEqual([]);
  });
});
