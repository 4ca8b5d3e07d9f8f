import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DmfsError, type ErrorCode, ErrorCodes } from "../../src/errors.ts";
import { encodeFrame, FrameDecoder, maxFrameBytesFor } from "../../src/protocol/frame.ts";
import {
  type CatalogEntry,
  DIGEST_BUCKETS,
  DIGEST_BYTES,
  MAX_CATALOG_ENTRIES_PER_MESSAGE,
  MAX_CHUNK_IDS_PER_REQUEST,
  MAX_MEMBERS,
  MAX_META_BYTES,
  MAX_REVOCATION_BYTES,
  MESSAGE_TYPES,
  type Message,
  type MessageOf,
  type MessageType,
  type NodeStatus,
  PROTOCOL_VERSION,
  parseMessage,
} from "../../src/protocol/messages.ts";
import { allowedFrom } from "../../src/protocol/roles.ts";

const limits = { maxFrameBytes: maxFrameBytesFor(1024 * 1024) };

// ---- one arbitrary per schema ----

const hexChars = (length: number) =>
  fc.string({ unit: fc.constantFrom(..."0123456789abcdef"), minLength: length, maxLength: length });
const hex64 = hexChars(64);
const nodeId = hexChars(32);
const clusterId = hexChars(32);
const requestId = fc.integer({ min: 1, max: 0xffff_ffff });
const safeUint = fc.maxSafeNat();
const reading = fc
  .double({ min: 0, max: 1e12, noNaN: true, noDefaultInfinity: true })
  .map((n) => Math.abs(n));
// Decoded binary is a Buffer; generating Buffers lets round trips compare with toEqual.
const bin = (maxLength: number, minLength = 0) =>
  fc.uint8Array({ minLength, maxLength }).map((bytes) => Buffer.from(bytes));
const hostPort = fc
  .tuple(
    fc.oneof(
      fc.constant("127.0.0.1"),
      fc.constant("localhost"),
      fc.constant("[::1]"),
      fc.ipV4(),
      fc.domain().filter((d) => d.length <= 253),
    ),
    fc.integer({ min: 1, max: 65535 }),
  )
  .map(([host, port]) => `${host}:${port}`);
const member = fc.record({ nodeId, addr: hostPort });
const hlc = fc.record({ wall: safeUint, logical: fc.integer({ min: 0, max: 0xffff }) });
const changeCursor = fc.record({
  wall: safeUint,
  logical: fc.integer({ min: 0, max: 0xffff }),
  pathId: hex64,
});
const catalogEntry: fc.Arbitrary<CatalogEntry> = fc.record({
  pathId: hex64,
  hlc,
  writer: nodeId,
  deleted: fc.boolean(),
  fileKey: fc.option(hex64, { nil: null }),
  manifestId: fc.option(hex64, { nil: null }),
  size: safeUint,
  meta: fc.option(bin(64), { nil: null }),
});
const nodeStatus: fc.Arbitrary<NodeStatus> = fc.record({
  clusterId,
  nodeId,
  listenAddr: hostPort,
  startedAt: reading,
  blake3Backend: fc.constantFrom("native", "wasm", "noble"),
  members: fc.array(
    fc.record({
      nodeId,
      addr: hostPort,
      state: fc.constantFrom("alive", "suspect", "down", "self"),
      rttMs: fc.option(reading, { nil: null }),
      lastSeen: fc.option(reading, { nil: null }),
    }),
    { maxLength: 4 },
  ),
  store: fc.record({ chunks: safeUint, bytes: safeUint, diskFree: safeUint }),
  gc: fc.record({ reclaimableBytes: fc.option(safeUint, { nil: null }), reclaimedBytes: safeUint }),
  counters: fc.record({
    bytesIn: safeUint,
    bytesOut: safeUint,
    framesRejected: fc.dictionary(
      fc.constantFrom("E_FRAME_TOO_LARGE", "E_UNAUTHORIZED", "chunk.put"),
      safeUint,
    ),
  }),
  catalog: fc.record({ files: safeUint, tombstones: safeUint }),
  activity: fc.record({
    uploads: safeUint,
    reads: safeUint,
    deletes: safeUint,
    chunksStored: safeUint,
    chunksServed: safeUint,
    chunkReads: safeUint,
  }),
  underReplicated: fc.option(safeUint, { nil: null }),
  repair: fc.option(
    fc.record({
      misplaced: fc.option(safeUint, { nil: null }),
      bytesToMove: fc.option(safeUint, { nil: null }),
      bytesMoved: safeUint,
      copiesDropped: safeUint,
      bytesPerSecond: fc.option(safeUint, { nil: null }),
      etaSeconds: fc.option(safeUint, { nil: null }),
    }),
    { nil: undefined },
  ),
});
const errorCode = fc.constantFrom(...(Object.keys(ErrorCodes) as ErrorCode[]));

const arbitraries: { [T in MessageType]: fc.Arbitrary<MessageOf<T>> } = {
  hello: fc.oneof(
    fc.record({
      t: fc.constant("hello"),
      protocol: fc.constant(PROTOCOL_VERSION),
      clusterId,
      role: fc.constant("node"),
      nodeId,
      listenAddr: hostPort,
    }),
    fc.record(
      {
        t: fc.constant("hello"),
        protocol: fc.constant(PROTOCOL_VERSION),
        clusterId,
        role: fc.constant("client"),
        nodeId,
        listenAddr: hostPort,
      },
      { requiredKeys: ["t", "protocol", "clusterId", "role"] },
    ),
  ),
  error: fc.record(
    { t: fc.constant("error"), re: requestId, code: errorCode, message: fc.string({ maxLength: 80 }) },
    { requiredKeys: ["t", "code", "message"] },
  ),
  ok: fc.record({ t: fc.constant("ok"), re: requestId }),
  ping: fc.record({ t: fc.constant("ping"), id: requestId, at: reading }),
  pong: fc.record({ t: fc.constant("pong"), re: requestId, at: reading }),
  peers: fc.record(
    {
      t: fc.constant("peers"),
      members: fc.array(member, { maxLength: 8 }),
      revocations: fc.array(bin(600), { maxLength: 3 }),
      layout: bin(600),
    },
    { requiredKeys: ["t", "members"] },
  ),
  "chunk.put": fc.record({ t: fc.constant("chunk.put"), id: requestId, chunkId: hex64, data: bin(2048) }),
  "chunk.get": fc.record({ t: fc.constant("chunk.get"), id: requestId, chunkId: hex64 }),
  "chunk.data": fc.record(
    { t: fc.constant("chunk.data"), re: requestId, data: bin(2048), from: nodeId },
    { requiredKeys: ["t", "re", "data"] },
  ),
  "chunk.has": fc.record(
    {
      t: fc.constant("chunk.has"),
      id: requestId,
      chunkIds: fc.array(hex64, { maxLength: 16 }),
      verify: fc.boolean(),
    },
    { requiredKeys: ["t", "id", "chunkIds"] },
  ),
  "chunk.have": fc.record({ t: fc.constant("chunk.have"), re: requestId, have: fc.array(fc.boolean()) }),
  "catalog.push": fc.record({
    t: fc.constant("catalog.push"),
    id: requestId,
    entries: fc.array(catalogEntry, { maxLength: 4 }),
  }),
  "catalog.digest": fc.record({ t: fc.constant("catalog.digest"), id: requestId }),
  "catalog.digest.reply": fc.record(
    {
      t: fc.constant("catalog.digest.reply"),
      re: requestId,
      buckets: fc.array(bin(DIGEST_BYTES, DIGEST_BYTES), {
        minLength: DIGEST_BUCKETS,
        maxLength: DIGEST_BUCKETS,
      }),
      through: hlc,
      purgedThrough: hlc,
    },
    { requiredKeys: ["t", "re", "buckets"] },
  ),
  "catalog.pull": fc.record(
    {
      t: fc.constant("catalog.pull"),
      id: requestId,
      buckets: fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 256 }),
      cursor: fc.string({ minLength: 1, maxLength: 80 }),
    },
    { requiredKeys: ["t", "id", "buckets"] },
  ),
  "catalog.entries": fc.record(
    {
      t: fc.constant("catalog.entries"),
      re: requestId,
      entries: fc.array(catalogEntry, { maxLength: 4 }),
      cursor: fc.string({ minLength: 1, maxLength: 80 }),
    },
    { requiredKeys: ["t", "re", "entries"] },
  ),
  "catalog.ack": fc.record({ t: fc.constant("catalog.ack"), id: requestId, through: hlc }),
  status: fc.record({ t: fc.constant("status"), id: requestId, subscribe: fc.boolean() }),
  "status.reply": fc.record({ t: fc.constant("status.reply"), re: requestId, status: nodeStatus }),
  "status.update": fc.record({ t: fc.constant("status.update"), status: nodeStatus }),
  "file.begin": fc.record({ t: fc.constant("file.begin"), id: requestId }),
  "file.begun": fc.record({
    t: fc.constant("file.begun"),
    re: requestId,
    alive: safeUint,
    replication: safeUint,
    writeQuorum: safeUint,
    gcGraceMs: safeUint,
  }),
  "file.chunk.write": fc.record({
    t: fc.constant("file.chunk.write"),
    id: requestId,
    chunkId: hex64,
    data: bin(2048),
  }),
  "file.chunk.read": fc.record(
    {
      t: fc.constant("file.chunk.read"),
      id: requestId,
      chunkId: hex64,
      exclude: fc.array(nodeId, { maxLength: 8 }),
    },
    { requiredKeys: ["t", "id", "chunkId"] },
  ),
  "file.commit": fc.record({
    t: fc.constant("file.commit"),
    id: requestId,
    pathId: hex64,
    deleted: fc.boolean(),
    fileKey: fc.option(hex64, { nil: null }),
    manifestId: fc.option(hex64, { nil: null }),
    size: safeUint,
    meta: fc.option(bin(512), { nil: null }),
  }),
  "file.lookup": fc.record(
    { t: fc.constant("file.lookup"), id: requestId, pathId: hex64, fileKey: hex64 },
    { requiredKeys: ["t", "id"] },
  ),
  "file.entry": fc.record({
    t: fc.constant("file.entry"),
    re: requestId,
    entry: fc.option(catalogEntry, { nil: null }),
  }),
  "catalog.changes": fc.record(
    {
      t: fc.constant("catalog.changes"),
      id: requestId,
      after: changeCursor,
      limit: fc.integer({ min: 1, max: MAX_CATALOG_ENTRIES_PER_MESSAGE }),
    },
    { requiredKeys: ["t", "id"] },
  ),
  "catalog.changes.page": fc
    .tuple(requestId, fc.array(catalogEntry, { maxLength: 4 }), changeCursor, fc.boolean(), fc.option(hlc))
    .map(([re, entries, cursor, more, purged]) => ({
      t: "catalog.changes.page" as const,
      re,
      entries,
      ...(entries.length > 0 ? { cursor } : {}),
      more,
      purgedThrough: purged ?? null,
    })),
  "chunk.locate": fc.record({
    t: fc.constant("chunk.locate"),
    id: requestId,
    chunkIds: fc.array(hex64, { maxLength: 8 }),
  }),
  "chunk.locations": fc.record({
    t: fc.constant("chunk.locations"),
    re: requestId,
    nodes: fc.array(fc.array(nodeId, { maxLength: 4 }), { maxLength: 8 }),
  }),
  "cluster.revoke": fc.record({ t: fc.constant("cluster.revoke"), id: requestId, revocation: bin(600) }),
  "chunk.touch": fc.record({
    t: fc.constant("chunk.touch"),
    id: requestId,
    chunkIds: fc.array(hex64, { maxLength: 8 }),
  }),
  "file.chunk.touch": fc.record({
    t: fc.constant("file.chunk.touch"),
    id: requestId,
    chunkIds: fc.array(hex64, { maxLength: 8 }),
  }),
  "gc.run": fc.record({ t: fc.constant("gc.run"), id: requestId }),
  "gc.done": fc.record(
    {
      t: fc.constant("gc.done"),
      re: requestId,
      reclaimedBytes: safeUint,
      reclaimedChunks: safeUint,
      reclaimableBytes: safeUint,
      skipped: fc.string({ maxLength: 200 }),
    },
    { requiredKeys: ["t", "re", "reclaimedBytes", "reclaimedChunks", "reclaimableBytes"] },
  ),
  "layout.set": fc.record({ t: fc.constant("layout.set"), id: requestId, layout: bin(600) }),
  "layout.get": fc.record({ t: fc.constant("layout.get"), id: requestId }),
  "layout.reply": fc.record(
    {
      t: fc.constant("layout.reply"),
      re: requestId,
      layout: fc.option(bin(600), { nil: null }),
      changing: fc.boolean(),
      capacity: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
      zone: fc.stringMatching(/^[a-z0-9-]{1,64}$/),
      name: fc.string({ minLength: 1, maxLength: 64 }),
      misplaced: fc.option(safeUint, { nil: null }),
      underReplicated: fc.option(safeUint, { nil: null }),
    },
    { requiredKeys: ["t", "re", "layout", "changing", "capacity", "name", "misplaced", "underReplicated"] },
  ),
};

function roundTrip(message: Message): Message {
  const decoded = new FrameDecoder(limits).push(encodeFrame(message, limits));
  expect(decoded).toHaveLength(1);
  return parseMessage(decoded[0]);
}

/** Runs `action` and returns the DmfsError it throws (failing the test if it does not throw one). */
function thrown(action: () => unknown): DmfsError {
  try {
    action();
  } catch (err) {
    expect(err).toBeInstanceOf(DmfsError);
    return err as DmfsError;
  }
  throw new Error("expected a DmfsError, but nothing was thrown");
}

const sampleEntry: CatalogEntry = {
  pathId: "a".repeat(64),
  hlc: { wall: 1_700_000_000_000, logical: 3 },
  writer: "b".repeat(32),
  deleted: false,
  fileKey: "c".repeat(64),
  manifestId: "d".repeat(64),
  size: 2 ** 40,
  meta: Buffer.alloc(16, 7),
};

describe("message schemas", () => {
  it("have one arbitrary per message type in the union", () => {
    expect(Object.keys(arbitraries).sort()).toEqual([...MESSAGE_TYPES].sort());
  });

  for (const type of MESSAGE_TYPES) {
    it(`round-trip every valid ${type} message through a frame unchanged`, () => {
      const arbitrary = arbitraries[type] as fc.Arbitrary<Message>;
      fc.assert(
        fc.property(arbitrary, (message) => {
          expect(roundTrip(message)).toEqual(message);
        }),
        { numRuns: type === "catalog.digest.reply" ? 50 : 200 },
      );
    });
  }

  it("accept lists at their documented maximum lengths", () => {
    const chunkHas: Message = {
      t: "chunk.has",
      id: 1,
      chunkIds: Array.from({ length: MAX_CHUNK_IDS_PER_REQUEST }, () => "e".repeat(64)),
    };
    expect(roundTrip(chunkHas)).toEqual(chunkHas);
    const peers: Message = {
      t: "peers",
      members: Array.from({ length: MAX_MEMBERS }, () => ({
        nodeId: "f".repeat(32),
        addr: "127.0.0.1:7000",
      })),
    };
    expect(roundTrip(peers)).toEqual(peers);
    const push: Message = {
      t: "catalog.push",
      id: 1,
      entries: Array.from({ length: MAX_CATALOG_ENTRIES_PER_MESSAGE }, () => sampleEntry),
    };
    expect(roundTrip(push)).toEqual(push);
    const entryWithLargestMeta = { ...sampleEntry, meta: Buffer.alloc(MAX_META_BYTES) };
    expect(parseMessage({ t: "catalog.push", id: 1, entries: [entryWithLargestMeta] })).toBeTruthy();
  });

  it("accept a page of changes of the most entries a message may hold", () => {
    const page: Message = {
      t: "catalog.changes.page",
      re: 1,
      entries: Array.from({ length: MAX_CATALOG_ENTRIES_PER_MESSAGE }, () => sampleEntry),
      cursor: { wall: 2 ** 50, logical: 65535, pathId: "c".repeat(64) },
      more: true,
      purgedThrough: { wall: 1, logical: 0 },
    };
    expect(roundTrip(page)).toEqual(page);
  });

  it("keep sizes beyond 32 bits exact", () => {
    const entry = { ...sampleEntry, size: Number.MAX_SAFE_INTEGER, hlc: { wall: 2 ** 50, logical: 65535 } };
    const message: Message = { t: "catalog.entries", re: 9, entries: [entry] };
    expect(roundTrip(message)).toEqual(message);
  });
});

const emptyPage = { t: "catalog.changes.page", re: 1, entries: [], more: false, purgedThrough: null };

describe("parseMessage rejects", () => {
  const valid = {
    get: { t: "chunk.get", id: 7, chunkId: "0".repeat(64) },
    hello: {
      t: "hello",
      protocol: 1,
      clusterId: "1".repeat(32),
      role: "node",
      nodeId: "2".repeat(32),
      listenAddr: "127.0.0.1:7001",
    },
  };

  it("starts from valid samples", () => {
    expect(parseMessage(valid.get).t).toBe("chunk.get");
    expect(parseMessage(valid.hello).t).toBe("hello");
  });

  const invalid: [string, unknown, RegExp][] = [
    [
      "an unknown field",
      { ...valid.get, extra: 1 },
      /chunk\.get message is invalid: Unrecognized key: "extra"/,
    ],
    ["uppercase hex ids", { ...valid.get, chunkId: "A".repeat(64) }, /at chunkId: expected 64 lowercase hex/],
    ["ids of the wrong length", { ...valid.get, chunkId: "0".repeat(63) }, /at chunkId/],
    ["a request id of 0", { ...valid.get, id: 0 }, /at id/],
    ["a request id beyond 32 bits", { ...valid.get, id: 2 ** 32 }, /at id/],
    ["a fractional request id", { ...valid.get, id: 1.5 }, /at id/],
    ["a missing field", { t: "chunk.get", id: 7 }, /at chunkId/],
    ["a node hello without its nodeId", { ...valid.hello, nodeId: undefined }, /nodeId and listenAddr/],
    ["a hello from an unknown role", { ...valid.hello, role: "admin" }, /at role/],
    ["an address without a port", { ...valid.hello, listenAddr: "127.0.0.1" }, /at listenAddr/],
    ["port 0", { ...valid.hello, listenAddr: "127.0.0.1:0" }, /at listenAddr: port/],
    ["port 65536", { ...valid.hello, listenAddr: "127.0.0.1:65536" }, /at listenAddr: port/],
    ["an address with a path", { ...valid.hello, listenAddr: "host:80/x" }, /at listenAddr/],
    [
      "too many chunk ids",
      { t: "chunk.has", id: 1, chunkIds: Array(MAX_CHUNK_IDS_PER_REQUEST + 1).fill("0".repeat(64)) },
      /at chunkIds/,
    ],
    [
      "too many members",
      { t: "peers", members: Array(MAX_MEMBERS + 1).fill({ nodeId: "0".repeat(32), addr: "a:1" }) },
      /at members/,
    ],
    [
      "a revocation larger than any real one",
      { t: "cluster.revoke", id: 1, revocation: Buffer.alloc(MAX_REVOCATION_BYTES + 1) },
      /at revocation/,
    ],
    [
      "too many catalog entries",
      { t: "catalog.push", id: 1, entries: Array(MAX_CATALOG_ENTRIES_PER_MESSAGE + 1).fill(sampleEntry) },
      /at entries/,
    ],
    [
      "meta longer than its bound",
      { t: "catalog.push", id: 1, entries: [{ ...sampleEntry, meta: Buffer.alloc(MAX_META_BYTES + 1) }] },
      /at entries\.0\.meta/,
    ],
    [
      "a size beyond the safe integers",
      { t: "catalog.push", id: 1, entries: [{ ...sampleEntry, size: 2 ** 53 }] },
      /at entries\.0\.size/,
    ],
    [
      "a logical clock beyond 16 bits",
      { t: "catalog.push", id: 1, entries: [{ ...sampleEntry, hlc: { wall: 1, logical: 65536 } }] },
      /at entries\.0\.hlc\.logical/,
    ],
    [
      "a digest with 255 buckets",
      { t: "catalog.digest.reply", re: 1, buckets: Array(255).fill(Buffer.alloc(32)) },
      /at buckets/,
    ],
    [
      "a digest bucket of 31 bytes",
      { t: "catalog.digest.reply", re: 1, buckets: [...Array(255).fill(Buffer.alloc(32)), Buffer.alloc(31)] },
      /at buckets\.255: expected exactly 32 bytes/,
    ],
    [
      "a page of changes with entries and no cursor",
      { t: "catalog.changes.page", re: 1, entries: [sampleEntry], more: false, purgedThrough: null },
      /at cursor: a page has a cursor exactly when it has entries/,
    ],
    [
      "a page of changes with a cursor and no entries",
      { ...emptyPage, cursor: { wall: 1, logical: 0, pathId: "a".repeat(64) } },
      /at cursor: a page has a cursor exactly when it has entries/,
    ],
    [
      "a page of changes without purgedThrough",
      { ...emptyPage, purgedThrough: undefined },
      /at purgedThrough/,
    ],
    [
      "a cursor with a logical clock beyond 16 bits",
      { t: "catalog.changes", id: 1, after: { wall: 1, logical: 65536, pathId: "a".repeat(64) } },
      /at after\.logical/,
    ],
    [
      "a cursor with a negative wall clock",
      { t: "catalog.changes", id: 1, after: { wall: -1, logical: 0, pathId: "a".repeat(64) } },
      /at after\.wall/,
    ],
    [
      "a cursor whose path id is not hex",
      { t: "catalog.changes", id: 1, after: { wall: 1, logical: 0, pathId: "g".repeat(64) } },
      /at after\.pathId/,
    ],
    [
      "a cursor with an extra field",
      { t: "catalog.changes", id: 1, after: { wall: 1, logical: 0, pathId: "a".repeat(64), x: 1 } },
      /at after/,
    ],
    ["a page limit of 0", { t: "catalog.changes", id: 1, limit: 0 }, /at limit/],
    [
      "a page limit beyond the entries a message holds",
      { t: "catalog.changes", id: 1, limit: MAX_CATALOG_ENTRIES_PER_MESSAGE + 1 },
      /at limit/,
    ],
    ["a bucket number beyond 255", { t: "catalog.pull", id: 1, buckets: [256] }, /at buckets\.0/],
    ["text where binary belongs", { t: "chunk.data", re: 1, data: "abc" }, /at data/],
    ["an error code that does not exist", { t: "error", code: "E_NOPE", message: "x" }, /at code/],
    ["NaN readings", { t: "ping", id: 1, at: Number.NaN }, /at at/],
    ["infinite readings", { t: "ping", id: 1, at: Number.POSITIVE_INFINITY }, /at at/],
    ["a number for t", { t: 5 }, /no type/],
    ["a missing t", { id: 1 }, /no type/],
    ["an unknown type", { t: "chunk.delete", id: 1 }, /type "chunk\.delete" is unknown/],
    ["a prototype member as type", { t: "constructor" }, /type "constructor" is unknown/],
    ["an array", [1, 2], /not a map/],
    ["binary", Buffer.alloc(3), /not a map/],
    ["null", null, /not a map/],
    ["a string", "hello", /not a map/],
  ];

  for (const [what, raw, message] of invalid) {
    it(`${what} with E_MESSAGE_INVALID`, () => {
      const err = thrown(() => parseMessage(raw));
      expect(err.code).toBe("E_MESSAGE_INVALID");
      expect(err.message).toMatch(message);
    });
  }

  it("names the message type as the error's subject", () => {
    expect(thrown(() => parseMessage({ ...valid.get, id: 0 })).subject).toBe("chunk.get");
  });

  it("quotes and shortens a peer-chosen unknown type", () => {
    const err = thrown(() => parseMessage({ t: `x\n${"y".repeat(500)}` }));
    expect(err.message).not.toContain("\n");
    expect(err.message.length).toBeLessThan(200);
  });
});

describe("change cursors and pages of changes", () => {
  const anyValue = fc.oneof(
    fc.integer(),
    fc.double(),
    fc.string({ maxLength: 70 }),
    hexChars(64),
    fc.constant(null),
    fc.constant(undefined),
  );
  const isCursor = (c: { wall: unknown; logical: unknown; pathId: unknown }) =>
    Number.isSafeInteger(c.wall) &&
    (c.wall as number) >= 0 &&
    Number.isInteger(c.logical) &&
    (c.logical as number) >= 0 &&
    (c.logical as number) <= 0xffff &&
    typeof c.pathId === "string" &&
    /^[0-9a-f]{64}$/.test(c.pathId);

  it("decode a cursor exactly when its clock stamp and path id are in bounds", () => {
    fc.assert(
      fc.property(
        changeCursor,
        fc.constantFrom("wall", "logical", "pathId"),
        anyValue,
        (cursor, field, value) => {
          // undefined stands for a cursor missing that field.
          const after: Record<string, unknown> = { ...cursor, [field]: value };
          if (value === undefined) delete after[field];
          const raw = { t: "catalog.changes", id: 1, after };
          let decoded: Message | undefined;
          try {
            decoded = parseMessage(new FrameDecoder(limits).push(encodeFrame(raw as Message, limits))[0]);
          } catch (err) {
            expect((err as DmfsError).code).toBe("E_MESSAGE_INVALID");
          }
          expect(decoded !== undefined).toBe(value !== undefined && isCursor(after as typeof cursor));
          // JSON: -0 is a valid wall clock that comes back as 0.
          if (decoded) expect(decoded).toEqual(JSON.parse(JSON.stringify(raw)));
        },
      ),
      { numRuns: 1000 },
    );
  });

  it("decode a page exactly when it has a cursor for its entries and none without", () => {
    fc.assert(
      fc.property(
        fc.array(catalogEntry, { maxLength: 3 }),
        fc.option(changeCursor, { nil: undefined }),
        fc.boolean(),
        (entries, cursor, more) => {
          const raw = {
            t: "catalog.changes.page",
            re: 1,
            entries,
            ...(cursor ? { cursor } : {}),
            more,
            purgedThrough: null,
          } as Message;
          const ok = (cursor !== undefined) === entries.length > 0;
          const parse = () => parseMessage(new FrameDecoder(limits).push(encodeFrame(raw, limits))[0]);
          if (ok) expect(parse()).toEqual(raw);
          else expect(thrown(parse).code).toBe("E_MESSAGE_INVALID");
        },
      ),
    );
  });
});

describe("allowedFrom", () => {
  // file.lookup: a gateway that misses asks its peers (node/file-lookup.ts).
  const clientTypes = ["hello", "error", "ok", "ping", "pong", "status", "file.lookup"];
  const clientOnlyTypes: string[] = [
    "file.begin",
    "file.chunk.write",
    "file.chunk.read",
    "file.commit",
    "catalog.changes",
    "chunk.locate",
    "cluster.revoke",
    "file.chunk.touch",
    "gc.run",
    "layout.set",
    "layout.get",
  ];

  it("lets a node send every message type but the client's file requests and the admin's revocation", () => {
    const allowed = MESSAGE_TYPES.filter((type) => allowedFrom("node", type));
    expect(allowed.sort()).toEqual(MESSAGE_TYPES.filter((t) => !clientOnlyTypes.includes(t)).sort());
  });

  it("lets a client send only hello, error, ok, ping, pong, status, lookups, its file requests and revocations", () => {
    const allowed = MESSAGE_TYPES.filter((type) => allowedFrom("client", type));
    expect(allowed.sort()).toEqual([...clientTypes, ...clientOnlyTypes].sort());
  });

  it("allows unknown types and prototype member names for nobody", () => {
    for (const type of ["chunk.delete", "", "constructor", "__proto__", "toString", "hasOwnProperty"]) {
      expect(allowedFrom("node", type)).toBe(false);
      expect(allowedFrom("client", type)).toBe(false);
    }
  });
});
