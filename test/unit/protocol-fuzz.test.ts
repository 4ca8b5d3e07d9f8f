import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DmfsError, type ErrorCode } from "../../src/errors.ts";
import { decode, encode, MAX_NESTING_DEPTH } from "../../src/protocol/codec.ts";
import { encodeFrame, FRAME_HEADER_BYTES, FrameDecoder } from "../../src/protocol/frame.ts";
import { type Message, parseMessage } from "../../src/protocol/messages.ts";
import { allowedFrom } from "../../src/protocol/roles.ts";

// Hostile input may only ever produce these; anything else (a TypeError, a RangeError from a stack
// overflow, a msgpackr Error) would be a crash waiting to happen in a node.
const PROTOCOL_CODES: ReadonlySet<ErrorCode> = new Set([
  "E_FRAME_TOO_LARGE",
  "E_FRAME_MALFORMED",
  "E_MESSAGE_INVALID",
]);

const limits = { maxFrameBytes: 64 * 1024 };

function expectProtocolError(err: unknown, codes: ReadonlySet<ErrorCode> = PROTOCOL_CODES): void {
  expect(err).toBeInstanceOf(DmfsError);
  expect(codes.has((err as DmfsError).code)).toBe(true);
}

/** What a node does with received bytes: frame, decode, validate, authorize. */
function receive(decoder: FrameDecoder, bytes: Uint8Array): Message[] {
  return decoder.push(bytes).map((raw) => {
    const message = parseMessage(raw);
    allowedFrom("client", message.t);
    return message;
  });
}

/** Feeds `bytes` to a fresh decoder; returns the messages, or checks that the error is a protocol one. */
function receiveHostile(bytes: Uint8Array, pieces: number[] = []): Message[] {
  const decoder = new FrameDecoder(limits);
  const out: Message[] = [];
  let at = 0;
  try {
    for (const size of [...pieces, bytes.length]) {
      out.push(...receive(decoder, bytes.subarray(at, at + size)));
      at = Math.min(bytes.length, at + size);
    }
  } catch (err) {
    expectProtocolError(err);
    return [];
  }
  return out;
}

function frameOf(body: Uint8Array): Buffer {
  const header = Buffer.alloc(FRAME_HEADER_BYTES);
  header.writeUInt32BE(body.length, 0);
  return Buffer.concat([header, body]);
}

/** Decoded values must be plain data: no class instances a peer could make us build. */
function expectPlainData(value: unknown, depth = 0): void {
  expect(depth).toBeLessThanOrEqual(MAX_NESTING_DEPTH);
  if (value === null || ["string", "number", "boolean"].includes(typeof value)) return;
  if (Buffer.isBuffer(value)) return;
  if (Array.isArray(value)) {
    for (const item of value) expectPlainData(item, depth + 1);
    return;
  }
  expect(typeof value).toBe("object");
  expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
  for (const item of Object.values(value as object)) expectPlainData(item, depth + 1);
}

const validMessages: Message[] = [
  {
    t: "hello",
    protocol: 1,
    clusterId: "0a".repeat(16),
    role: "node",
    nodeId: "1b".repeat(16),
    listenAddr: "127.0.0.1:7000",
  },
  { t: "chunk.put", id: 3, chunkId: "2c".repeat(32), data: Buffer.from("0123456789") },
  { t: "catalog.pull", id: 4, buckets: [0, 17, 255], cursor: "next" },
  {
    t: "catalog.push",
    id: 5,
    entries: [
      {
        pathId: "3d".repeat(32),
        hlc: { wall: 1_700_000_000_000, logical: 2 },
        writer: "4e".repeat(16),
        deleted: true,
        fileKey: null,
        manifestId: null,
        size: 0,
        meta: null,
      },
    ],
  },
];
const validFrames = validMessages.map((message) => encodeFrame(message, limits));

/** Any value msgpack can carry, shaped like (but mostly not) a message. */
const plainValue = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.constant(null),
    fc.boolean(),
    fc.integer(),
    fc.double(),
    fc.maxSafeInteger(),
    fc.string({ maxLength: 20 }),
    fc.constantFrom(
      "hello",
      "chunk.put",
      "catalog.push",
      "status.reply",
      "ok",
      "error",
      "constructor",
      "__proto__",
    ),
    fc.uint8Array({ maxLength: 40 }).map((bytes) => Buffer.from(bytes)),
    fc.array(tie("value"), { maxLength: 5 }),
    fc.dictionary(fc.constantFrom("t", "id", "re", "data", "chunkId", "entries", "x"), tie("value"), {
      maxKeys: 5,
    }),
  ),
}));
const messageLike = fc.record({
  t: fc.constantFrom(
    "hello",
    "error",
    "ok",
    "ping",
    "chunk.put",
    "chunk.has",
    "catalog.push",
    "status.reply",
    "nope",
  ),
  id: plainValue.value,
  re: plainValue.value,
  data: plainValue.value,
});

describe("hostile bytes only ever produce protocol errors", () => {
  it("random byte strings in random pieces", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 300 }),
        fc.array(fc.nat(40), { maxLength: 8 }),
        (bytes, pieces) => {
          receiveHostile(bytes, pieces);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it("random bytes after a valid length prefix", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 300 }), (body) => {
        receiveHostile(frameOf(body));
      }),
      { numRuns: 1000 },
    );
  });

  it("random bytes decoded directly yield plain data or E_FRAME_MALFORMED", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        let value: unknown;
        try {
          value = decode(bytes);
        } catch (err) {
          expectProtocolError(err, new Set(["E_FRAME_MALFORMED"]));
          return;
        }
        expectPlainData(value);
      }),
      { numRuns: 1000 },
    );
  });

  it("valid frames with one byte flipped", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...validFrames),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        (frame, at, xor) => {
          const mutated = Buffer.from(frame);
          const index = at % mutated.length;
          mutated[index] = (mutated[index] ?? 0) ^ xor;
          receiveHostile(mutated);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it("truncated frames wait for more bytes and never yield a message", () => {
    for (const frame of validFrames) {
      for (let cut = 0; cut < frame.length; cut++) {
        const decoder = new FrameDecoder(limits);
        expect(decoder.push(frame.subarray(0, cut))).toEqual([]);
        expect(decoder.bufferedBytes).toBe(cut);
      }
    }
  });

  it("truncated bodies behind a matching length are malformed", () => {
    for (const frame of validFrames) {
      const body = frame.subarray(FRAME_HEADER_BYTES);
      for (let cut = 1; cut < body.length; cut++) {
        try {
          new FrameDecoder(limits).push(frameOf(body.subarray(0, cut)));
          throw new Error(`a body cut to ${cut} bytes was accepted`);
        } catch (err) {
          expectProtocolError(err, new Set(["E_FRAME_MALFORMED"]));
        }
      }
    }
  });

  it("oversized length prefixes fail on the prefix, whatever follows", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: limits.maxFrameBytes + 1, max: 0xffff_ffff }),
        fc.uint8Array({ maxLength: 64 }),
        (announced, rest) => {
          const header = Buffer.alloc(FRAME_HEADER_BYTES);
          header.writeUInt32BE(announced, 0);
          try {
            new FrameDecoder(limits).push(Buffer.concat([header, rest]));
            throw new Error(`a frame announcing ${announced} bytes was accepted`);
          } catch (err) {
            expectProtocolError(err, new Set(["E_FRAME_TOO_LARGE"]));
            expect((err as DmfsError).message).toContain(`${announced} bytes`);
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it("valid msgpack that is not a valid message fails validation", () => {
    fc.assert(
      fc.property(fc.oneof(plainValue.value, messageLike), (value) => {
        const decoded = new FrameDecoder(limits).push(frameOf(encode(value)));
        expect(decoded).toHaveLength(1);
        try {
          parseMessage(decoded[0]);
        } catch (err) {
          expectProtocolError(err, new Set(["E_MESSAGE_INVALID"]));
        }
      }),
      { numRuns: 1000 },
    );
  });

  it("valid messages with a field added, removed or replaced fail validation or stay valid", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...validMessages),
        fc.boolean(),
        fc.constantFrom("t", "id", "data", "entries", "buckets", "role", "extra"),
        plainValue.value,
        (message, remove, field, value) => {
          const mutated: Record<string, unknown> = { ...message };
          if (remove) delete mutated[field];
          else mutated[field] = value;
          receiveHostile(frameOf(encode(mutated)));
        },
      ),
      { numRuns: 1000 },
    );
  });
});

describe("msgpack features outside the plain subset are malformed", () => {
  const malformed = (bytes: number[] | Uint8Array) => {
    try {
      const value = decode(Uint8Array.from(bytes));
      throw new Error(`decoded to ${String(value)}`);
    } catch (err) {
      expectProtocolError(err, new Set(["E_FRAME_MALFORMED"]));
    }
  };

  it("rejects every extension type in every extension encoding", () => {
    for (let type = 0; type < 256; type++) {
      malformed([0xd4, type, 0]);
      malformed([0xd5, type, 0, 0]);
      malformed([0xd6, type, 0, 0, 0, 1]);
      malformed([0xd7, type, 0, 0, 0, 0, 0, 0, 0, 1]);
      malformed([0xd8, type, ...new Array(16).fill(0)]);
      malformed([0xc7, 1, type, 0]);
      malformed([0xc8, 0, 1, type, 0]);
      malformed([0xc9, 0, 0, 0, 1, type, 0]);
    }
  });

  it("rejects msgpackr's own extensions inside an otherwise valid message", () => {
    const head = [0x82, 0xa1, 0x74, 0xa2, 0x6f, 0x6b, 0xa2, 0x72, 0x65]; // { t: "ok", re: <value> }
    const extensions = {
      timestamp: [0xd6, 0xff, 0, 0, 0, 1],
      record: [0xd4, 0x72, 0x40, 0x91, 0xa1, 0x61, 0x40, 0x01],
      error: [0xd4, 0x65, 0, 0x93, 0xa5, 0x45, 0x72, 0x72, 0x6f, 0x72, 0xa1, 0x6d, 0xc0],
      regexp: [0xd4, 0x78, 0, 0x92, 0xa1, 0x2e, 0xa0],
      set: [0xd4, 0x73, 0, 0x90],
      typedArray: [0xc7, 2, 0x74, 1, 0],
      structuredCloneId: [0xd6, 0x69, 0, 0, 0, 1, 0x90],
      structuredClonePointer: [0xd6, 0x70, 0, 0, 0, 1],
      bundledStrings: [0xd6, 0x62, 0, 0, 0, 0],
      bigint: [0xc7, 1, 0x42, 1],
      undefined: [0xd4, 0, 0],
      neverUsed: [0xc1],
    };
    for (const bytes of Object.values(extensions)) malformed([...head, ...bytes]);
  });

  it("rejects map keys that are not strings", () => {
    malformed([0x81, 0x01, 0x02]);
    malformed([0x81, 0x90, 0x02]);
    malformed([0x81, 0xc4, 0x01, 0x61, 0x02]);
  });

  it("rejects trailing bytes after one value", () => {
    malformed([0xc0, 0xc0]);
    malformed([...encode({ t: "ok", re: 1 }), 0x00]);
  });

  it("rejects length headers that claim more than the frame holds, without allocating for them", () => {
    malformed([0xdd, 0xff, 0xff, 0xff, 0xff]); // array of 4 billion items
    malformed([0xdf, 0xff, 0xff, 0xff, 0xff]); // map of 4 billion entries
    malformed([0xdb, 0xff, 0xff, 0xff, 0xff]); // string of 4 GiB
    malformed([0xc6, 0xff, 0xff, 0xff, 0xff]); // binary of 4 GiB
    malformed([0x92, 0xdc, 0x00, 0x02, 0x00]); // nested array running past the end
  });

  it("decodes __proto__ keys without touching any prototype", () => {
    const value = decode(encode(JSON.parse('{"__proto__": {"polluted": true}, "t": "ok"}')));
    expectPlainData(value);
    expect(({} as { polluted?: boolean }).polluted).toBeUndefined();
    expect(() => parseMessage(value)).toThrow(DmfsError);
  });

  it("decodes 64-bit integers as numbers, so schemas reject unsafe ones", () => {
    expect(decode(Uint8Array.from([0xcf, 0, 0, 0, 1, 0, 0, 0, 0]))).toBe(2 ** 32);
    const huge = decode(Uint8Array.from([0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]));
    expect(typeof huge).toBe("number");
    expect(() => parseMessage({ t: "ok", re: huge })).toThrow(DmfsError);
  });
});

describe("deep nesting cannot blow the stack", () => {
  const nestedArrays = (depth: number) => Buffer.concat([Buffer.alloc(depth, 0x91), Buffer.from([0xc0])]);
  const nestedMaps = (depth: number) =>
    Buffer.concat([Buffer.alloc(depth * 3, Buffer.from([0x81, 0xa1, 0x61])), Buffer.from([0xc0])]);

  it("decodes nesting up to the limit", () => {
    expectPlainData(decode(nestedArrays(MAX_NESTING_DEPTH)));
    expectPlainData(decode(nestedMaps(MAX_NESTING_DEPTH)));
  });

  it("rejects nesting one level beyond the limit", () => {
    expect(() => decode(nestedArrays(MAX_NESTING_DEPTH + 1))).toThrow(/nested too deeply/);
    expect(() => decode(nestedMaps(MAX_NESTING_DEPTH + 1))).toThrow(/nested too deeply/);
  });

  it("rejects a frame of a million nested arrays or maps with E_FRAME_MALFORMED", () => {
    const deepLimits = { maxFrameBytes: 4 * 1024 * 1024 };
    for (const body of [nestedArrays(1_000_000), nestedMaps(1_000_000), Buffer.alloc(1_000_000, 0x91)]) {
      const started = performance.now();
      try {
        new FrameDecoder(deepLimits).push(frameOf(body));
        throw new Error("a deeply nested frame was accepted");
      } catch (err) {
        expectProtocolError(err, new Set(["E_FRAME_MALFORMED"]));
      }
      expect(performance.now() - started).toBeLessThan(1000);
    }
  });

  it("refuses to encode nesting deeper than a peer would accept", () => {
    let deep: unknown = null;
    for (let i = 0; i < 1000; i++) deep = [deep];
    expect(() => encode({ t: "ok", re: deep })).toThrow(DmfsError);
  });
});
