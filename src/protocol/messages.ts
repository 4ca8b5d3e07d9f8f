// Every message on the wire, as a zod schema that is both the validator and the TypeScript type.
// To add a message: write its schema, add it to `Message` below, and give it a line in roles.ts.
// Schemas are strict (unknown fields are invalid) and bound every string, array and binary field; the
// frame size bounds the rest, so senders of long lists must also split them to fit one frame.

import { z } from "zod";
import { ZoneName } from "../cluster/layout.ts";
import { DmfsError, type ErrorCode, ErrorCodes } from "../errors.ts";

/** The protocol version a node speaks; hello carries it and a mismatch closes the link. */
export const PROTOCOL_VERSION = 1;

export const MAX_MEMBERS = 1024;
export const MAX_CHUNK_IDS_PER_REQUEST = 4096;
export const MAX_CATALOG_ENTRIES_PER_MESSAGE = 1024;
export const MAX_META_BYTES = 4096;
export const DIGEST_BUCKETS = 256;
export const DIGEST_BYTES = 32;
export const MAX_ERROR_MESSAGE_CHARS = 1024;
/** A revocation (a CRL naming one certificate) is well under this; see crypto/revocation.ts. */
export const MAX_REVOCATION_BYTES = 4096;
export const MAX_REVOCATIONS = 1024;
/** A signed layout (cluster/layout.ts): the layout's bytes, a signature and a small envelope. */
export const MAX_SIGNED_LAYOUT_BYTES = 256 * 1024 + 256;
const MAX_CURSOR_CHARS = 512;
const MAX_ADDR_CHARS = 261; // 253-char host name, brackets, colon, 5-digit port
const MAX_COUNTER_KINDS = 64;
const MAX_COUNTER_NAME_CHARS = 64;

// ---- building blocks ----

const hex = (chars: number) =>
  z.string().regex(new RegExp(`^[0-9a-f]{${chars}}$`), `expected ${chars} lowercase hex characters`);

export const ChunkId = hex(64);
export const ManifestId = hex(64);
export const PathId = hex(64);
export const FileKey = hex(64);
export const NodeId = hex(32);
export const ClusterId = hex(32);

/** `host:port`: a name or IPv4 address, or a bracketed IPv6 address, and a port from 1 to 65535. */
export const HostPort = z
  .string()
  .max(MAX_ADDR_CHARS)
  .regex(/^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]):[0-9]{1,5}$/, "expected host:port")
  .refine((addr) => {
    const port = Number(addr.slice(addr.lastIndexOf(":") + 1));
    return port >= 1 && port <= 65535;
  }, "port must be from 1 to 65535");

const uint = () => z.number().int().nonnegative();
/** Milliseconds or other readings that need not be whole; zod 4 numbers are always finite. */
const nonNegative = () => z.number().nonnegative();
const RequestId = z.number().int().min(1).max(0xffff_ffff);

/** Binary as decoded from msgpack (a Buffer, which is a Uint8Array), at most `maxBytes` long. */
const isBytes = (value: unknown): value is Uint8Array => value instanceof Uint8Array;
const bytes = (maxBytes?: number) => {
  const any = z.custom<Uint8Array>(isBytes, "expected binary");
  return maxBytes === undefined
    ? any
    : any.refine((value) => value.length <= maxBytes, `expected at most ${maxBytes} bytes`);
};
const exactBytes = (length: number) =>
  z
    .custom<Uint8Array>(isBytes, "expected binary")
    .refine((value) => value.length === length, `expected exactly ${length} bytes`);

export const PeerRole = z.enum(["node", "client"]);
export type PeerRole = z.infer<typeof PeerRole>;

const errorCodes = Object.keys(ErrorCodes) as [ErrorCode, ...ErrorCode[]];

export const Member = z.strictObject({ nodeId: NodeId, addr: HostPort });
export type Member = z.infer<typeof Member>;

export const Hlc = z.strictObject({ wall: uint(), logical: z.number().int().min(0).max(0xffff) });
export type Hlc = z.infer<typeof Hlc>;

export const CatalogEntry = z.strictObject({
  pathId: PathId,
  hlc: Hlc,
  writer: NodeId,
  deleted: z.boolean(),
  fileKey: FileKey.nullable(),
  manifestId: ManifestId.nullable(),
  size: uint(),
  meta: bytes(MAX_META_BYTES).nullable(),
});
export type CatalogEntry = z.infer<typeof CatalogEntry>;

export const MemberState = z.enum(["alive", "suspect", "down", "self"]);
export type MemberState = z.infer<typeof MemberState>;

export const NodeStatus = z.strictObject({
  clusterId: ClusterId,
  nodeId: NodeId,
  listenAddr: HostPort,
  startedAt: nonNegative(),
  /** The BLAKE3 implementation the node's crypto pool hashes with (src/crypto/blake3.ts). */
  blake3Backend: z.enum(["native", "wasm", "noble"]),
  members: z
    .array(
      z.strictObject({
        nodeId: NodeId,
        addr: HostPort,
        state: MemberState,
        rttMs: nonNegative().nullable(),
        lastSeen: nonNegative().nullable(),
      }),
    )
    .max(MAX_MEMBERS),
  /**
   * `full`: the disk is below its free-space reserve (`reserveBytes`), so the node takes no new chunk
   * copies (optional: nodes built before 2026-11-25 do not send them).
   */
  store: z.strictObject({
    chunks: uint(),
    bytes: uint(),
    diskFree: uint(),
    full: z.boolean().optional(),
    reserveBytes: uint().optional(),
  }),
  counters: z.strictObject({
    bytesIn: uint(),
    bytesOut: uint(),
    framesRejected: z
      .record(z.string().min(1).max(MAX_COUNTER_NAME_CHARS), uint())
      .refine(
        (kinds) => Object.keys(kinds).length <= MAX_COUNTER_KINDS,
        `expected at most ${MAX_COUNTER_KINDS} keys`,
      ),
  }),
  catalog: z.strictObject({ files: uint(), tombstones: uint() }),
  /** File operations this node served as a gateway, and chunk traffic it stored or sent, since start. */
  activity: z.strictObject({
    uploads: uint(),
    reads: uint(),
    deletes: uint(),
    chunksStored: uint(),
    chunksServed: uint(),
    /** Chunks and index objects clients fetched through this node (file.chunk.read answered). */
    chunkReads: uint(),
  }),
  /** Chunks held here with fewer than R copies on their homes at the last repair scan; null before one. */
  underReplicated: uint().nullable(),
  /**
   * What repair has left to move here (src/node/repair.ts `RepairProgress`): copies off their homes,
   * bytes still owed to homes that lack them, bytes moved and copies dropped since start, the rate and
   * an ETA. Optional: nodes built before 2026-11-25 do not send it.
   */
  repair: z
    .strictObject({
      misplaced: uint().nullable(),
      bytesToMove: uint().nullable(),
      bytesMoved: uint(),
      copiesDropped: uint(),
      bytesPerSecond: uint().nullable(),
      etaSeconds: uint().nullable(),
    })
    .optional(),
  /**
   * Garbage collection: bytes of stored chunks no live manifest referenced at the last complete pass and
   * not yet deleted (null before one), and bytes deleted since the node started.
   */
  gc: z.strictObject({ reclaimableBytes: uint().nullable(), reclaimedBytes: uint() }),
  /**
   * Present while the node is read-only because it missed a tombstone purge while away: the sentence
   * its log says, naming why and how to rejoin (src/node/absence.ts).
   */
  readOnly: z.string().min(1).max(MAX_ERROR_MESSAGE_CHARS).optional(),
});
export type NodeStatus = z.infer<typeof NodeStatus>;

// ---- messages (role that may send each one: see roles.ts) ----

/** `protocol` is any version so that a mismatch is reported as such, not as a malformed hello. */
export const Hello = z
  .strictObject({
    t: z.literal("hello"),
    protocol: z.number().int().min(1),
    clusterId: ClusterId,
    role: PeerRole,
    nodeId: NodeId.optional(),
    listenAddr: HostPort.optional(),
  })
  .refine(
    (hello) => hello.role === "client" || (hello.nodeId !== undefined && hello.listenAddr !== undefined),
    "a node's hello carries its nodeId and listenAddr",
  );
export type Hello = z.infer<typeof Hello>;

export const ErrorMessage = z.strictObject({
  t: z.literal("error"),
  re: RequestId.optional(),
  code: z.enum(errorCodes),
  message: z.string().max(MAX_ERROR_MESSAGE_CHARS),
});
export type ErrorMessage = z.infer<typeof ErrorMessage>;

export const Ok = z.strictObject({ t: z.literal("ok"), re: RequestId });
export type Ok = z.infer<typeof Ok>;

/**
 * A heartbeat; `full` says the sender takes no new copies: its disk is below its free-space reserve, or
 * it is read-only after missing a tombstone purge (src/node/absence.ts), which `readOnly` then says, so
 * an upload that fails for want of nodes names the true cause.
 */
export const Ping = z.strictObject({
  t: z.literal("ping"),
  id: RequestId,
  at: nonNegative(),
  full: z.boolean().optional(),
  readOnly: z.boolean().optional(),
});
export type Ping = z.infer<typeof Ping>;

export const Pong = z.strictObject({ t: z.literal("pong"), re: RequestId, at: nonNegative() });
export type Pong = z.infer<typeof Pong>;

/** Gossip: the members a node knows, and the revocations it enforces (each verified by the receiver). */
export const Peers = z.strictObject({
  t: z.literal("peers"),
  members: z.array(Member).max(MAX_MEMBERS),
  revocations: z.array(bytes(MAX_REVOCATION_BYTES)).max(MAX_REVOCATIONS).optional(),
  /** The newest CA-signed layout the node follows (each receiver verifies it). */
  layout: bytes(MAX_SIGNED_LAYOUT_BYTES).optional(),
});
export type Peers = z.infer<typeof Peers>;

export const ChunkPut = z.strictObject({
  t: z.literal("chunk.put"),
  id: RequestId,
  chunkId: ChunkId,
  data: bytes(),
});
export type ChunkPut = z.infer<typeof ChunkPut>;

export const ChunkGet = z.strictObject({ t: z.literal("chunk.get"), id: RequestId, chunkId: ChunkId });
export type ChunkGet = z.infer<typeof ChunkGet>;

/** `from`: in a reply to file.chunk.read, the node whose copy this is, so a client can ask around it. */
export const ChunkData = z.strictObject({
  t: z.literal("chunk.data"),
  re: RequestId,
  data: bytes(),
  from: NodeId.optional(),
});
export type ChunkData = z.infer<typeof ChunkData>;

/**
 * `verify`: re-hash each copy before answering (a bad one is quarantined and answered false), for a
 * holder about to delete its own copy because the homes have one.
 */
export const ChunkHas = z.strictObject({
  t: z.literal("chunk.has"),
  id: RequestId,
  chunkIds: z.array(ChunkId).max(MAX_CHUNK_IDS_PER_REQUEST),
  verify: z.boolean().optional(),
});
export type ChunkHas = z.infer<typeof ChunkHas>;

/** Renews the given chunks' age on the receiving node (those it holds): an upload in progress holds them. */
export const ChunkTouch = z.strictObject({
  t: z.literal("chunk.touch"),
  id: RequestId,
  chunkIds: z.array(ChunkId).max(MAX_CHUNK_IDS_PER_REQUEST),
});
export type ChunkTouch = z.infer<typeof ChunkTouch>;

export const ChunkHave = z.strictObject({
  t: z.literal("chunk.have"),
  re: RequestId,
  have: z.array(z.boolean()).max(MAX_CHUNK_IDS_PER_REQUEST),
});
export type ChunkHave = z.infer<typeof ChunkHave>;

export const CatalogPush = z.strictObject({
  t: z.literal("catalog.push"),
  id: RequestId,
  entries: z.array(CatalogEntry).max(MAX_CATALOG_ENTRIES_PER_MESSAGE),
});
export type CatalogPush = z.infer<typeof CatalogPush>;

export const CatalogDigest = z.strictObject({ t: z.literal("catalog.digest"), id: RequestId });
export type CatalogDigest = z.infer<typeof CatalogDigest>;

export const CatalogDigestReply = z.strictObject({
  t: z.literal("catalog.digest.reply"),
  re: RequestId,
  buckets: z.array(exactBytes(DIGEST_BYTES)).length(DIGEST_BUCKETS),
  /** The latest arrival stamp stored on the replying node when it made these digests. */
  through: Hlc.optional(),
  /**
   * The latest arrival stamp, on the replying node, of a tombstone it purged (absent: none yet, or a
   * node built before 2026-11-26). A returning node that acknowledged less to it missed a purge.
   */
  purgedThrough: Hlc.optional(),
});
export type CatalogDigestReply = z.infer<typeof CatalogDigestReply>;

/**
 * After pulling everything a peer's digests said differed (nothing refused, nothing left for the next
 * round): "I hold every entry you had stored through `through`, or a newer one". Reply ok.
 */
export const CatalogAck = z.strictObject({ t: z.literal("catalog.ack"), id: RequestId, through: Hlc });
export type CatalogAck = z.infer<typeof CatalogAck>;

export const CatalogPull = z.strictObject({
  t: z.literal("catalog.pull"),
  id: RequestId,
  buckets: z
    .array(
      z
        .number()
        .int()
        .min(0)
        .max(DIGEST_BUCKETS - 1),
    )
    .min(1)
    .max(DIGEST_BUCKETS),
  cursor: z.string().min(1).max(MAX_CURSOR_CHARS).optional(),
});
export type CatalogPull = z.infer<typeof CatalogPull>;

export const CatalogEntries = z.strictObject({
  t: z.literal("catalog.entries"),
  re: RequestId,
  entries: z.array(CatalogEntry).max(MAX_CATALOG_ENTRIES_PER_MESSAGE),
  cursor: z.string().min(1).max(MAX_CURSOR_CHARS).optional(),
});
export type CatalogEntries = z.infer<typeof CatalogEntries>;

export const StatusRequest = z.strictObject({
  t: z.literal("status"),
  id: RequestId,
  subscribe: z.boolean(),
});
export type StatusRequest = z.infer<typeof StatusRequest>;

export const StatusReply = z.strictObject({
  t: z.literal("status.reply"),
  re: RequestId,
  status: NodeStatus,
});
export type StatusReply = z.infer<typeof StatusReply>;

export const StatusUpdate = z.strictObject({ t: z.literal("status.update"), status: NodeStatus });
export type StatusUpdate = z.infer<typeof StatusUpdate>;

// ---- client to gateway: file operations ----

/**
 * Opens an upload of more than one chunk: refused with E_QUORUM when fewer than W nodes are alive,
 * before any data is sent (a one-chunk upload's chunk write makes the same check).
 */
export const FileBegin = z.strictObject({ t: z.literal("file.begin"), id: RequestId });
export type FileBegin = z.infer<typeof FileBegin>;

export const FileBegun = z.strictObject({
  t: z.literal("file.begun"),
  re: RequestId,
  alive: uint(),
  replication: uint(),
  writeQuorum: uint(),
  /** Chunks unreferenced for this long are collected: an upload renews its chunks well within it. */
  gcGraceMs: uint(),
});
export type FileBegun = z.infer<typeof FileBegun>;

/** A sealed chunk (or a manifest) to place on its homes; acknowledged once W copies are on disk. */
export const FileChunkWrite = z.strictObject({
  t: z.literal("file.chunk.write"),
  id: RequestId,
  chunkId: ChunkId,
  data: bytes(),
});
export type FileChunkWrite = z.infer<typeof FileChunkWrite>;

/**
 * A stored chunk (or manifest) fetched from any replica by the gateway, verified; reply chunk.data.
 * `exclude`: nodes whose copies the client found bad; the gateway takes the copy from another holder.
 */
export const FileChunkRead = z.strictObject({
  t: z.literal("file.chunk.read"),
  id: RequestId,
  chunkId: ChunkId,
  exclude: z.array(NodeId).max(MAX_MEMBERS).optional(),
});
export type FileChunkRead = z.infer<typeof FileChunkRead>;

/** A catalog entry without its clock: the gateway stamps hlc and writer, then replicates to W nodes. */
export const FileCommit = z.strictObject({
  t: z.literal("file.commit"),
  id: RequestId,
  pathId: PathId,
  deleted: z.boolean(),
  fileKey: FileKey.nullable(),
  manifestId: ManifestId.nullable(),
  size: uint(),
  meta: bytes(MAX_META_BYTES).nullable(),
});
export type FileCommit = z.infer<typeof FileCommit>;

/** The entry for a path id or for a file key (the latest live one with that key). */
export const FileLookup = z.strictObject({
  t: z.literal("file.lookup"),
  id: RequestId,
  pathId: PathId.optional(),
  fileKey: FileKey.optional(),
});
export type FileLookup = z.infer<typeof FileLookup>;

export const FileEntry = z.strictObject({
  t: z.literal("file.entry"),
  re: RequestId,
  entry: CatalogEntry.nullable(),
});
export type FileEntry = z.infer<typeof FileEntry>;

/** A place in a node's order of changes (see CatalogChanges): an arrival stamp and a path id. */
export const ChangeCursor = z.strictObject({ wall: uint(), logical: Hlc.shape.logical, pathId: PathId });
export type ChangeCursor = z.infer<typeof ChangeCursor>;

/**
 * The entries the gateway stored after `after` (from its first when absent), tombstones included, in
 * the order they arrived there; reply catalog.changes.page. How a client keeps its listing index.
 */
export const CatalogChanges = z.strictObject({
  t: z.literal("catalog.changes"),
  id: RequestId,
  after: ChangeCursor.optional(),
  limit: z.number().int().min(1).max(MAX_CATALOG_ENTRIES_PER_MESSAGE).optional(),
});
export type CatalogChanges = z.infer<typeof CatalogChanges>;

/**
 * One page of changes: `cursor` is the last entry's place, present exactly when there are entries;
 * `more` says whether entries follow it; `purgedThrough` is the latest arrival stamp of a tombstone
 * the node purged (null if none): a client whose cursor is older may have missed that delete.
 */
export const CatalogChangesPage = z
  .strictObject({
    t: z.literal("catalog.changes.page"),
    re: RequestId,
    entries: z.array(CatalogEntry).max(MAX_CATALOG_ENTRIES_PER_MESSAGE),
    cursor: ChangeCursor.optional(),
    more: z.boolean(),
    purgedThrough: Hlc.nullable(),
  })
  .refine((page) => (page.cursor !== undefined) === page.entries.length > 0, {
    message: "a page has a cursor exactly when it has entries",
    path: ["cursor"],
  });
export type CatalogChangesPage = z.infer<typeof CatalogChangesPage>;

/** Which nodes hold each chunk. */
export const ChunkLocate = z.strictObject({
  t: z.literal("chunk.locate"),
  id: RequestId,
  chunkIds: z.array(ChunkId).max(MAX_CHUNK_IDS_PER_REQUEST),
});
export type ChunkLocate = z.infer<typeof ChunkLocate>;

export const ChunkLocations = z.strictObject({
  t: z.literal("chunk.locations"),
  re: RequestId,
  nodes: z.array(z.array(NodeId).max(MAX_MEMBERS)).max(MAX_CHUNK_IDS_PER_REQUEST),
});
export type ChunkLocations = z.infer<typeof ChunkLocations>;

/** The admin hands a CA-signed revocation to a node, which enforces it and gossips it on. */
export const ClusterRevoke = z.strictObject({
  t: z.literal("cluster.revoke"),
  id: RequestId,
  revocation: bytes(MAX_REVOCATION_BYTES),
});
export type ClusterRevoke = z.infer<typeof ClusterRevoke>;

/** The admin hands a CA-signed layout to a node, which follows it if newer and gossips it on. */
export const LayoutSet = z.strictObject({
  t: z.literal("layout.set"),
  id: RequestId,
  layout: bytes(MAX_SIGNED_LAYOUT_BYTES),
});
export type LayoutSet = z.infer<typeof LayoutSet>;

/** Asks a node for the layout it follows; reply layout.reply. */
export const LayoutGet = z.strictObject({ t: z.literal("layout.get"), id: RequestId });
export type LayoutGet = z.infer<typeof LayoutGet>;

/**
 * The signed layout the node follows (null: none yet, it places over its members), whether it still
 * writes to the homes of the layout before it too, the capacity this node offers (its weight in the
 * next layout the admin signs) and its certificate's name.
 */
export const LayoutReply = z.strictObject({
  t: z.literal("layout.reply"),
  re: RequestId,
  layout: bytes(MAX_SIGNED_LAYOUT_BYTES).nullable(),
  changing: z.boolean(),
  capacity: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
  /** The zone the node's config names, if any (absent rather than null, so older clients still parse it). */
  zone: ZoneName.optional(),
  /** The name in the node's certificate (node-3). */
  name: z.string().min(1).max(64),
  /** At the node's last repair scan: copies it holds off their homes, and chunks whose homes lack one. */
  misplaced: uint().nullable(),
  underReplicated: uint().nullable(),
});
export type LayoutReply = z.infer<typeof LayoutReply>;

/** The client's upload renews the chunks it has written so far on every alive node, through its gateway. */
export const FileChunkTouch = z.strictObject({
  t: z.literal("file.chunk.touch"),
  id: RequestId,
  chunkIds: z.array(ChunkId).max(MAX_CHUNK_IDS_PER_REQUEST),
});
export type FileChunkTouch = z.infer<typeof FileChunkTouch>;

/** An operator asks a node to run one garbage collection pass now; reply gc.done. */
export const GcRun = z.strictObject({ t: z.literal("gc.run"), id: RequestId });
export type GcRun = z.infer<typeof GcRun>;

/** What one pass did; `skipped` says why it deleted nothing (a manifest it could not fetch). */
export const GcDone = z.strictObject({
  t: z.literal("gc.done"),
  re: RequestId,
  reclaimedBytes: uint(),
  reclaimedChunks: uint(),
  reclaimableBytes: uint(),
  skipped: z.string().max(1000).optional(),
});
export type GcDone = z.infer<typeof GcDone>;

// ---- the union ----

export const Message = z.discriminatedUnion("t", [
  Hello,
  ErrorMessage,
  Ok,
  Ping,
  Pong,
  Peers,
  ChunkPut,
  ChunkGet,
  ChunkData,
  ChunkHas,
  ChunkHave,
  CatalogPush,
  CatalogDigest,
  CatalogDigestReply,
  CatalogPull,
  CatalogEntries,
  CatalogAck,
  StatusRequest,
  StatusReply,
  StatusUpdate,
  FileBegin,
  FileBegun,
  FileChunkWrite,
  FileChunkRead,
  FileCommit,
  FileLookup,
  FileEntry,
  CatalogChanges,
  CatalogChangesPage,
  ChunkLocate,
  ChunkLocations,
  ClusterRevoke,
  ChunkTouch,
  FileChunkTouch,
  GcRun,
  GcDone,
  LayoutSet,
  LayoutGet,
  LayoutReply,
]);
export type Message = z.infer<typeof Message>;
export type MessageType = Message["t"];

/** The message of type `T`, e.g. `MessageOf<"chunk.put">`. */
export type MessageOf<T extends MessageType> = Extract<Message, { t: T }>;

const schemaByType: ReadonlyMap<string, (typeof Message.options)[number]> = new Map(
  Message.options.map((schema) => [schema.shape.t.value, schema]),
);

/** Every message type, in the order of the union. */
export const MESSAGE_TYPES: readonly MessageType[] = Message.options.map((schema) => schema.shape.t.value);

/**
 * Validates a decoded message. Throws E_MESSAGE_INVALID naming the message type (the subject) and the
 * first problem found.
 */
export function parseMessage(raw: unknown): Message {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw) || raw instanceof Uint8Array) {
    throw new DmfsError("E_MESSAGE_INVALID", "The message is not a map of fields.");
  }
  const type: unknown = (raw as { t?: unknown }).t;
  if (typeof type !== "string") {
    throw new DmfsError("E_MESSAGE_INVALID", "The message has no type: field t is missing or not a string.");
  }
  const schema = schemaByType.get(type);
  if (schema === undefined) {
    throw new DmfsError("E_MESSAGE_INVALID", `The message type ${quote(type)} is unknown.`, {
      subject: type.slice(0, 64),
    });
  }
  const result = schema.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0];
    const where = issue === undefined || issue.path.length === 0 ? "" : ` at ${issue.path.join(".")}`;
    throw new DmfsError(
      "E_MESSAGE_INVALID",
      `The ${type} message is invalid${where}: ${(issue?.message ?? "it does not match its schema").slice(0, 200)}.`,
      { subject: type },
    );
  }
  return result.data;
}

/** A peer-chosen string, shortened and quoted so it cannot forge log lines. */
function quote(text: string): string {
  return JSON.stringify(text.length > 64 ? `${text.slice(0, 64)}...` : text);
}
