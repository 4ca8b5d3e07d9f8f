// Bad input at the edges, through the real CLI against a real node: a file dated before 1970 under a
// path of exactly 1024 UTF-8 bytes goes through upload, ls, stat, read and delete with exit 0; a path
// one byte longer, or empty, is a usage error (exit 2) that stores nothing.
import { utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { oneSentence, sha256OfFile, TestCluster } from "../helpers/cluster-harness.ts";

let cluster: TestCluster;
const MOON_LANDING = Date.UTC(1969, 6, 20, 20, 17, 40);
// 1024 bytes: 2-byte and 4-byte characters in a directory path, padded with ASCII.
const LONG_PATH = (() => {
  const start = `${"é".repeat(100)}/${"😀".repeat(50)}/`;
  return start + "x".repeat(1024 - Buffer.byteLength(start));
})();

beforeAll(async () => {
  cluster = await TestCluster.create([{}], { replication: 1, writeQuorum: 1 });
  await cluster.start(0);
});

afterAll(async () => {
  await cluster?.stop();
});

// Each test runs up to a dozen `dmfs` processes one after another, seconds each on a loaded machine.
describe("edges of the metadata", { timeout: 120_000 }, () => {
  it("round-trips a 1969 file under a 1024-byte path through upload, ls, stat, read and delete", async () => {
    expect(Buffer.byteLength(LONG_PATH)).toBe(1024);
    const input = join(cluster.dir, "old.txt");
    await writeFile(input, "one small step\n");
    // A Date, not seconds: fs.utimes takes a negative number of seconds to mean "now".
    await utimes(input, new Date(MOON_LANDING), new Date(MOON_LANDING));

    const up = await cluster.runCli(["upload", input, "--path", LONG_PATH, "--json"]);
    expect(up.code, up.stderr).toBe(0);
    const { key } = JSON.parse(up.stdout) as { key: string };

    const ls = await cluster.runCli(["ls", "--json"]);
    expect(ls.code, ls.stderr).toBe(0);
    expect(JSON.parse(ls.stdout)).toEqual([{ path: LONG_PATH, key, size: 15, mtime: MOON_LANDING }]);
    const table = await cluster.runCli(["ls"]);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toContain("1969-07-20T20:17:40.000Z");

    const stat = await cluster.runCli(["stat", key, "--json"]);
    expect(stat.code, stat.stderr).toBe(0);
    expect(JSON.parse(stat.stdout).path).toBe(LONG_PATH);

    const toStdout = await cluster.runCli(["read", LONG_PATH]);
    expect(toStdout.code, toStdout.stderr).toBe(0);
    expect(toStdout.stdout).toBe("one small step\n");
    expect(toStdout.stderr).toBe("");
    const out = join(cluster.dir, "old.out");
    expect((await cluster.runCli(["read", key, "-o", out])).code).toBe(0);
    expect(await sha256OfFile(out)).toBe(await sha256OfFile(input));

    const del = await cluster.runCli(["delete", LONG_PATH]);
    expect(del.code, del.stderr).toBe(0);
    expect(del.stdout).toBe(`deleted ${LONG_PATH}\n`);
    expect(JSON.parse((await cluster.runCli(["ls", "--json"])).stdout)).toEqual([]);
  });

  it("refuses a path of 1025 bytes or none with a usage error and stores nothing", async () => {
    const input = join(cluster.dir, "small.txt");
    await writeFile(input, "x");
    const long = oneSentence(await cluster.runCli(["upload", input, "--path", `${LONG_PATH}y`]), 2);
    expect(long).toMatch(
      /^dmfs: cannot upload as ".*": the path is 1025 bytes long; at most 1024 are allowed$/,
    );
    const empty = oneSentence(await cluster.runCli(["upload", input, "--path", ""]), 2);
    expect(empty).toMatch(/the path is empty/);
    expect(JSON.parse((await cluster.runCli(["ls", "--json"])).stdout)).toEqual([]);
  });
});
