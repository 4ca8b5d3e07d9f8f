import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BufferRecycler } from "../../src/client/buffer-recycler.ts";
import { chunkStream } from "../../src/client/chunker.ts";
import { isDmfsError } from "../../src/errors.ts";

const CHUNK = 4096;

async function collect(source: AsyncIterable<Uint8Array> | Readable, chunkSize: number) {
  const chunks: Uint8Array[] = [];
  for await (const chunk of chunkStream(source, chunkSize)) chunks.push(chunk);
  return chunks;
}

/** Splits `bytes` at the given cut points, yielding views into the caller's buffer. */
async function* pieces(bytes: Uint8Array, cuts: number[]): AsyncGenerator<Uint8Array> {
  let start = 0;
  for (const cut of [...cuts].sort((a, b) => a - b)) {
    yield bytes.subarray(start, cut);
    start = cut;
  }
  yield bytes.subarray(start);
}

function concat(chunks: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(chunks));
}

function expectOwnsItsBuffer(chunk: Uint8Array): void {
  expect(chunk.byteOffset).toBe(0);
  expect(chunk.byteLength).toBe(chunk.buffer.byteLength);
}

describe("chunkStream", () => {
  it.each([
    ["empty", 0],
    ["one byte", 1],
    ["one byte short of a chunk", CHUNK - 1],
    ["exactly one chunk", CHUNK],
    ["one byte over a chunk", CHUNK + 1],
    ["three chunks and five bytes", 3 * CHUNK + 5],
  ])("cuts a %s input into full chunks and a shorter last one", async (_name, size) => {
    const input = new Uint8Array(randomBytes(size));
    const chunks = await collect(pieces(input, []), CHUNK);

    expect(chunks.length).toBe(Math.ceil(size / CHUNK));
    for (const [index, chunk] of chunks.entries()) {
      const isLast = index === chunks.length - 1;
      expect(chunk.byteLength).toBe(isLast ? size - index * CHUNK : CHUNK);
      expectOwnsItsBuffer(chunk);
    }
    expect(concat(chunks)).toEqual(input);
  });

  it("reassembles to the input however the source splits it (property)", async () => {
    const sizes = fc.constantFrom(0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 5);
    const inputWithCuts = sizes.chain((size) =>
      fc.tuple(
        fc.uint8Array({ minLength: size, maxLength: size }),
        fc.array(fc.nat(size), { maxLength: 12 }),
      ),
    );
    await fc.assert(
      fc.asyncProperty(inputWithCuts, async ([input, cuts]) => {
        const chunks = await collect(pieces(input, cuts), CHUNK);
        expect(concat(chunks)).toEqual(input);
        expect(chunks.every((chunk, i) => chunk.byteLength === CHUNK || i === chunks.length - 1)).toBe(true);
        for (const chunk of chunks) expectOwnsItsBuffer(chunk);
      }),
      { numRuns: 150 },
    );
  });

  it("copies input bytes, so a source that reuses its buffer cannot change yielded chunks", async () => {
    const scratch = new Uint8Array(1000);
    async function* reusing() {
      for (let i = 0; i < 10; i++) {
        scratch.fill(i);
        yield scratch;
      }
    }
    const chunks = await collect(reusing(), 3000);
    expect(chunks.slice(0, 3).map((c) => [c[0], c[2999]])).toEqual([
      [0, 2],
      [3, 5],
      [6, 8],
    ]);
    expect(chunks[3]).toEqual(new Uint8Array(1000).fill(9));
  });

  it("reads from the source only as the consumer asks for chunks", async () => {
    let pulled = 0;
    async function* counted() {
      for (let i = 0; i < 1000; i++) {
        pulled += 1;
        yield new Uint8Array(1024);
      }
    }
    const iterator = chunkStream(counted(), 4 * 1024);
    await iterator.next();
    expect(pulled).toBe(4);
    await iterator.next();
    expect(pulled).toBe(8);
    await iterator.return(undefined);
    expect(pulled).toBe(8);
  });

  it("accepts a Node.js Readable stream as its source", async () => {
    const input = new Uint8Array(randomBytes(10_000));
    const readable = Readable.from(pieces(input, [7, 5000, 5001]), { objectMode: false });
    const chunks = await collect(readable, 4096);
    expect(chunks.map((c) => c.byteLength)).toEqual([4096, 4096, 1808]);
    expect(concat(chunks)).toEqual(input);
  });

  it("rejects a stream that yields text, which would silently corrupt binary data", async () => {
    const text = Readable.from(["hello"], { objectMode: true });
    await expect(collect(text, 16)).rejects.toSatisfy((err) => isDmfsError(err, "E_IO"));
  });

  it.each([0, -1, 1.5, Number.NaN])("rejects a chunk size of %s", async (size) => {
    await expect(collect(pieces(new Uint8Array(4), []), size)).rejects.toSatisfy((err) =>
      isDmfsError(err, "E_CONFIG"),
    );
  });

  it("passes a 256 MiB stream through while memory growth stays under 64 MiB", async () => {
    const piece = new Uint8Array(64 * 1024);
    async function* generated() {
      for (let i = 0; i < 4096; i++) {
        piece[0] = i & 0xff;
        yield piece;
      }
    }
    const before = process.memoryUsage().rss;
    let peak = before;
    let total = 0;
    let count = 0;
    for await (const chunk of chunkStream(generated(), 1024 * 1024)) {
      total += chunk.byteLength;
      count += 1;
      if (count % 16 === 0) peak = Math.max(peak, process.memoryUsage().rss);
    }
    expect(total).toBe(256 * 1024 * 1024);
    expect(count).toBe(256);
    expect(peak - before).toBeLessThan(64 * 1024 * 1024);
  });

  it("fills buffers given back to its recycler instead of allocating, and hands back a partial chunk's", async () => {
    const recycler = new BufferRecycler(CHUNK, 2);
    const input = randomBytes(3 * CHUNK + 10);
    const seen = new Set<ArrayBufferLike>();
    const out: Uint8Array[] = [];
    for await (const chunk of chunkStream(pieces(input, [100, CHUNK + 7]), CHUNK, recycler)) {
      out.push(Buffer.from(chunk)); // a copy: the chunk's buffer is about to be reused
      if (chunk.byteLength === CHUNK) {
        seen.add(chunk.buffer);
        recycler.give(chunk);
      }
    }
    expect(Buffer.from(concat(out)).equals(input)).toBe(true);
    expect(out.map((c) => c.byteLength)).toEqual([CHUNK, CHUNK, CHUNK, 10]);
    expect(seen.size).toBe(1); // every full chunk was cut into the same, recycled buffer
    // The partial chunk was copied out of a full-size buffer, which went back to the recycler.
    expect(recycler.spare()?.buffer).toBe([...seen][0]);
  });

  it("gives a partial chunk memory of its own, so refilling the buffer it came from cannot change it", async () => {
    // The recycler hands out Buffers, whose `slice` is a view: the S3 gateway's uploads share one, and a
    // small object's chunk waiting for the upload gate was overwritten by the next upload's bytes.
    const recycler = new BufferRecycler(CHUNK, 2);
    const input = randomBytes(CHUNK / 2);
    const chunks: Uint8Array[] = [];
    for await (const chunk of chunkStream(pieces(input, [1000]), CHUNK, recycler)) chunks.push(chunk);
    expect(chunks).toHaveLength(1);
    expect(chunks[0]?.buffer.byteLength).toBe(CHUNK / 2);
    recycler.take().fill(0xab); // the next upload fills the buffer the partial chunk was cut from
    expect(Buffer.from(chunks[0] as Uint8Array).equals(input)).toBe(true);
  });
});

describe("BufferRecycler", () => {
  it("keeps at most its limit of whole buffers of its size, and allocates when it has none", () => {
    const recycler = new BufferRecycler(16, 2);
    expect(recycler.spare()).toBeUndefined();
    const fresh = recycler.take();
    expect(fresh.byteLength).toBe(16);
    expectOwnsItsBuffer(fresh);
    recycler.give(new Uint8Array(8)); // wrong size
    recycler.give(new Uint8Array(32).subarray(0, 16)); // not a whole buffer
    expect(recycler.spare()).toBeUndefined();
    const [a, b, c] = [new Uint8Array(16), new Uint8Array(16), new Uint8Array(16)];
    for (const buffer of [a, b, c]) recycler.give(buffer);
    expect([recycler.spare(), recycler.spare(), recycler.spare()]).toEqual([b, a, undefined]);
  });
});
