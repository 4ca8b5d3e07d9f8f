// The Debian rclone and s3cmd against a real `dmfs s3` gateway in front of two real nodes, configured
// with the files README.md shows. rclone: a tree of 500 small files synced to a bucket and back byte
// for byte, `rclone check` finding 0 differences (and finding the one a changed file makes), and
// `rclone cat --offset --count` giving exactly that slice. s3cmd: put (single and multipart), get, ls,
// info, del.
import { createHash } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { HeadObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CHUNK_SIZE,
  runCli,
  seededBytes,
  seededSlice,
  type TestCluster,
} from "../helpers/cluster-harness.ts";
import { fileTreeDigest, writeFileTree } from "../helpers/file-tree.ts";
import {
  type ClientHome,
  type ClientSetup,
  missingClients,
  startClientSetup,
} from "../helpers/s3-clients.ts";
import type { RunningGateway } from "../helpers/s3-gateway.ts";

const missingRclone = missingClients(["rclone"]);
if (missingRclone) console.warn(`SKIPPED rclone tests: ${missingRclone}`);
const missingS3cmd = missingClients(["s3cmd"]);
if (missingS3cmd) console.warn(`SKIPPED s3cmd tests: ${missingS3cmd}`);

const TREE_FILES = 500;

let cluster: TestCluster;
let gateway: RunningGateway;
let clients: ClientHome;
let work: string;
let setup: ClientSetup | undefined;

beforeAll(async () => {
  if (missingRclone && missingS3cmd) return;
  setup = await startClientSetup("rclone-s3cmd");
  ({ cluster, gateway, clients, work } = setup);
}, 120_000);

afterAll(async () => {
  await setup?.stop();
});

const access = () => ["--node", cluster.addrs[1] as string, "--cluster", cluster.clusterDir];

describe.skipIf(missingRclone !== undefined)("rclone", () => {
  /** Runs rclone and expects it to succeed; its result. */
  async function rclone(...args: string[]) {
    const r = await clients.rclone(args);
    expect(r.code, `rclone ${args.join(" ")}: ${r.stderr}`).toBe(0);
    return r;
  }

  it("syncs a tree of 500 files to a bucket and back byte for byte; rclone check finds 0 differences, then the one made", async () => {
    const source = join(work, "tree");
    const sizes = await writeFileTree(source, TREE_FILES, "rclone-tree");
    await rclone("sync", source, "dmfs:cloned/tree");
    const back = join(work, "back");
    await rclone("sync", "dmfs:cloned/tree", back);
    expect(await fileTreeDigest(back)).toEqual(await fileTreeDigest(source));

    const check = await rclone("check", source, "dmfs:cloned/tree");
    expect(check.stderr).toContain("0 differences found");
    expect(check.stderr).toContain(`${TREE_FILES} matching files`);

    // The check compares contents (the MD5 ETags against local MD5s), not only names: a changed file
    // of the same size and time is found.
    const changed = [...sizes].find(([, size]) => size > 0)?.[0] as string;
    const bytes = await readFile(join(source, changed));
    bytes[0] = (bytes[0] as number) ^ 0xff;
    await writeFile(join(source, changed), bytes);
    const differs = await clients.rclone(["check", source, "dmfs:cloned/tree"]);
    expect(differs.code).not.toBe(0);
    expect(differs.stderr).toContain("1 differences found");

    const ls = await runCli(["ls", "--json", ...access()]);
    const dmfsPaths = (JSON.parse(ls.stdout) as { path: string }[]).map((f) => f.path);
    expect(dmfsPaths.filter((p) => p.startsWith("cloned/")).length).toBe(TREE_FILES);
  }, 300_000);

  it("cat --offset --count gives exactly that slice, across chunk boundaries", async () => {
    const size = 3 * CHUNK_SIZE + 1234;
    const file = join(work, "sliced.bin");
    await writeFile(file, await seededBytes("rclone-slice", size));
    await rclone("copyto", file, "dmfs:cloned/sliced.bin");
    for (const [offset, count] of [
      [0, 10],
      [CHUNK_SIZE - 100, 300],
      [CHUNK_SIZE + 5, 2 * CHUNK_SIZE],
      [size - 7, 7],
    ] as const) {
      const cat = await rclone(
        "cat",
        "--offset",
        String(offset),
        "--count",
        String(count),
        "dmfs:cloned/sliced.bin",
      );
      expect(cat.stdoutBytes.equals(seededSlice("rclone-slice", offset, offset + count))).toBe(true);
    }
  }, 120_000);
});

describe.skipIf(missingS3cmd !== undefined)("s3cmd", () => {
  async function s3cmd(...args: string[]): Promise<string> {
    const r = await clients.s3cmd(args);
    expect(r.code, `s3cmd ${args.join(" ")}: ${r.stderr}`).toBe(0);
    return r.stdout;
  }

  it("makes a bucket, puts (single and multipart), lists, gets and deletes objects byte for byte", async () => {
    const content = await seededBytes("s3cmd-put", 2 * CHUNK_SIZE + 99);
    const file = join(work, "put.bin");
    await writeFile(file, content);
    await s3cmd("mb", "s3://cmd");
    await s3cmd("put", file, "s3://cmd/dir/put.bin");
    expect(await s3cmd("ls", "s3://cmd/dir/")).toMatch(
      new RegExp(` ${content.length}\\s+s3://cmd/dir/put\\.bin`),
    );
    expect(await s3cmd("ls", "s3://cmd/")).toMatch(/DIR\s+s3:\/\/cmd\/dir\//);
    const got = join(work, "got.bin");
    await s3cmd("get", "s3://cmd/dir/put.bin", got);
    expect((await readFile(got)).equals(content)).toBe(true);
    const read = await runCli(["read", "cmd/dir/put.bin", ...access()]);
    expect(read.stdoutBytes.equals(content)).toBe(true);

    // info reads the object's ACL (and the bucket's policy, CORS...): the owner's full control.
    const info = await s3cmd("info", "s3://cmd/dir/put.bin");
    expect(info).toMatch(/ACL:\s+dmfs: FULL_CONTROL/);
    expect(info).toContain(`MD5 sum:   ${createHash("md5").update(content).digest("hex")}`);

    // Past s3cmd's 15 MiB multipart_chunk_size_mb it uploads in parts by default: two here.
    const big = await seededBytes("s3cmd-multipart", 16 * CHUNK_SIZE + 7);
    const bigFile = join(work, "big.bin");
    await writeFile(bigFile, big);
    await s3cmd("put", bigFile, "s3://cmd/big.bin");
    const sdk = gateway.client();
    const head = await sdk.send(new HeadObjectCommand({ Bucket: "cmd", Key: "big.bin" }));
    sdk.destroy();
    expect(head.ETag).toMatch(/^"[0-9a-f]{32}-2"$/);
    const bigGot = join(work, "big-got.bin");
    await s3cmd("get", "s3://cmd/big.bin", bigGot);
    expect((await readFile(bigGot)).equals(big)).toBe(true);
    await s3cmd("del", "s3://cmd/big.bin");

    await s3cmd("del", "s3://cmd/dir/put.bin");
    expect(await s3cmd("ls", "--recursive", "s3://cmd/")).toBe("");
    const gone = await clients.s3cmd(["get", "s3://cmd/dir/put.bin", join(work, "gone.bin")]);
    expect(gone.code).not.toBe(0);
    expect(gone.stderr).toContain("does not exist");
  }, 120_000);
});
