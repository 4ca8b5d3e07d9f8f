import { createCipheriv, createHash } from "node:crypto";
import { finished } from "node:stream/promises";
import { describe, expect, it } from "vitest";
import { StreamCheck, streamBytes, streamPieces } from "../../bench/e2e-data.ts";
import { DmfsError } from "../../src/errors.ts";

async function collect(pieces: AsyncIterable<Buffer>): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for await (const piece of pieces) out.push(piece);
  return out;
}

async function feed(check: StreamCheck, pieces: Buffer[]): Promise<unknown> {
  const done = finished(check);
  for (const piece of pieces) check.write(piece);
  check.end();
  return done.then(
    () => undefined,
    (err: unknown) => err,
  );
}

describe("the benchmark's file contents", () => {
  it("are the AES-128-CTR key stream of a key named by the seed", () => {
    const key = createHash("sha256").update("seed-a").digest().subarray(0, 16);
    const expected = createCipheriv("aes-128-ctr", key, Buffer.alloc(16)).update(Buffer.alloc(100));
    expect(streamBytes("seed-a", 0, 100)).toEqual(expected);
  });

  it("can be generated from any offset, aligned or not", () => {
    const whole = streamBytes("seek", 0, 5000);
    for (const [offset, length] of [
      [0, 1],
      [15, 2],
      [16, 16],
      [1234, 3000],
      [4999, 1],
    ] as const) {
      expect(streamBytes("seek", offset, length)).toEqual(whole.subarray(offset, offset + length));
    }
  });

  it("differ between seeds", () => {
    expect(streamBytes("one", 0, 64).equals(streamBytes("two", 0, 64))).toBe(false);
  });

  it("stream in pieces whose concatenation is the stream, the last piece shorter", async () => {
    const pieces = await collect(streamPieces("pieces", 10_000, 4096));
    expect(pieces.map((p) => p.length)).toEqual([4096, 4096, 1808]);
    expect(Buffer.concat(pieces)).toEqual(streamBytes("pieces", 0, 10_000));
  });

  it("stream nothing for an empty file", async () => {
    expect(await collect(streamPieces("empty", 0, 4096))).toEqual([]);
  });
});

describe("checking what a read returns", () => {
  const size = 3 * 65536 + 100;
  const pieces = () => {
    const all = streamBytes("read", 0, size);
    return [all.subarray(0, 65536), all.subarray(65536, 131072), all.subarray(131072)].map((p) =>
      Buffer.from(p),
    );
  };

  it("accepts the uploaded bytes, in any piece sizes", async () => {
    expect(await feed(new StreamCheck("read", size, "f"), pieces())).toBeUndefined();
    const all = streamBytes("read", 0, size);
    const small = Array.from({ length: Math.ceil(size / 1000) }, (_, i) =>
      all.subarray(i * 1000, (i + 1) * 1000),
    );
    expect(await feed(new StreamCheck("read", size, "f"), small)).toBeUndefined();
  });

  it("rejects reordered pieces", async () => {
    const [a, b, c] = pieces() as [Buffer, Buffer, Buffer];
    const err = await feed(new StreamCheck("read", size, "f"), [b, a, c]);
    expect(err).toBeInstanceOf(DmfsError);
    expect((err as DmfsError).code).toBe("E_CHUNK_CORRUPT");
    expect((err as DmfsError).message).toContain("offset 0");
  });

  it("rejects a flipped byte near the end of a piece", async () => {
    const parts = pieces();
    const middle = parts[1] as Buffer;
    middle[middle.length - 10] = (middle[middle.length - 10] ?? 0) ^ 1;
    const err = (await feed(new StreamCheck("read", size, "f"), parts)) as DmfsError;
    expect(err.code).toBe("E_CHUNK_CORRUPT");
  });

  it("rejects a truncated and an overlong read", async () => {
    const parts = pieces();
    const short = (await feed(new StreamCheck("read", size, "f"), parts.slice(0, 2))) as DmfsError;
    expect(short.message).toContain(`131072 of the ${size} bytes`);
    const long = (await feed(new StreamCheck("read", size - 1, "f"), parts)) as DmfsError;
    expect(long.code).toBe("E_CHUNK_CORRUPT");
  });

  it("rejects another file's bytes", async () => {
    const other = streamBytes("other", 0, 4096);
    const err = (await feed(new StreamCheck("read", 4096, "f"), [other])) as DmfsError;
    expect(err.code).toBe("E_CHUNK_CORRUPT");
  });
});
