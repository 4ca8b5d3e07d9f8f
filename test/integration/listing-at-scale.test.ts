// Listing a catalog of 200,000 entries through real nodes: the first `dmfs ls` syncs the client's listing
// index from a node page by page and streams the whole listing under 200 MiB; a prefix lists its folder
// from the index; after a few uploads and deletes a sync fetches only those changes. The entries are
// written into the nodes' catalogs before they start (test/helpers/catalog-seed.ts): real sealed
// metadata, no file data. Timings are the listing bench's business (bench/listing.ts), not this test's.
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ListingIndex } from "../../src/client/listing-index.ts";
import { loadDataKeyPath, loadIdentity } from "../../src/cluster/cluster-dir.ts";
import { type DataKeys, deriveKeys, loadDataKey } from "../../src/crypto/keys.ts";
import { folderPaths, seedCatalog } from "../helpers/catalog-seed.ts";
import { runCliSampled, seededStream, TestCluster } from "../helpers/cluster-harness.ts";

const ENTRIES = 200_000;
const PER_FOLDER = 100;
const MIB = 1024 * 1024;

let cluster: TestCluster;
let keys: DataKeys;
let clusterId: string;

beforeAll(async () => {
  // One node: anti-entropy between two nodes of 200,000 entries would digest both catalogs at start,
  // which is the mesh's cost, not the listing's.
  cluster = await TestCluster.create([{}], { replication: 1, writeQuorum: 1 });
  keys = deriveKeys(await loadDataKey(loadDataKeyPath(cluster.clusterDir)));
  clusterId = (await loadIdentity(cluster.clusterDir, "client")).clusterId;
  const started = performance.now();
  expect(await seedCatalog(join(cluster.dir, "node-0"), keys, folderPaths(ENTRIES, PER_FOLDER))).toBe(
    ENTRIES,
  );
  console.log(`seeded ${ENTRIES} entries in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  await cluster.start(0);
}, 400_000);

afterAll(async () => {
  await cluster?.stop();
});

/** Runs `dmfs ls ...` against node 0 with its peak resident memory (VmHWM) sampled until it exits. */
async function lsWithPeakMemory(
  args: string[],
): Promise<{ code: number | null; stdout: string; stderr: string; peakBytes: number }> {
  const access = ["--node", cluster.addrs[0] as string, "--cluster", cluster.clusterDir];
  const pieces: Buffer[] = [];
  const { code, stderr, peak } = await runCliSampled(["ls", ...args, ...access], async (out) => {
    for await (const piece of out) pieces.push(piece as Buffer);
  });
  return { code, stdout: Buffer.concat(pieces).toString(), stderr, peakBytes: peak };
}

describe(`a catalog of ${ENTRIES} entries`, { timeout: 300_000 }, () => {
  it("is listed whole by the first `ls --json`, synced and streamed under 200 MiB", async () => {
    const ls = await lsWithPeakMemory(["--json"]);
    expect(ls.code, ls.stderr).toBe(0);
    expect(ls.stderr).toBe("");
    const lines = ls.stdout.split("\n");
    // A streamed array: "[", one object per line, "]".
    expect(lines[0]).toBe("[");
    expect(lines.at(-2)).toBe("]");
    const listed = JSON.parse(ls.stdout) as { path: string }[];
    expect(listed).toHaveLength(ENTRIES);
    expect(listed[0]?.path).toBe("dir-00000/file-00000.bin");
    expect(listed.at(-1)?.path).toBe(`dir-01999/file-00099.bin`);
    console.log(
      `listing-at-scale: ls --json of 200000 entries peaked at ${(ls.peakBytes / MIB).toFixed(1)} MiB`,
    );
    expect(ls.peakBytes).toBeGreaterThan(0);
    expect(ls.peakBytes / MIB).toBeLessThan(200);
  });

  it("lists one folder of 100 by prefix, and --limit cuts it short", async () => {
    const folder = await cluster.runCli(["ls", "dir-01234/", "--json"]);
    expect(folder.code, folder.stderr).toBe(0);
    const paths = (JSON.parse(folder.stdout) as { path: string }[]).map((f) => f.path);
    expect(paths).toEqual(
      Array.from({ length: PER_FOLDER }, (_, i) => `dir-01234/file-${String(i).padStart(5, "0")}.bin`),
    );
    const limited = await cluster.runCli(["ls", "dir-01234/", "--limit", "3"]);
    expect(limited.code, limited.stderr).toBe(0);
    expect(limited.stdout.trim().split("\n")).toHaveLength(4); // header and three rows
  });

  it("fetches only the changes after a few uploads and deletes", async () => {
    const files = await cluster.files(0);
    for (const i of [0, 1, 2]) await files.upload(seededStream(`listing ${i}`, 1000 + i), `new/${i}.bin`, 1);
    for (const i of [0, 1]) await files.delete(`dir-00042/file-0000${i}.bin`);

    const { index, notice } = ListingIndex.open(cluster.clusterDir, clusterId, keys);
    try {
      expect(notice).toBeUndefined();
      const gateway = await cluster.client(0);
      const report = await index.sync(gateway);
      expect(report).toEqual({ from: gateway.nodeId, pages: 1, entries: 5, rebuilt: false });
      expect([...index.files("new/")].map((f) => f.path)).toEqual(["new/0.bin", "new/1.bin", "new/2.bin"]);
      expect([...index.files("dir-00042/", 2)].map((f) => f.path)).toEqual([
        "dir-00042/file-00002.bin",
        "dir-00042/file-00003.bin",
      ]);
      expect(index.counts().files).toBe(ENTRIES + 3 - 2);
      expect(await index.sync(gateway)).toMatchObject({ pages: 1, entries: 0 });
    } finally {
      index.close();
    }
    const ls = await cluster.runCli(["ls", "dir-00042/", "--json"]);
    expect(JSON.parse(ls.stdout)).toHaveLength(PER_FOLDER - 2);
  });
});
