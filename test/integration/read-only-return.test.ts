// A node that missed a tombstone purge while away comes back read-only, on three real nodes with a
// tombstone grace of 2 s: node 2 is stopped and taken out of the layout (`dmfs node remove`), a file it
// holds is deleted and the tombstones purged on the other two; restarted, node 2 says it is read-only
// (status, log, metrics), the deleted file comes back nowhere, uploads still succeed (and, with a second
// node down, fail with exit 10 naming node 2 as read-only), and re-added with
// `dmfs cluster add-node` on its old root it serves again with the live catalog, its copies of the
// deleted file collected. And the other way round: a whole cluster stopped for longer than the grace
// comes back with no node read-only.
import { existsSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { FileClient } from "../../src/client/file-client.ts";
import { ANTI_ENTROPY_INTERVAL_MS } from "../../src/node/anti-entropy.ts";
import { freePort, seededBytes, seededStream, TestCluster, waitFor } from "../helpers/cluster-harness.ts";

const GRACE_MS = 2_000;
const extraArgs = ["--tombstone-grace-ms", String(GRACE_MS), "--gc-grace-ms", "1000"];
const clusters: TestCluster[] = [];

afterAll(async () => {
  for (const c of clusters) await c.stop();
});

async function threeNodes(): Promise<TestCluster> {
  const cluster = await TestCluster.create(
    [
      { join: [], extraArgs },
      { join: [0], extraArgs },
      { join: [0, 1], extraArgs },
    ],
    { replication: 3, writeQuorum: 2 },
  );
  clusters.push(cluster);
  await cluster.startAll();
  await cluster.waitForMesh(30_000);
  return cluster;
}

async function counts(cluster: TestCluster, nodes: number[]) {
  return Promise.all(nodes.map(async (n) => (await cluster.status(n)).catalog));
}

async function waitForCounts(cluster: TestCluster, nodes: number[], files: number, ms: number) {
  await waitFor(
    `nodes ${nodes.join(", ")} to hold ${files} files and no tombstone`,
    async () => (await counts(cluster, nodes)).every((c) => c.files === files && c.tombstones === 0),
    ms,
  );
}

async function chunkIds(files: FileClient, path: string): Promise<string[]> {
  const stat = await files.stat(path);
  return [stat.manifest.id, ...stat.chunks.map((c) => c.id)];
}

/** Lines of node i's log whose message starts with `prefix`. */
function logLines(cluster: TestCluster, i: number, prefix: string): string[] {
  return (cluster.nodes[i]?.output ?? []).filter((l) => l.includes(`"msg":"${prefix}`));
}

describe("a node back after missing a tombstone purge", () => {
  it("comes back read-only, brings no deleted file back, and rejoins after remove and add-node", async () => {
    const cluster = await threeNodes();
    const files = await cluster.files(0);
    await files.upload(seededStream("keep", 300_000), "keep.bin", 0);
    await files.upload(seededStream("doomed", 1_500_000), "doomed.bin", 0);
    const keepChunks = await chunkIds(files, "keep.bin");
    const doomedChunks = await chunkIds(files, "doomed.bin");
    // A first delete purged everywhere: node 2 has acknowledged to both peers (a purge waits for it),
    // so it is a returning node when it comes back. A node that never completed an exchange is new.
    await files.upload(seededStream("warm-up", 1_000), "warm-up.bin", 0);
    await files.delete("warm-up.bin");
    await waitForCounts(cluster, [0, 1, 2], 2, GRACE_MS + 6 * ANTI_ENTROPY_INTERVAL_MS);
    await waitFor(
      "every chunk on node 2",
      () => doomedChunks.every((id) => existsSync(cluster.chunkPath(2, id))),
      15_000,
    );

    // Node 2 goes away for good, as far as the operator knows: it is taken out of the layout.
    const oldId = (await cluster.status(2)).nodeId;
    await cluster.kill(2);
    await waitFor(
      "node 0 to see node 2 down",
      async () => (await cluster.peerStates(0))[cluster.addrs[2] as string] === "down",
    );
    const removed = await cluster.runCli(["node", "remove", oldId, "--json"], { gateway: 0 });
    expect(removed.code, removed.stderr).toBe(0);
    await files.delete("doomed.bin");
    await waitForCounts(cluster, [0, 1], 1, GRACE_MS + 4 * ANTI_ENTROPY_INTERVAL_MS);

    // It comes back with the deleted file still live in its catalog.
    const metricsAddr = `127.0.0.1:${await freePort()}`;
    await cluster.start(2, { extraArgs: ["--metrics-addr", metricsAddr] });
    const startedAt = Date.now();
    await waitFor("node 2 to say it is read-only", async () => (await cluster.status(2)).readOnly, 30_000);
    console.log(`node 2 read-only ${Date.now() - startedAt} ms after it listened`);
    const status = await cluster.status(2);
    expect(status.readOnly).toMatch(
      /^read-only: this node was out of contact with the cluster for \d+ s, and meanwhile node [0-9a-f]{8} purged tombstones it never received/,
    );
    expect(status.catalog).toEqual({ files: 2, tombstones: 0 }); // frozen, not merged
    expect(logLines(cluster, 2, "read-only:")).toHaveLength(1);
    const metrics = await (await fetch(`http://${metricsAddr}/metrics`)).text();
    expect(metrics).toMatch(/^dmfs_read_only 1$/m);

    const shown = await cluster.runCli(["status", "--json"], { gateway: 0 });
    const node2 = (
      JSON.parse(shown.stdout) as { nodes: { id: string; readOnly: string | null }[] }
    ).nodes.find((n) => n.id === oldId);
    expect(node2?.readOnly).toMatch(/^read-only: .*add it again with `dmfs cluster add-node`/);
    const table = await cluster.runCli(["status"], { gateway: 0 });
    expect(table.stdout).toMatch(new RegExp(`${oldId.slice(0, 8)}\\s+\\S+\\s+read-only`));

    // Several anti-entropy rounds later the file is still gone on 0 and 1, and node 2 lists nothing.
    const watchUntil = Date.now() + 2 * ANTI_ENTROPY_INTERVAL_MS + 1_000;
    while (Date.now() < watchUntil) {
      expect(await counts(cluster, [0, 1])).toEqual([
        { files: 1, tombstones: 0 },
        { files: 1, tombstones: 0 },
      ]);
      await new Promise((r) => setTimeout(r, 500)); // paces the polling of an invariant, bounded above
    }
    for (const n of [0, 1]) expect(await cluster.listedPaths(await cluster.files(n))).toEqual(["keep.bin"]);
    await expect(cluster.listedPaths(await cluster.files(2))).rejects.toMatchObject({
      code: "E_NODE_READ_ONLY",
    });
    const readDoomed = await cluster.runCli(["read", "doomed.bin"], { gateway: 0 });
    expect(readDoomed.code).toBe(4);
    const readThroughStale = await cluster.runCli(["read", "doomed.bin"], { gateway: 2 });
    expect(readThroughStale.code).toBe(1);
    expect(readThroughStale.stderr).toMatch(/is read-only: this node was out of contact/);

    // Uploads go on through the others, and not through it; it takes no copies.
    const chunksBefore = (await cluster.status(2)).store.chunks;
    await files.upload(seededStream("after", 200_000), "after.bin", 0);
    await expect(
      (await cluster.files(2)).upload(seededStream("refused", 2_500_000), "refused.bin", 0),
    ).rejects.toMatchObject({ code: "E_NODE_READ_ONLY" });
    expect((await cluster.status(2)).store.chunks).toBe(chunksBefore);

    // With node 1 down as well, too few nodes take copies: the upload's sentence blames node 2 being
    // read-only (exit 10), not full disks, and names no local path. Node 1 then comes back.
    await cluster.kill(1);
    await waitFor(
      "node 0 to see node 1 down",
      async () => (await cluster.peerStates(0))[cluster.addrs[1] as string] === "down",
    );
    const tooFewInput = join(cluster.dir, "too-few.bin");
    await writeFile(tooFewInput, await seededBytes("too-few", 2_500_000));
    const tooFew = await cluster.runCli(["upload", tooFewInput], { gateway: 0 });
    expect(tooFew.code, tooFew.stderr).toBe(10);
    expect(tooFew.stderr).toContain(
      `only 1 of the 2 nodes needed takes new copies: node ${oldId.slice(0, 8)} is read-only (missed a tombstone purge while away)`,
    );
    expect(tooFew.stderr).not.toContain(cluster.dir);
    await cluster.start(1);
    await waitFor(
      "node 0 to see node 1 alive again",
      async () => (await cluster.peerStates(0))[cluster.addrs[1] as string] === "alive",
      30_000,
    );

    // Rejoin: re-added with add-node, started from the new bundle on the same root.
    const add = await cluster.runCli(["cluster", "add-node", "node-2b", "--json"], { gateway: 0 });
    expect(add.code, add.stderr).toBe(0);
    const added = JSON.parse(add.stdout) as { nodeId: string };
    await cluster.kill(2);
    await cluster.start(2, { cert: "node-2b" });
    const rejoined = await cluster.status(2);
    expect(rejoined.nodeId).toBe(added.nodeId);
    expect(rejoined.readOnly).toBeUndefined();
    await waitForCounts(cluster, [0, 1, 2], 2, 30_000);
    expect(await cluster.listedPaths(await cluster.files(2))).toEqual(["after.bin", "keep.bin"]);
    expect(await cluster.readBack("keep.bin", 2)).toEqual(await seededBytes("keep", 300_000));
    expect((await cluster.runCli(["read", "doomed.bin"], { gateway: 2 })).code).toBe(4);

    // Its chunks are checked against the live catalog: the deleted file's copies are collected
    // everywhere (repair may hand them to the homes first), the live file's stay on it.
    await waitFor(
      "the deleted file's chunks to be collected on every node",
      async () => {
        await cluster.runCli(["gc", "--now", "--json"], { gateway: 0 });
        return doomedChunks.every((id) => [0, 1, 2].every((n) => !existsSync(cluster.chunkPath(n, id))));
      },
      30_000,
    );
    for (const id of keepChunks) expect(existsSync(cluster.chunkPath(2, id)), id).toBe(true);
    for (let round = 0; round < 2; round++) {
      await new Promise((r) => setTimeout(r, ANTI_ENTROPY_INTERVAL_MS)); // let rounds pass: it must stay gone
      expect(await counts(cluster, [0, 1, 2])).toEqual([0, 1, 2].map(() => ({ files: 2, tombstones: 0 })));
    }
  }, 240_000);

  it("is not read-only after the whole cluster was stopped for longer than the grace", async () => {
    const cluster = await threeNodes();
    const files = await cluster.files(0);
    await files.upload(seededStream("before", 300_000), "before.bin", 0);
    await files.upload(seededStream("gone", 100_000), "gone.bin", 0);
    await files.delete("gone.bin");
    // Every node has purged a tombstone, so each has a purge horizon to compare with.
    await waitForCounts(cluster, [0, 1, 2], 1, GRACE_MS + 6 * ANTI_ENTROPY_INTERVAL_MS);

    for (const n of [0, 1, 2]) await cluster.kill(n);
    const stoppedAt = Date.now();
    await waitFor(
      "the grace to pass with every node down",
      () => Date.now() > stoppedAt + 2 * GRACE_MS,
      4 * GRACE_MS,
    );
    await cluster.startAll();
    await cluster.waitForMesh(30_000);
    await waitFor(
      "every node to judge its catalog current",
      () => [0, 1, 2].every((n) => logLines(cluster, n, "catalog current").length > 0),
      30_000,
    );
    for (const n of [0, 1, 2]) {
      expect((await cluster.status(n)).readOnly).toBeUndefined();
      expect(logLines(cluster, n, "read-only:")).toEqual([]);
    }
    expect(await cluster.readBack("before.bin", 1)).toEqual(await seededBytes("before", 300_000));
    await (await cluster.files(2)).upload(seededStream("after", 200_000), "after.bin", 0);
    await waitForCounts(cluster, [0, 1, 2], 2, 15_000);
  }, 180_000);
});
