// Files across the mesh, end to end on three real nodes: byte-identical round trips at the chunk
// boundaries (through the FileClient library and through the CLI), an upload from a named pipe, and a
// 200 MiB file streamed from disk and back to disk, compared by streaming hash.
import { execFile } from "node:child_process";
import { createWriteStream } from "node:fs";
import { readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CHUNK_SIZE,
  collector,
  seededBytes,
  seededStream,
  sha256OfFile,
  TestCluster,
  writeSeededFile,
} from "../helpers/cluster-harness.ts";

const SIZES = [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 3 * CHUNK_SIZE + 5];
const BIG = 200 * 1024 * 1024;

let cluster: TestCluster;

beforeAll(async () => {
  cluster = await TestCluster.create([{ join: [] }, { join: [0] }, { join: [0, 1] }]);
  await cluster.startAll();
  await cluster.waitForMesh();
});

afterAll(async () => {
  await cluster?.stop();
});

describe("round trips", () => {
  it("returns the exact bytes of files at and around the chunk size through the FileClient", async () => {
    const files = await cluster.files(0);
    const reader = await cluster.files(2);
    for (const size of SIZES) {
      const original = await seededBytes(`lib-${size}`, size);
      const uploaded = await files.upload(seededStream(`lib-${size}`, size), `lib/${size}.bin`, 1_000);
      expect(uploaded).toMatchObject({ size, chunks: Math.ceil(size / CHUNK_SIZE) });
      expect(uploaded.key).toMatch(/^[0-9a-f]{64}$/);

      // By key through another gateway, and by path.
      for (const name of [uploaded.key, `lib/${size}.bin`]) {
        const { out, bytes } = collector();
        const { meta } = await reader.read(name, out);
        expect(meta).toMatchObject({
          v: 2,
          path: `lib/${size}.bin`,
          size,
          mtime: 1_000,
          fileKey: uploaded.key,
        });
        const back = bytes();
        expect(back.length).toBe(size);
        expect(back.equals(original)).toBe(true);
      }
    }
  });

  // Fourteen dmfs processes one after another, each about 1.5 s of CPU to start on this machine.
  it("returns the exact bytes of files at and around the chunk size through the CLI", async () => {
    for (const size of SIZES) {
      const input = join(cluster.dir, `cli-${size}.bin`);
      await writeSeededFile(input, `cli-${size}`, size);
      const up = await cluster.runCli(["upload", input, "--path", `cli/${size}.bin`, "--json"], {
        gateway: 1,
      });
      expect(up.stderr).toBe("");
      expect(up.code).toBe(0);
      const result = JSON.parse(up.stdout) as { key: string; size: number; chunks: number; path: string };
      expect(result).toMatchObject({ path: `cli/${size}.bin`, size, chunks: Math.ceil(size / CHUNK_SIZE) });

      const output = join(cluster.dir, `cli-${size}.out`);
      const read = await cluster.runCli(["read", result.key, "-o", output], { gateway: 2 });
      expect(read.stderr).toBe("");
      expect(read.code).toBe(0);
      expect((await readFile(output)).equals(await readFile(input))).toBe(true);
    }
    // Without -o the bytes go to stdout.
    const text = join(cluster.dir, "hello.txt");
    await writeFile(text, "hello, mesh\n");
    const up = await cluster.runCli(["upload", text, "--path", "docs/hello.txt"]);
    expect(up.code).toBe(0);
    const read = await cluster.runCli(["read", "docs/hello.txt"], { gateway: 2 });
    expect({ code: read.code, stdout: read.stdout, stderr: read.stderr }).toEqual({
      code: 0,
      stdout: "hello, mesh\n",
      stderr: "",
    });
  }, 90_000);

  it("uploads from a named pipe, whose size is not known up front", async () => {
    const fifo = join(cluster.dir, "small.fifo");
    await promisify(execFile)("mkfifo", [fifo]);
    const size = 3 * CHUNK_SIZE + 5;
    const feeding = pipeline(seededStream("fifo", size), createWriteStream(fifo));
    const up = await cluster.runCli(["upload", fifo, "--path", "from-a-pipe.bin", "--json"]);
    await feeding;
    expect(up.stderr).toBe("");
    expect(JSON.parse(up.stdout)).toMatchObject({ path: "from-a-pipe.bin", size, chunks: 4 });
    expect((await cluster.readBack("from-a-pipe.bin", 1)).equals(await seededBytes("fifo", size))).toBe(true);
  });

  it("uploads standard input given as -, here a socket as Node's child processes get it", async () => {
    const size = 2 * CHUNK_SIZE + 17;
    const up = await cluster.runCli(["upload", "-", "--path", "from-stdin.bin", "--json"], {
      stdin: seededStream("stdin", size),
    });
    expect(up.stderr).toBe("");
    expect(JSON.parse(up.stdout)).toMatchObject({ path: "from-stdin.bin", size, chunks: 3 });
    expect((await cluster.readBack("from-stdin.bin", 2)).equals(await seededBytes("stdin", size))).toBe(true);
  });

  it("streams a 200 MiB file from disk through the CLI and back to disk unchanged", async () => {
    const input = join(cluster.dir, "big.bin");
    await writeSeededFile(input, "big", BIG);
    const started = performance.now();
    const up = await cluster.runCli(["upload", input, "--path", "big.bin", "--json"], { timeoutMs: 120_000 });
    const uploadSeconds = (performance.now() - started) / 1000;
    expect(up.code).toBe(0);
    const { key } = JSON.parse(up.stdout) as { key: string };

    const output = join(cluster.dir, "big.out");
    const readStarted = performance.now();
    const read = await cluster.runCli(["read", key, "-o", output], { gateway: 1, timeoutMs: 120_000 });
    const readSeconds = (performance.now() - readStarted) / 1000;
    expect(read.code).toBe(0);
    expect((await stat(output)).size).toBe(BIG);
    expect(await sha256OfFile(output)).toBe(await sha256OfFile(input));
    console.info(
      `200 MiB: upload ${uploadSeconds.toFixed(1)} s (${(200 / uploadSeconds).toFixed(0)} MiB/s), read ${readSeconds.toFixed(1)} s (${(200 / readSeconds).toFixed(0)} MiB/s)`,
    );
    // Nothing else on stderr: no progress bar off a TTY, and no MaxListenersExceeded warning (a leak).
    expect(up.stderr).toBe("");
    expect(read.stderr).toBe("");
    for (const node of cluster.nodes) expect(node?.output.filter((l) => l.includes("Warning"))).toEqual([]);
  }, 180_000);
});
