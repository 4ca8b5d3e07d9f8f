// What the nodes store, on three real nodes: the same file uploaded again adds no chunk bytes anywhere
// (convergent encryption dedups it), and no node's disk - chunk files, node.db and its WAL - holds a
// file's plaintext or its path.
import { randomUUID } from "node:crypto";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CHUNK_SIZE,
  seededStream,
  startThreeNodeCluster,
  type TestCluster,
  waitFor,
} from "../helpers/cluster-harness.ts";

const NODES = [0, 1, 2];
let cluster: TestCluster;

beforeAll(async () => {
  cluster = await startThreeNodeCluster();
});

afterAll(async () => {
  await cluster?.stop();
});

async function storeFigures(): Promise<{ chunks: number; bytes: number }[]> {
  return Promise.all(
    NODES.map(async (i) => {
      const { store } = await cluster.status(i);
      return { chunks: store.chunks, bytes: store.bytes };
    }),
  );
}

/** Every regular file under `dir`, recursively. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

describe("what nodes store", () => {
  it("adds no chunk bytes on any node when the same file is uploaded again", async () => {
    const size = 3 * CHUNK_SIZE + 5;
    const first = await (await cluster.files(0)).upload(seededStream("dedup", size), "dedup/a.bin", 1);
    // R=3 on three nodes: every node ends up with every chunk and the manifest.
    await waitFor(
      "all copies of the first upload",
      async () => (await storeFigures()).every((s) => s.chunks === first.chunks + 1),
      10_000,
    );
    const before = await storeFigures();
    expect(before.every((s) => s.bytes > size)).toBe(true);

    // Again under the same path, and under another path through another gateway.
    const same = await (await cluster.files(1)).upload(seededStream("dedup", size), "dedup/a.bin", 2);
    const other = await (await cluster.files(2)).upload(seededStream("dedup", size), "dedup/b.bin", 3);
    expect(same.key).toBe(first.key);
    expect(other.key).toBe(first.key);
    expect(await storeFigures()).toEqual(before);
  });

  it("keeps neither a file's contents nor its path in any node's files", async () => {
    const marker = `MARKER-${randomUUID()}`;
    const path = `secret-${randomUUID()}/plans-${randomUUID()}.txt`;
    const input = join(cluster.dir, "plain.txt");
    // Text repeated well past one chunk, so some chunks are all marker text.
    await writeFile(input, `${marker} is in this file.\n`.repeat(40_000));
    const up = await cluster.runCli(["upload", input, "--path", path]);
    expect(up.code).toBe(0);
    for (const i of NODES) {
      await waitFor(
        `node ${i} to list the file`,
        async () => {
          const ls = await cluster.runCli(["ls", "--json"], { gateway: i });
          return (JSON.parse(ls.stdout) as { path: string }[]).some((f) => f.path === path);
        },
        10_000,
      );
    }

    const needles = [marker, path, path.split("/")[0] as string, path.split("/")[1] as string].map((s) =>
      Buffer.from(s),
    );
    let scanned = 0;
    for (const i of NODES) {
      const root = join(cluster.dir, `node-${i}`);
      const found = await filesUnder(root);
      expect(found.map((f) => f.slice(root.length + 1))).toEqual(expect.arrayContaining(["node.db"]));
      for (const file of found) {
        const bytes = await readFile(file);
        scanned += bytes.length;
        for (const needle of needles) {
          expect(bytes.includes(needle), `${needle} in ${file}`).toBe(false);
        }
      }
      // Nor the node's own log lines.
      const log = Buffer.from(cluster.nodes[i]?.output.join("\n") ?? "");
      for (const needle of needles) expect(log.includes(needle)).toBe(false);
    }
    // The scan covered at least the three copies of the file's chunks.
    expect(scanned).toBeGreaterThan(3 * 40_000 * marker.length);
  });
});
