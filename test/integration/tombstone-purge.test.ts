// Tombstones that stay purged, on three real nodes with a tombstone grace of 2 s: once every node has
// acknowledged a delete, tombstone counts reach 0 on every node and stay 0; a node stopped for longer
// than the grace holds the purge back, and on its return its stale entries do not bring the deleted
// files back. DMFS_TOMBSTONE_TRIALS sets the trials of the second test (2 here, to keep CI near a
// minute; the 20 with DMFS_TOMBSTONE_TRIALS=20).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FileClient } from "../../src/client/file-client.ts";
import { ANTI_ENTROPY_INTERVAL_MS } from "../../src/node/anti-entropy.ts";
import { seededStream, TestCluster, waitFor } from "../helpers/cluster-harness.ts";

const GRACE_MS = 2_000;
const TRIALS = Number.parseInt(process.env.DMFS_TOMBSTONE_TRIALS ?? "2", 10);
const FILES_PER_TRIAL = 3;
const NODES = [0, 1, 2];
let cluster: TestCluster;

beforeAll(async () => {
  const extraArgs = ["--tombstone-grace-ms", String(GRACE_MS)];
  cluster = await TestCluster.create(
    [
      { join: [], extraArgs },
      { join: [0], extraArgs },
      { join: [0, 1], extraArgs },
    ],
    { replication: 3, writeQuorum: 2 },
  );
  try {
    await cluster.startAll();
    await cluster.waitForMesh();
  } catch (err) {
    await cluster.stop();
    throw err;
  }
}, 60_000);

afterAll(async () => {
  await cluster?.stop();
});

async function counts(nodes: number[]): Promise<{ files: number; tombstones: number }[]> {
  return Promise.all(nodes.map(async (n) => (await cluster.status(n)).catalog));
}

async function uploadAll(files: FileClient, paths: string[]): Promise<void> {
  for (const [i, path] of paths.entries()) await files.upload(seededStream(path, 5_000 + i), path, i);
}

/** Waits until `nodes` hold exactly `files` files and `tombstones` tombstones each. */
async function waitForCounts(what: string, nodes: number[], files: number, tombstones: number, ms: number) {
  await waitFor(
    what,
    async () => (await counts(nodes)).every((c) => c.files === files && c.tombstones === tombstones),
    ms,
  );
}

describe("tombstone purge on real nodes", () => {
  it("brings tombstone counts to 0 on every node once the grace passed, and they stay 0", async () => {
    const files = await cluster.files(0);
    const paths = Array.from({ length: 5 }, (_, i) => `purge/${i}.bin`);
    await uploadAll(files, paths);
    await waitForCounts("every node to hold the 5 files", NODES, 5, 0, 15_000);
    for (const path of paths) await files.delete(path);
    await waitForCounts("every node to hold the 5 tombstones", NODES, 0, 5, 15_000);

    await waitForCounts(
      "every node to purge the tombstones",
      NODES,
      0,
      0,
      GRACE_MS + 4 * ANTI_ENTROPY_INTERVAL_MS,
    );

    // Stay 0: an invariant watched (bounded) over more than two anti-entropy rounds, in which each node
    // pulls from each peer; the pause only paces the polling.
    const watchUntil = Date.now() + 2 * ANTI_ENTROPY_INTERVAL_MS + 1_000;
    while (Date.now() < watchUntil) {
      expect(await counts(NODES)).toEqual(NODES.map(() => ({ files: 0, tombstones: 0 })));
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(await cluster.listedPaths(files)).toEqual([]);
  }, 90_000);

  it(
    `a node stopped longer than the grace brings no deleted file back (${TRIALS} trials)`,
    async () => {
      let resurrections = 0;
      for (let trial = 0; trial < TRIALS; trial++) {
        const down = trial % 3;
        const gateway = (down + 1) % 3;
        const live = NODES.filter((n) => n !== down);
        const paths = Array.from({ length: FILES_PER_TRIAL }, (_, i) => `trial-${trial}/${i}.bin`);
        await uploadAll(await cluster.files(gateway), paths);
        await waitForCounts(
          `trial ${trial}: every node to hold the files`,
          NODES,
          FILES_PER_TRIAL,
          0,
          15_000,
        );

        await cluster.kill(down);
        const files = await cluster.files(gateway);
        for (const path of paths) await files.delete(path);
        await waitForCounts(`trial ${trial}: tombstones on the live nodes`, live, 0, FILES_PER_TRIAL, 15_000);
        // The scenario itself is time: the node must stay away past the grace and a purge pass after it.
        const awayUntil = Date.now() + GRACE_MS + ANTI_ENTROPY_INTERVAL_MS + 500;
        await waitFor(
          `trial ${trial}: the grace to pass`,
          () => Date.now() > awayUntil,
          awayUntil - Date.now() + 5_000,
        );
        // The stopped node never acknowledged: the live nodes still hold every tombstone.
        expect(await counts(live)).toEqual(live.map(() => ({ files: 0, tombstones: FILES_PER_TRIAL })));

        await cluster.start(down);
        await cluster.waitForMesh(30_000);
        let filesSeen = 0;
        await waitFor(
          `trial ${trial}: every node to agree the files are gone and purge the tombstones`,
          async () => {
            const now = await counts(NODES);
            // The returning node may list its stale files until it has pulled; the others never may.
            for (const n of live) filesSeen = Math.max(filesSeen, now[n]?.files ?? 0);
            return now.every((c) => c.files === 0 && c.tombstones === 0);
          },
          GRACE_MS + 6 * ANTI_ENTROPY_INTERVAL_MS,
        );
        if (filesSeen > 0) resurrections++;
        for (const n of NODES) expect(await cluster.listedPaths(await cluster.files(n))).toEqual([]);
      }
      expect(resurrections).toBe(0);
    },
    60_000 + TRIALS * 60_000,
  );
});
