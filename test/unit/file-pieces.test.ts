import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { filePieces } from "../../src/cli/file-pieces.ts";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "dmfs-file-pieces-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Copies every piece as it comes: they share one buffer, valid only until the next is asked for. */
async function collect(pieces: AsyncIterable<Uint8Array>): Promise<{ bytes: Buffer; buffers: number }> {
  const copies: Buffer[] = [];
  const buffers = new Set<ArrayBufferLike>();
  for await (const piece of pieces) {
    copies.push(Buffer.from(piece));
    buffers.add(piece.buffer);
  }
  return { bytes: Buffer.concat(copies), buffers: buffers.size };
}

const openFiles = () => readdir("/proc/self/fd").then((fds) => fds.length);

describe("filePieces", () => {
  it("reads a file of several megabytes through one buffer and closes it", async () => {
    const file = join(dir, "three-and-a-bit.bin");
    const content = randomBytes(3 * 1024 * 1024 + 5);
    await writeFile(file, content);
    const before = await openFiles();
    const { bytes, buffers } = await collect(filePieces(file));
    expect(bytes.equals(content)).toBe(true);
    expect(buffers).toBe(1);
    expect(await openFiles()).toBe(before);
  });

  it("reads a named pipe to its end, whatever sizes its writes come in", async () => {
    const fifo = join(dir, "pipe");
    execFileSync("mkfifo", [fifo]);
    const content = randomBytes(2 * 1024 * 1024 + 123);
    const feeding = pipeline(
      Readable.from([content.subarray(0, 7), content.subarray(7)]),
      createWriteStream(fifo),
    );
    const { bytes } = await collect(filePieces(fifo));
    await feeding;
    expect(bytes.equals(content)).toBe(true);
  });

  it("closes the file when the consumer stops early", async () => {
    const file = join(dir, "stopped.bin");
    await writeFile(file, randomBytes(3 * 1024 * 1024));
    const before = await openFiles();
    for await (const _piece of filePieces(file)) break;
    expect(await openFiles()).toBe(before);
  });

  it("fails on a file that cannot be opened, naming it", async () => {
    await expect(collect(filePieces(join(dir, "missing.bin")))).rejects.toThrow(/missing\.bin/);
  });
});
