import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DmfsError } from "../../src/errors.ts";
import { decode } from "../../src/protocol/codec.ts";
import {
  encodeFrame,
  encodeFrameParts,
  FRAME_HEADER_BYTES,
  FRAME_MARGIN_BYTES,
  FrameDecoder,
  maxFrameBytesFor,
} from "../../src/protocol/frame.ts";
import { type ChunkPut, type Message, parseMessage } from "../../src/protocol/messages.ts";

const limits = { maxFrameBytes: 64 * 1024 };

const messages: Message[] = [
  { t: "ping", id: 1, at: 1_700_000_000_123 },
  { t: "chunk.put", id: 2, chunkId: "ab".repeat(32), data: Buffer.from("stored chunk bytes") },
  { t: "ok", re: 2 },
  { t: "error", re: 3, code: "E_NOT_FOUND", message: "chunk not found" },
  { t: "hello", protocol: 1, clusterId: "0f".repeat(16), role: "client" },
];
const stream = Buffer.concat(messages.map((message) => encodeFrame(message, limits)));

function thrown(action: () => unknown): DmfsError {
  try {
    action();
  } catch (err) {
    expect(err).toBeInstanceOf(DmfsError);
    return err as DmfsError;
  }
  throw new Error("expected a DmfsError, but nothing was thrown");
}

function header(length: number): Buffer {
  const bytes = Buffer.alloc(FRAME_HEADER_BYTES);
  bytes.writeUInt32BE(length, 0);
  return bytes;
}

describe("encodeFrame", () => {
  it("writes the body length big-endian, then the msgpack body", () => {
    const frame = encodeFrame({ t: "ok", re: 258 }, limits);
    expect(frame.readUInt32BE(0)).toBe(frame.length - FRAME_HEADER_BYTES);
    expect(decode(frame.subarray(FRAME_HEADER_BYTES))).toEqual({ t: "ok", re: 258 });
  });

  it("leaves out optional fields that are undefined", () => {
    const frame = encodeFrame({ t: "error", re: undefined, code: "E_TIMEOUT", message: "slow" }, limits);
    expect(Object.keys(decode(frame.subarray(FRAME_HEADER_BYTES)) as object)).toEqual([
      "t",
      "code",
      "message",
    ]);
  });

  it("returns frames that later encodings do not overwrite", () => {
    const first = encodeFrame(messages[1] as Message, limits);
    const copy = Buffer.from(first);
    for (let i = 0; i < 200; i++) encodeFrame({ t: "ping", id: i + 1, at: i }, limits);
    encodeFrame({ t: "chunk.data", re: 1, data: Buffer.alloc(60_000, 9) }, limits);
    expect(first.equals(copy)).toBe(true);
  });

  it("accepts a body of exactly the maximum and rejects one byte more with E_FRAME_TOO_LARGE", () => {
    const probe = encodeFrame({ t: "chunk.data", re: 1, data: Buffer.alloc(1000) }, limits);
    const exact = { maxFrameBytes: probe.length - FRAME_HEADER_BYTES };
    expect(encodeFrame({ t: "chunk.data", re: 1, data: Buffer.alloc(1000) }, exact).length).toBe(
      probe.length,
    );
    const err = thrown(() => encodeFrame({ t: "chunk.data", re: 1, data: Buffer.alloc(1001) }, exact));
    expect(err.code).toBe("E_FRAME_TOO_LARGE");
    expect(err.message).toContain(`${exact.maxFrameBytes + 1} bytes`);
    expect(err.message).toContain(`maximum of ${exact.maxFrameBytes} bytes`);
  });

  it("rejects values outside plain msgpack with E_FRAME_MALFORMED", () => {
    const withDate = { t: "ping", id: 1, at: new Date() } as unknown as Message;
    expect(thrown(() => encodeFrame(withDate, limits)).code).toBe("E_FRAME_MALFORMED");
    const withUndefinedInList = { t: "chunk.has", id: 1, chunkIds: [undefined] } as unknown as Message;
    expect(thrown(() => encodeFrame(withUndefinedInList, limits)).code).toBe("E_FRAME_MALFORMED");
  });
});

describe("maxFrameBytesFor", () => {
  it("is the chunk size plus a 64 KiB margin", () => {
    expect(FRAME_MARGIN_BYTES).toBe(64 * 1024);
    expect(maxFrameBytesFor(1024 * 1024)).toBe(1024 * 1024 + 64 * 1024);
  });

  it("fits a chunk of the full chunk size in a chunk.put frame", () => {
    for (const chunkSize of [4096, 1024 * 1024]) {
      const chunkLimits = { maxFrameBytes: maxFrameBytesFor(chunkSize) };
      const data = Buffer.alloc(chunkSize, 0x5a);
      const frame = encodeFrame(
        { t: "chunk.put", id: 0xffff_ffff, chunkId: "f".repeat(64), data },
        chunkLimits,
      );
      const [decoded] = new FrameDecoder(chunkLimits).push(frame);
      const { data: received, ...fields } = parseMessage(decoded) as ChunkPut;
      expect(fields).toEqual({ t: "chunk.put", id: 0xffff_ffff, chunkId: "f".repeat(64) });
      // Buffer.equals: a deep toEqual over a megabyte takes seconds.
      expect(Buffer.from(received.buffer, received.byteOffset, received.byteLength).equals(data)).toBe(true);
    }
  });
});

describe("FrameDecoder", () => {
  it("returns every message of several frames pushed at once, in order", () => {
    expect(new FrameDecoder(limits).push(stream)).toEqual(messages);
  });

  it("reassembles the stream split at every possible byte boundary", () => {
    for (let cut = 0; cut <= stream.length; cut++) {
      const decoder = new FrameDecoder(limits);
      const out = [...decoder.push(stream.subarray(0, cut)), ...decoder.push(stream.subarray(cut))];
      expect(out).toEqual(messages);
      expect(decoder.bufferedBytes).toBe(0);
    }
  });

  it("reassembles the stream fed one byte at a time", () => {
    const decoder = new FrameDecoder(limits);
    const out: unknown[] = [];
    for (let i = 0; i < stream.length; i++) out.push(...decoder.push(stream.subarray(i, i + 1)));
    expect(out).toEqual(messages);
  });

  it("reassembles the stream cut into random pieces", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 1, max: stream.length - 1 }), { maxLength: 20 }),
        (cuts) => {
          const bounds = [0, ...cuts.sort((a, b) => a - b), stream.length];
          const decoder = new FrameDecoder(limits);
          const out: unknown[] = [];
          for (let i = 1; i < bounds.length; i++)
            out.push(...decoder.push(stream.subarray(bounds[i - 1], bounds[i])));
          expect(out).toEqual(messages);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("hands out one message at a time with its body length, the rest waiting, from any cuts", () => {
    const bodyLengths = messages.map((m) => encodeFrame(m, limits).length - FRAME_HEADER_BYTES);
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 1, max: stream.length - 1 }), { maxLength: 20 }),
        fc.nat({ max: 3 }),
        (cuts, takeAtMost) => {
          const bounds = [0, ...cuts.sort((a, b) => a - b), stream.length];
          const decoder = new FrameDecoder(limits);
          const out: { message: unknown; bytes: number }[] = [];
          const take = (most: number) => {
            for (let n = 0; n < most; n++) {
              const frame = decoder.next();
              if (frame === undefined) return;
              out.push(frame);
            }
          };
          // A reader that takes at most a few frames after each read, then all that is left.
          for (let i = 1; i < bounds.length; i++) {
            decoder.append(stream.subarray(bounds[i - 1], bounds[i]));
            take(takeAtMost);
          }
          take(Number.POSITIVE_INFINITY);
          expect(out.map((f) => f.message)).toEqual(messages);
          expect(out.map((f) => f.bytes)).toEqual(bodyLengths);
          expect(decoder.bufferedBytes).toBe(0);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("reassembles a 1 MiB chunk.put delivered in 64 KiB socket reads", () => {
    const chunkLimits = { maxFrameBytes: maxFrameBytesFor(1024 * 1024) };
    const data = Buffer.alloc(1024 * 1024);
    for (let i = 0; i < data.length; i++) data[i] = (i * 31) & 0xff;
    const frame = encodeFrame({ t: "chunk.put", id: 5, chunkId: "1".repeat(64), data }, chunkLimits);
    const decoder = new FrameDecoder(chunkLimits);
    const out: unknown[] = [];
    for (let at = 0; at < frame.length; at += 65536)
      out.push(...decoder.push(frame.subarray(at, at + 65536)));
    expect(out).toHaveLength(1);
    const put = parseMessage(out[0]);
    expect(put.t === "chunk.put" && Buffer.from(put.data).equals(data)).toBe(true);
  });

  it("keeps no more than the bytes of the frame being read", () => {
    const decoder = new FrameDecoder(limits);
    const frame = encodeFrame({ t: "chunk.data", re: 1, data: Buffer.alloc(5000) }, limits);
    expect(decoder.push(frame.subarray(0, 3000))).toEqual([]);
    expect(decoder.bufferedBytes).toBe(3000);
    expect(decoder.push(frame.subarray(3000))).toHaveLength(1);
    expect(decoder.bufferedBytes).toBe(0);
  });

  it("gives each message's binary fields an ArrayBuffer of their own, safe to transfer", () => {
    const a: Message = { t: "chunk.data", re: 1, data: Buffer.alloc(100, 1) };
    const b: Message = { t: "chunk.data", re: 2, data: Buffer.alloc(100, 2) };
    const both = Buffer.concat([encodeFrame(a, limits), encodeFrame(b, limits)]);
    const [first, second] = new FrameDecoder(limits).push(both).map(parseMessage);
    if (first?.t !== "chunk.data" || second?.t !== "chunk.data") throw new Error("expected two chunk.data");
    expect(first.data.buffer).not.toBe(second.data.buffer);
    expect(first.data.buffer).not.toBe(both.buffer);
    structuredClone(first.data.buffer, { transfer: [first.data.buffer as ArrayBuffer] });
    expect(first.data.byteLength).toBe(0);
    expect(second.data).toEqual(Buffer.alloc(100, 2));
  });

  it("rejects an announced length over the maximum from the 4 length bytes alone", () => {
    const decoder = new FrameDecoder(limits);
    const err = thrown(() => decoder.push(header(limits.maxFrameBytes + 1)));
    expect(err.code).toBe("E_FRAME_TOO_LARGE");
    expect(err.message).toContain(`${limits.maxFrameBytes + 1} bytes`);
    expect(err.message).toContain(`maximum of ${limits.maxFrameBytes} bytes`);
  });

  it("accepts an announced length of exactly the maximum", () => {
    const decoder = new FrameDecoder(limits);
    expect(decoder.push(header(limits.maxFrameBytes))).toEqual([]);
  });

  it("rejects a zero-length frame as malformed", () => {
    const err = thrown(() => new FrameDecoder(limits).push(Buffer.concat([header(0), stream])));
    expect(err.code).toBe("E_FRAME_MALFORMED");
  });

  it("rejects a body that is not one msgpack value as malformed", () => {
    const twoValues = Buffer.from([0xc0, 0xc0]);
    const err = thrown(() => new FrameDecoder(limits).push(Buffer.concat([header(2), twoValues])));
    expect(err.code).toBe("E_FRAME_MALFORMED");
  });

  it("stays poisoned after an error: every later push throws the same error", () => {
    const decoder = new FrameDecoder(limits);
    const first = thrown(() => decoder.push(header(0)));
    expect(thrown(() => decoder.push(stream))).toBe(first);
    expect(thrown(() => decoder.push(Buffer.alloc(0)))).toBe(first);
    expect(decoder.bufferedBytes).toBe(0);
  });

  it("refuses a maximum that is not a whole number of bytes within 32 bits", () => {
    for (const maxFrameBytes of [0, -1, 1.5, Number.NaN, 2 ** 32]) {
      expect(thrown(() => new FrameDecoder({ maxFrameBytes })).code).toBe("E_CONFIG");
      expect(thrown(() => encodeFrame({ t: "ok", re: 1 }, { maxFrameBytes })).code).toBe("E_CONFIG");
    }
  });
});

describe("encodeFrameParts", () => {
  const big = { maxFrameBytes: maxFrameBytesFor(1024 * 1024) };
  const hex64 = fc.string({ unit: fc.constantFrom(..."0123456789abcdef"), minLength: 64, maxLength: 64 });
  const withData = fc.oneof(
    fc.record({
      t: fc.constant("chunk.put" as const),
      id: fc.integer({ min: 1, max: 1000 }),
      chunkId: hex64,
    }),
    fc.record({
      t: fc.constant("file.chunk.write" as const),
      id: fc.integer({ min: 1, max: 1000 }),
      chunkId: hex64,
    }),
    fc.record({ t: fc.constant("chunk.data" as const), re: fc.integer({ min: 1, max: 1000 }) }),
  );

  it("writes a large payload as its own part, and the parts decode to the same message as one frame", () => {
    fc.assert(
      fc.property(withData, fc.constantFrom(0, 1_000, 65_535, 65_536, 65_537, 300_000), (fields, size) => {
        const data = Buffer.alloc(size, size % 251);
        const message = { ...fields, data } as Message;
        const parts = encodeFrameParts(message, big);
        if (size >= 64 * 1024) expect(parts[2]).toBe(data); // the caller's bytes, not a copy
        const decoder = new FrameDecoder(big);
        const [decoded] = decoder.push(Buffer.concat(parts));
        // The payload is compared as bytes: toEqual walks a 300 KB buffer element by element (1.5 s each).
        const { data: decodedData, ...rest } = parseMessage(decoded) as Message & { data: Uint8Array };
        expect(Buffer.from(decodedData).equals(data)).toBe(true);
        expect(rest).toEqual(fields);
        // The same frame but for the payload's header, which is always bin32 here (at most 2 bytes more).
        const extra = Buffer.concat(parts).length - encodeFrame(message, big).length;
        expect(extra).toBeGreaterThanOrEqual(0);
        expect(extra).toBeLessThanOrEqual(2);
      }),
      { numRuns: 30 },
    );
  });

  it("refuses a payload that would make the frame larger than the maximum", () => {
    const data = Buffer.alloc(big.maxFrameBytes);
    expect(() => encodeFrameParts({ t: "chunk.data", re: 1, data }, big)).toThrow(DmfsError);
  });
});
