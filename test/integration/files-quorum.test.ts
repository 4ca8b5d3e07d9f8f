// The write quorum on three real nodes (R=3, W=2): with one node down an upload succeeds and the node
// gets its copies and the catalog entry when it returns; with two down the upload fails with E_QUORUM
// (exit status 7) before anything is committed, so no node ever lists the file; a node killed in the
// middle of an upload does not fail it.
import { existsSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  seededBytes,
  seededStream,
  startThreeNodeCluster,
  type TestCluster,
  waitFor,
} from "../helpers/cluster-harness.ts";

let cluster: TestCluster;

beforeAll(async () => {
  cluster = await startThreeNodeCluster();
});

afterAll(async () => {
  await cluster?.stop();
});

async function waitUntilDown(observers: number[], down: number): Promise<void> {
  for (const i of observers) {
    await waitFor(
      `node ${i} to report node ${down} down`,
      async () => (await cluster.peerStates(i))[cluster.addrs[down] as string] === "down",
      10_000,
    );
  }
}

/** The paths `dmfs ls --json` shows through node `gateway`. */
async function listed(gateway: number): Promise<string[]> {
  const ls = await cluster.runCli(["ls", "--json"], { gateway });
  expect(ls.stderr).toBe("");
  expect(ls.code).toBe(0);
  return (JSON.parse(ls.stdout) as { path: string }[]).map((f) => f.path);
}

describe("write quorum", () => {
  it("accepts an upload with one of three nodes down and copies it to that node when it returns", async () => {
    await cluster.kill(2);
    await waitUntilDown([0, 1], 2);

    const input = join(cluster.dir, "one-down.bin");
    await writeFile(input, await seededBytes("one-down", 3 * 1024 * 1024 + 5));
    const up = await cluster.runCli(["upload", input, "--json"], { gateway: 0 });
    expect(up.stderr).toBe("");
    expect(up.code).toBe(0);
    const stat = await (await cluster.files(1)).stat("one-down.bin");
    const objects = [stat.manifest.id, ...stat.chunks.map((c) => c.id)];
    for (const id of objects) {
      expect(existsSync(cluster.chunkPath(0, id))).toBe(true);
      expect(existsSync(cluster.chunkPath(1, id))).toBe(true);
      expect(existsSync(cluster.chunkPath(2, id))).toBe(false);
    }

    await cluster.start(2);
    await cluster.waitForMesh();
    // Repair and anti-entropy run when a peer returns (and periodically): the copies and the entry follow.
    await waitFor(
      "node 2 to get every chunk of the file on disk",
      () => objects.every((id) => existsSync(cluster.chunkPath(2, id))),
      10_000,
    );
    await waitFor("node 2 to list the file", async () => (await listed(2)).includes("one-down.bin"), 10_000);
  });

  it("refuses an upload with two of three nodes down with E_QUORUM and commits nothing anywhere", async () => {
    await cluster.kill(1);
    await cluster.kill(2);
    await waitUntilDown([0], 1);
    await waitUntilDown([0], 2);

    const input = join(cluster.dir, "two-down.bin");
    await writeFile(input, await seededBytes("two-down", 2 * 1024 * 1024));
    const up = await cluster.runCli(["upload", input], { gateway: 0 });
    expect(up.code).toBe(7);
    expect(up.stdout).toBe("");
    expect(up.stderr).toBe("dmfs: write quorum not met: 1 node is alive and the write quorum W is 2\n");
    // A file of one chunk skips file.begin; the write of its chunk refuses it the same way, storing nothing.
    const small = join(cluster.dir, "two-down-small.bin");
    await writeFile(small, await seededBytes("two-down-small", 1000));
    const upSmall = await cluster.runCli(["upload", small], { gateway: 0 });
    expect(upSmall.code).toBe(7);
    expect(upSmall.stderr).toBe("dmfs: write quorum not met: 1 node is alive and the write quorum W is 2\n");
    expect(await listed(0)).toEqual(["one-down.bin"]);

    await cluster.start(1);
    await cluster.start(2);
    await cluster.waitForMesh();
    // Once every node lists the earlier file the catalogs have been compared; the refused one is nowhere.
    for (const i of [0, 1, 2]) {
      await waitFor(`node ${i} to list one-down.bin`, async () => (await listed(i)).length > 0, 10_000);
      expect(await listed(i)).toEqual(["one-down.bin"]);
    }
    // Nor did any node keep a chunk of it: only the first file's objects are stored anywhere.
    for (const i of [0, 1, 2]) expect((await cluster.status(i)).store.chunks).toBe(5);
  });

  it("completes an upload when a node is killed in the middle of it", async () => {
    const size = 40 * 1024 * 1024;
    const files = await cluster.files(0);
    let killed: Promise<void> | undefined;
    const result = await files.upload(seededStream("mid-kill", size), "mid-kill.bin", 0, (done) => {
      if (done >= 8 * 1024 * 1024) killed ??= cluster.kill(2);
    });
    await killed;
    expect(killed).toBeDefined();
    expect(result.size).toBe(size);

    const pieces: Buffer[] = [];
    const out = new Writable({
      write(piece: Buffer, _encoding, done) {
        pieces.push(Buffer.from(piece));
        done();
      },
    });
    await (await cluster.files(1)).read("mid-kill.bin", out);
    expect(Buffer.concat(pieces).equals(await seededBytes("mid-kill", size))).toBe(true);
  });
});
