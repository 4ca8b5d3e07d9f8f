// Entries written before metadata version 2 ({ path, size, mtime }, no file key or manifest id) still
// list, stat and read with today's code: a node root and cluster made by 3675dbf
// (test/fixtures/legacy-meta-v1, see make-fixture.sh there) started by today's `dmfs node`.
import { existsSync } from "node:fs";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadDataKeyPath } from "../../src/cluster/cluster-dir.ts";
import { pathIdOf } from "../../src/crypto/catalog-crypto.ts";
import { deriveKeys, loadDataKey } from "../../src/crypto/keys.ts";
import { TestCluster } from "../helpers/cluster-harness.ts";
import { killHostiles, pushSwappedEntry } from "../helpers/hostile-launcher.ts";

const FIXTURE = fileURLToPath(new URL("../fixtures/legacy-meta-v1", import.meta.url));
interface Uploaded {
  key: string;
  path: string;
  size: number;
}

let cluster: TestCluster;
let files: Uploaded[];

beforeAll(async () => {
  files = JSON.parse(await readFile(join(FIXTURE, "files.json"), "utf8")) as Uploaded[];
  cluster = await TestCluster.fromFixture(FIXTURE, [{}], { replication: 1, writeQuorum: 1 });
  await cluster.start(0);
});

afterAll(async () => {
  await cluster?.stop();
});

// Each test runs up to a dozen `dmfs` processes one after another, seconds each on a loaded machine.
describe("a store written with the first metadata format", { timeout: 120_000 }, () => {
  it("lists its files with their times", async () => {
    const ls = await cluster.runCli(["ls", "--json"]);
    expect(ls.code, ls.stderr).toBe(0);
    expect(JSON.parse(ls.stdout)).toEqual([
      { path: "docs/hello.txt", key: files[0]?.key, size: 34, mtime: Date.parse("2026-11-01T12:00:00Z") },
      { path: "docs/twin.txt", key: files[1]?.key, size: 34, mtime: Date.parse("2026-11-01T13:00:00Z") },
      { path: "xs.bin", key: files[2]?.key, size: 3000, mtime: Date.parse("2026-11-02T08:30:00Z") },
    ]);
  });

  it("reads them by path and by key, the file key recomputed from the chunks", async () => {
    const hello = await cluster.runCli(["read", "docs/hello.txt"]);
    expect(hello.code, hello.stderr).toBe(0);
    expect(hello.stdout).toBe("written before metadata version 2\n");
    const xs = await cluster.runCli(["read", files[2]?.key as string]);
    expect(xs.code, xs.stderr).toBe(0);
    expect(xs.stdout).toBe("x".repeat(3000));
  });

  it("stats them, and a file uploaded again is stored in the new format beside the old ones", async () => {
    const stat = await cluster.runCli(["stat", "xs.bin", "--json"]);
    expect(stat.code, stat.stderr).toBe(0);
    expect(JSON.parse(stat.stdout)).toMatchObject({ path: "xs.bin", size: 3000, key: files[2]?.key });
    const input = join(cluster.dir, "new.txt");
    await writeFile(input, "new\n");
    expect((await cluster.runCli(["upload", input, "--path", "new.txt"])).code).toBe(0);
    const ls = await cluster.runCli(["ls", "--json"]);
    expect(ls.code, ls.stderr).toBe(0);
    expect(JSON.parse(ls.stdout).map((f: Uploaded) => f.path)).toEqual([
      "docs/hello.txt",
      "docs/twin.txt",
      "new.txt",
      "xs.bin",
    ]);
    expect((await cluster.runCli(["read", "new.txt"])).stdout).toBe("new\n");
  });

  // Last: it leaves docs/hello.txt forged.
  it("refuses an old entry forged to another manifest of its size: the recomputed file key differs", async () => {
    const keys = deriveKeys(await loadDataKey(loadDataKeyPath(cluster.clusterDir)));
    const [hello, twin] = [pathIdOf(keys, "docs/hello.txt"), pathIdOf(keys, "docs/twin.txt")];
    // The first format binds only path, size and time, so an entry pointing at another manifest of the
    // same size looks right; the file key recomputed from that manifest's chunks does not match it.
    // (One that also carries the other file's key passes: such entries are upgraded by uploading again.)
    await pushSwappedEntry(cluster, {
      cert: "node-1",
      target: 0,
      victim: hello,
      donor: twin,
      manifestOnly: true,
    });
    try {
      const out = join(cluster.dir, "hello.out");
      const toFile = await cluster.runCli(["read", "docs/hello.txt", "-o", out]);
      expect(toFile.code, toFile.stderr).toBe(5);
      expect(toFile.stderr).toMatch(
        /^dmfs: the chunks of manifest [0-9a-f]{12} \(served by node [0-9a-f]{8}\) make file key/,
      );
      expect(existsSync(out)).toBe(false);
      expect((await readdir(cluster.dir)).filter((f) => f.includes("dmfs-partial"))).toEqual([]);
      // ...and to stdout the bytes are out before the end shows the file key is wrong: the error follows.
      const toStdout = await cluster.runCli(["read", "docs/hello.txt"]);
      expect(toStdout.code).toBe(5);
      expect(toStdout.stderr).toContain("make file key");
    } finally {
      killHostiles();
    }
  });
});
