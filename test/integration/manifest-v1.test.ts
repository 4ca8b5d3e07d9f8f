// Files stored with the single-object manifest (version 1, before the manifest tree) still list, read
// whole and in ranges, stat, delete and are marked by garbage collection: a one-node store made by
// 79317a3 (test/fixtures/manifest-v1, see make-fixture.sh there) started by today's `dmfs node`.
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TestCluster, waitFor } from "../helpers/cluster-harness.ts";

const FIXTURE = fileURLToPath(new URL("../fixtures/manifest-v1", import.meta.url));
interface Uploaded {
  key: string;
  path: string;
  size: number;
  chunks: number;
}
interface Stat {
  manifest: { id: string };
  index: { id: string }[];
  chunks: { id: string }[];
}

/** What make-fixture.sh uploaded as three.bin: `seq 1 100000` cut to 150,000 bytes. */
const THREE = Buffer.from(`${Array.from({ length: 100_000 }, (_, i) => i + 1).join("\n")}\n`).subarray(
  0,
  150_000,
);
const SMALL = "one chunk, manifest version 1\n";

let cluster: TestCluster;
let files: Uploaded[];

beforeAll(async () => {
  files = JSON.parse(await readFile(join(FIXTURE, "files.json"), "utf8")) as Uploaded[];
  // The fixture's chunk files are as young as the copy: a grace of 1 ms lets a pass collect them.
  cluster = await TestCluster.fromFixture(FIXTURE, [{ extraArgs: ["--gc-grace-ms", "1"] }], {
    replication: 1,
    writeQuorum: 1,
  });
  await cluster.start(0);
});

afterAll(async () => {
  await cluster?.stop();
});

async function cli(args: string[]): Promise<string> {
  const run = await cluster.runCli(args);
  expect(run.code, run.stderr).toBe(0);
  return run.stdout;
}

async function stored(): Promise<string[]> {
  return (await readdir(join(cluster.dir, "node-0", "chunks"), { recursive: true }))
    .map((p) => p.split("/").at(-1) as string)
    .filter((name) => /^[0-9a-f]{64}$/.test(name))
    .sort();
}

async function idsOf(path: string): Promise<string[]> {
  const s = JSON.parse(await cli(["stat", path, "--json"])) as Stat;
  return [s.manifest.id, ...s.index.map((o) => o.id), ...s.chunks.map((c) => c.id)];
}

/** `dmfs gc --now` until the node's store holds exactly `ids` (bounded). */
async function collectUntil(ids: string[]): Promise<void> {
  const want = [...new Set(ids)].sort();
  await waitFor(
    "garbage collection to leave only the live files' objects",
    async () => {
      await cli(["gc", "--now"]);
      return JSON.stringify(await stored()) === JSON.stringify(want);
    },
    30_000,
  );
}

// Each test runs a few `dmfs` processes one after another, seconds each on a loaded machine.
describe("a store written with the single-object manifest", { timeout: 120_000 }, () => {
  it("lists its live files", async () => {
    const listed = JSON.parse(await cli(["ls", "--json"])) as Uploaded[];
    expect(listed.map((f) => [f.path, f.key, f.size])).toEqual([
      ["docs/small.txt", files[0]?.key, 30],
      ["empty", files[2]?.key, 0],
      ["three.bin", files[1]?.key, 150_000],
    ]);
  });

  it("reads them whole (the file key recomputed) and in ranges, across a chunk boundary and past the end", async () => {
    expect(await cli(["read", "docs/small.txt"])).toBe(SMALL);
    expect(await cli(["read", files[2]?.key as string])).toBe("");
    const out = join(cluster.dir, "three.out");
    await cli(["read", "three.bin", "-o", out]);
    expect((await readFile(out)).equals(THREE)).toBe(true);
    expect(await cli(["read", "three.bin", "--offset", "65530", "--length", "20"])).toBe(
      THREE.subarray(65_530, 65_550).toString(),
    );
    expect(await cli(["read", "three.bin", "--offset", "149990", "--length", "100"])).toBe(
      THREE.subarray(149_990).toString(),
    );
    expect(await cli(["read", "docs/small.txt", "--offset", "4", "--length", "5"])).toBe("chunk");
  });

  it("stats them: the manifest is a root with no index objects below it", async () => {
    const s = JSON.parse(await cli(["stat", "three.bin", "--json"])) as Stat;
    expect(s.index).toEqual([]);
    expect(s.chunks).toHaveLength(3);
  });

  it("garbage collection keeps what their manifests list and takes the deleted file's, then a deleted one's", async () => {
    const live = await Promise.all(["docs/small.txt", "empty", "three.bin"].map(idsOf));
    const before = await stored();
    // gone.bin was deleted before the fixture was saved: its three chunks and its manifest.
    expect(before.filter((id) => !live.flat().includes(id))).toHaveLength(4);
    await collectUntil(live.flat());
    await cli(["delete", "three.bin"]);
    await collectUntil([...(live[0] as string[]), ...(live[1] as string[])]);
    expect(await cli(["read", "docs/small.txt"])).toBe(SMALL);
    expect(await cli(["read", "empty"])).toBe("");
  });
});
