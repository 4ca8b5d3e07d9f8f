// A file's manifest: a tree of index objects. Plaintext msgpack (nodes read them to place, repair and
// collect chunks: ids and lengths only), each stored content-addressed like a chunk: id = BLAKE3(bytes).
//
// Version 2 (the tree): `{ v: 2, level, entries: [[id, storedLength, plaintextLength]...], file? }`.
// A level-0 object (a leaf) lists chunks: stored bytes and plaintext bytes of each. A level-L object
// lists level-(L-1) objects: the byte length of that object and the plaintext bytes under it. The root
// is the one object with `file: { chunkSize, size }`; its id is the catalog entry's manifestId. Byte
// offsets are the running sums of the entries' plaintext lengths (not stored: lengths alone let a file
// be composed of parts of any size without rewriting what follows). A file of up to a fan-out's worth
// of chunks is one leaf that is also the root.
//
// Version 1 (written until 2026-11-25, still read): one object `{ v: 1, chunkSize, size, chunks:
// [[chunkId, storedLength]...] }`, decoded here as a root leaf.
import { z } from "zod";
import { CHUNK_OVERHEAD_BYTES } from "../crypto/chunk-format.ts";
import { DmfsError } from "../errors.ts";
import { decode, encode } from "../protocol/codec.ts";

export const MANIFEST_VERSION = 2;
/** Entries per index object that readers accept: ~80 bytes each, so an object stays far below a frame. */
export const MAX_INDEX_ENTRIES = 4096;
/** Levels above the leaves: 8 levels of 1,000 entries is far beyond any disk. */
export const MAX_INDEX_LEVEL = 8;

const id = z.string().regex(/^[0-9a-f]{64}$/);
const length = z.number().int().min(1).max(Number.MAX_SAFE_INTEGER);

/** One entry: a chunk (in a leaf) or a child index object (above), with the plaintext bytes it covers. */
export type IndexEntry = readonly [id: string, storedLength: number, plaintextLength: number];

/** What every version decodes to. `file` is present on the root only. */
export interface IndexNode {
  level: number;
  entries: IndexEntry[];
  file?: { chunkSize: number; size: number };
}

const FileInfo = z.strictObject({ chunkSize: length, size: z.number().int().nonnegative() });

const IndexObjectV2 = z
  .strictObject({
    v: z.literal(2),
    level: z.number().int().min(0).max(MAX_INDEX_LEVEL),
    entries: z.array(z.tuple([id, length, length])).max(MAX_INDEX_ENTRIES),
    file: FileInfo.optional(),
  })
  .refine(
    (o) => o.level > 0 || o.entries.every(([, stored, plain]) => stored === plain + CHUNK_OVERHEAD_BYTES),
    "a chunk's stored length is not its plaintext length plus the seal",
  )
  .refine((o) => o.entries.length > 0 || (o.file?.size === 0 && o.level === 0), "an index object is empty")
  .refine(
    (o) => plaintextOf(o.entries) <= Number.MAX_SAFE_INTEGER,
    "entries cover more bytes than a file can hold",
  )
  .refine(
    (o) => o.file === undefined || plaintextOf(o.entries) === o.file.size,
    "entries do not add up to the size",
  );

const ManifestV1 = z
  .strictObject({
    v: z.literal(1),
    chunkSize: length,
    size: z.number().int().nonnegative(),
    chunks: z.array(z.tuple([id, z.number().int().min(CHUNK_OVERHEAD_BYTES)])),
  })
  .refine((m) => m.chunks.length === Math.ceil(m.size / m.chunkSize), "chunk count does not match size")
  .refine(
    (m) => m.chunks.reduce((sum, [, len]) => sum + len - CHUNK_OVERHEAD_BYTES, 0) === m.size,
    "chunk lengths do not add up to the size",
  );
export type ManifestV1 = z.infer<typeof ManifestV1>;

const AnyVersion = z.discriminatedUnion("v", [IndexObjectV2, ManifestV1]);

/** The plaintext bytes under a list of entries (the size of what they cover). */
export function plaintextOf(entries: readonly IndexEntry[]): number {
  let sum = 0;
  for (const [, , plain] of entries) sum += plain;
  return sum;
}

/** The bytes of an index object of the current version. */
export function encodeIndexObject(node: IndexNode): Buffer {
  return encode({
    v: MANIFEST_VERSION,
    level: node.level,
    entries: node.entries,
    ...(node.file ? { file: node.file } : {}),
  });
}

/**
 * Decodes and checks one index object of either version (a version-1 manifest becomes a root leaf);
 * anything else - not msgpack, another shape, lengths that do not add up - is E_CHUNK_CORRUPT naming it.
 */
export function decodeIndexObject(bytes: Uint8Array, objectId: string): IndexNode {
  let raw: unknown;
  try {
    raw = decode(bytes);
  } catch (err) {
    throw new DmfsError("E_CHUNK_CORRUPT", `index object ${objectId} is not valid msgpack`, { cause: err });
  }
  const parsed = AnyVersion.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new DmfsError(
      "E_CHUNK_CORRUPT",
      `index object ${objectId} is invalid: ${issue?.message ?? "bad shape"}${issue?.path.length ? ` at ${issue.path.join(".")}` : ""}`,
    );
  }
  const o = parsed.data;
  if (o.v === 1) {
    return {
      level: 0,
      entries: o.chunks.map(([chunkId, stored]) => [chunkId, stored, stored - CHUNK_OVERHEAD_BYTES] as const),
      file: { chunkSize: o.chunkSize, size: o.size },
    };
  }
  return { level: o.level, entries: o.entries, ...(o.file ? { file: o.file } : {}) };
}

/** Encodes a version-1 manifest: only tests and fixtures make them now. */
export function encodeManifestV1(m: ManifestV1): Buffer {
  return encode(m);
}
