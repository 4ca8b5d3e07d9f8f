// Ranged reads of a three-level manifest tree on three real nodes: `dmfs read --offset --length` at the
// first, last and middle bytes and across chunk, leaf and inner-object boundaries returns exactly that
// slice of the source, fetching (counted on the nodes) one index object per level and only the chunks
// covering the range. The client library's readRange does the same; bad numbers are usage errors; and
// garbage collection walks trees on real nodes: a deleted tree goes whole, a live one stays whole.
import { createReadStream, existsSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { StatResult } from "../../src/client/file-client.ts";
import {
  oneSentence,
  seededBytes,
  seededSlice,
  seededStream,
  sha256Of,
  TestCluster,
  waitFor,
} from "../helpers/cluster-harness.ts";

const CHUNK = 64 * 1024;
// Fan-out 4 (the library's test seam; uploads use 1,000): 42 chunks make 11 leaves, 3 level-1 objects
// and a root of level 2 - the depth a 1,000-fan-out tree reaches at 1,000,001 chunks.
const FAN_OUT = 4;
const SIZE = 41 * CHUNK + 12_345;
const SEED = "ranged";
const GRACE_MS = 2_000;

let cluster: TestCluster;
let tree: StatResult;

beforeAll(async () => {
  const gc = { extraArgs: ["--gc-grace-ms", String(GRACE_MS)] };
  cluster = await TestCluster.create([{ ...gc }, { ...gc, join: [0] }, { ...gc, join: [0, 1] }], {
    replication: 3,
    writeQuorum: 2,
  });
  await cluster.startAll();
  await cluster.waitForMesh();
  const files = await cluster.files(0, { chunkSize: CHUNK, indexFanOut: FAN_OUT });
  await files.upload(seededStream(SEED, SIZE), "deep.bin", Date.now());
  tree = await files.stat("deep.bin");
}, 120_000);

afterAll(async () => {
  await cluster?.stop();
});

/** Chunks and index objects every node served to clients so far (status activity.chunkReads). */
async function objectsRead(): Promise<number> {
  const counts = await Promise.all([0, 1, 2].map(async (i) => (await cluster.status(i)).activity.chunkReads));
  return counts.reduce((a, b) => a + b, 0);
}

/** Runs a ranged `dmfs read`; returns its output and how many objects the nodes served for it. */
async function readRange(offset: number, length?: number): Promise<{ bytes: Buffer; fetched: number }> {
  const before = await objectsRead();
  const args = [
    "read",
    "deep.bin",
    "--offset",
    String(offset),
    ...(length === undefined ? [] : ["--length", String(length)]),
  ];
  const run = await cluster.runCli(args);
  expect(run.code, run.stderr).toBe(0);
  return { bytes: run.stdoutBytes, fetched: (await objectsRead()) - before };
}

// Each test runs several `dmfs` processes one after another, seconds each on a loaded machine.
describe("ranged reads of a three-level manifest tree", { timeout: 180_000 }, () => {
  it("stores the file as a three-level tree and reads it back whole", async () => {
    expect(tree.chunks).toHaveLength(42);
    expect(tree.index).toHaveLength(11 + 3);
    const run = await cluster.runCli(["read", "deep.bin", "-o", `${cluster.dir}/deep.out`]);
    expect(run.code, run.stderr).toBe(0);
    expect(await sha256Of(createReadStream(`${cluster.dir}/deep.out`))).toBe(
      await sha256Of(seededStream(SEED, SIZE)),
    );
  });

  it("returns exactly the slice at the first, last and middle bytes and across boundaries, fetching only what covers it", async () => {
    // [offset, length, objects fetched: the root, one object per level below it on each path, the chunks]
    const cases: [string, number, number | undefined, number][] = [
      ["the first byte", 0, 1, 1 + 1 + 1 + 1],
      ["the last byte", SIZE - 1, 1, 4],
      ["a byte in the middle", Math.floor(SIZE / 2), 1, 4],
      ["the last 100 bytes, no length", SIZE - 100, undefined, 4],
      ["across two chunks of one leaf", CHUNK - 10, 20, 1 + 1 + 1 + 2],
      ["across two leaves", 4 * CHUNK - 5, 10, 1 + 1 + 2 + 2],
      ["across two level-1 objects", 16 * CHUNK - 3, 6, 1 + 2 + 2 + 2],
      ["three whole chunks and a bit", 2 * CHUNK, 3 * CHUNK + 1, 1 + 1 + 2 + 4],
    ];
    for (const [what, offset, length, objects] of cases) {
      const { bytes, fetched } = await readRange(offset, length);
      const end = length === undefined ? SIZE : offset + length;
      expect(bytes.equals(seededSlice(SEED, offset, end)), what).toBe(true);
      expect(fetched, what).toBe(objects);
    }
  });

  it("clamps a range past the end like a file read", async () => {
    const tail = await readRange(SIZE - 5, 100);
    expect(tail.bytes.equals(seededSlice(SEED, SIZE - 5, SIZE))).toBe(true);
    const beyond = await readRange(SIZE + 10, 5);
    expect(beyond.bytes.length).toBe(0);
    expect(beyond.fetched).toBe(1); // the root, to learn the size
    const none = await readRange(1000, 0);
    expect(none.bytes.length).toBe(0);
  });

  it("gives the client library a range as an async iterable, which may be left early", async () => {
    const files = await cluster.files(1);
    const range = await files.readRange("deep.bin", { offset: 5 * CHUNK + 7, length: 2 * CHUNK });
    expect([range.size, range.start, range.end]).toEqual([SIZE, 5 * CHUNK + 7, 7 * CHUNK + 7]);
    const pieces: Buffer[] = [];
    for await (const piece of range.bytes) pieces.push(Buffer.from(piece));
    expect(Buffer.concat(pieces).equals(seededSlice(SEED, 5 * CHUNK + 7, 7 * CHUNK + 7))).toBe(true);
    // Leaving after the first piece stops the fetches; the client goes on working.
    const early = await files.readRange("deep.bin", { offset: 0 });
    for await (const piece of early.bytes) {
      expect(piece.length).toBe(CHUNK);
      break;
    }
    const again = await files.readRange("deep.bin", { offset: SIZE - 3 });
    const last: Buffer[] = [];
    for await (const piece of again.bytes) last.push(Buffer.from(piece));
    expect(Buffer.concat(last).equals(seededSlice(SEED, SIZE - 3, SIZE))).toBe(true);
    await expect(files.readRange("deep.bin", { offset: -1 })).rejects.toMatchObject({ code: "E_USAGE" });
  });

  it("refuses offsets and lengths that are not whole numbers from 0 with one sentence and exit 2", async () => {
    for (const flags of [
      ["--offset=-1"],
      ["--offset", "1.5"],
      ["--length", "ten"],
      ["--length", "1e3"],
      ["--offset", "9007199254740993"],
      ["--offset", ""],
    ]) {
      const line = oneSentence(await cluster.runCli(["read", "deep.bin", ...flags]), 2);
      expect(line).toMatch(/^dmfs: --(offset|length) must be a whole number of bytes from 0/);
    }
  });

  it("garbage collection takes a deleted tree whole and keeps every object of a live one", async () => {
    const files = await cluster.files(2, { chunkSize: CHUNK, indexFanOut: FAN_OUT });
    await files.upload(seededStream("doomed", 20 * CHUNK), "doomed.bin", Date.now());
    const doomed = await files.stat("doomed.bin");
    const doomedIds = [
      doomed.manifest.id,
      ...doomed.index.map((o) => o.id),
      ...doomed.chunks.map((c) => c.id),
    ];
    expect(doomed.index.length).toBe(5 + 2); // three levels here too
    await files.delete("doomed.bin");
    await waitFor(
      "every node to collect the deleted tree",
      async () => {
        const run = await cluster.runCli(["gc", "--now"]);
        expect(run.code, run.stderr).toBe(0);
        return doomedIds.every((id) => [0, 1, 2].every((i) => !existsSync(cluster.chunkPath(i, id))));
      },
      60_000,
    );
    const liveIds = [tree.manifest.id, ...tree.index.map((o) => o.id), ...tree.chunks.map((c) => c.id)];
    for (const i of [0, 1, 2]) {
      expect(
        liveIds.filter((id) => !existsSync(cluster.chunkPath(i, id))),
        `node ${i}`,
      ).toEqual([]);
    }
    expect((await cluster.readBack("deep.bin", 1)).equals(await seededBytes(SEED, SIZE))).toBe(true);
  });
});
