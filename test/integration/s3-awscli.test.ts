// The Debian aws-cli against a real `dmfs s3` gateway in front of two real nodes, configured with the
// files README.md shows: a tree of 500 small files synced up and back byte for byte, listed and removed
// recursively, and one file copied up and down. What aws-cli writes, `dmfs ls` and `dmfs read` see.
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli, sha256OfFile, type TestCluster, writeSeededFile } from "../helpers/cluster-harness.ts";
import { fileTreeDigest, writeFileTree } from "../helpers/file-tree.ts";
import {
  type ClientHome,
  type ClientSetup,
  missingClients,
  startClientSetup,
} from "../helpers/s3-clients.ts";

const missing = missingClients(["aws"]);
if (missing) console.warn(`SKIPPED aws-cli tests: ${missing}`);

const TREE_FILES = 500;
/** Below aws-cli's 8 MiB multipart threshold, and several 1 MiB chunks. */
const SINGLE_FILE = 7 * 1024 * 1024 + 321;

let cluster: TestCluster;
let clients: ClientHome;
let work: string;
let setup: ClientSetup | undefined;

beforeAll(async () => {
  if (missing) return;
  setup = await startClientSetup("awscli");
  ({ cluster, clients, work } = setup);
}, 120_000);

afterAll(async () => {
  await setup?.stop();
});

/** Runs aws and expects it to succeed; its standard output. */
async function aws(...args: string[]): Promise<string> {
  const r = await clients.aws(args);
  expect(r.code, `aws ${args.join(" ")}: ${r.stderr}`).toBe(0);
  return r.stdout;
}

describe.skipIf(missing !== undefined)("aws-cli", () => {
  it("syncs a tree of 500 files up and back byte for byte, lists it recursively and removes it recursively", async () => {
    const source = join(work, "tree");
    const sizes = await writeFileTree(source, TREE_FILES, "awscli-tree");
    await aws("s3", "mb", "s3://synced");
    await aws("s3", "sync", source, "s3://synced/tree", "--only-show-errors");

    // "2026-11-25 21:00:07        370 tree/d1/f10.bin"
    const listed = (await aws("s3", "ls", "--recursive", "s3://synced"))
      .split("\n")
      .filter(Boolean)
      .map((line) => /^\S+ \S+\s+(\d+) (.*)$/.exec(line) ?? line);
    expect(new Map(listed.map((m) => (typeof m === "string" ? [m, -1] : [m[2], Number(m[1])])))).toEqual(
      new Map([...sizes].map(([path, size]) => [`tree/${path}`, size])),
    );

    const back = join(work, "back");
    await aws("s3", "sync", "s3://synced/tree", back, "--only-show-errors");
    expect(await fileTreeDigest(back)).toEqual(await fileTreeDigest(source));
    // A second sync finds nothing to do: sizes and times agree.
    expect(await aws("s3", "sync", source, "s3://synced/tree")).toBe("");

    const ls = await runCli([
      "ls",
      "--json",
      "--node",
      cluster.addrs[1] as string,
      "--cluster",
      cluster.clusterDir,
    ]);
    const dmfsPaths = (JSON.parse(ls.stdout) as { path: string }[]).map((f) => f.path);
    expect(dmfsPaths.filter((p) => p.startsWith("synced/")).sort()).toEqual(
      [...sizes.keys()].map((p) => `synced/tree/${p}`).sort(),
    );

    await aws("s3", "rm", "--recursive", "s3://synced/tree", "--only-show-errors");
    expect(await aws("s3", "ls", "--recursive", "s3://synced")).toBe("");
    await aws("s3", "rb", "s3://synced");
    expect(await aws("s3", "ls")).not.toContain("synced");
  }, 300_000);

  it("copies one file up and down (a single PUT), byte for byte, readable with `dmfs read`", async () => {
    const file = join(work, "single.bin");
    await writeSeededFile(file, "awscli-single", SINGLE_FILE);
    await aws("s3", "mb", "s3://single");
    await aws("s3", "cp", file, "s3://single/dir/single.bin", "--only-show-errors");
    const down = join(work, "single-down.bin");
    await aws("s3", "cp", "s3://single/dir/single.bin", down, "--only-show-errors");
    expect(await sha256OfFile(down)).toBe(await sha256OfFile(file));

    const head = JSON.parse(
      await aws("s3api", "head-object", "--bucket", "single", "--key", "dir/single.bin"),
    ) as { ContentLength: number; ETag: string };
    expect(head.ContentLength).toBe(SINGLE_FILE);
    // A single PUT's ETag is the MD5 of the content.
    expect(head.ETag).toBe(
      `"${createHash("md5")
        .update(await readFile(file))
        .digest("hex")}"`,
    );
    const read = await runCli([
      "read",
      "single/dir/single.bin",
      "--node",
      cluster.addrs[1] as string,
      "--cluster",
      cluster.clusterDir,
    ]);
    expect(read.code, read.stderr).toBe(0);
    expect(createHash("sha256").update(read.stdoutBytes).digest("hex")).toBe(await sha256OfFile(file));
  }, 120_000);
});
