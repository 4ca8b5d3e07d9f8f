// A file's manifest: its chunks in order as [chunkId, storedLength], plus the chunk size and plaintext
// size. Plaintext msgpack (nodes read manifests to place, repair and collect chunks), stored as a
// content-addressed object like a chunk: manifestId = BLAKE3(manifest bytes).
import { z } from "zod";
import { CHUNK_OVERHEAD_BYTES } from "../crypto/chunk-format.ts";
import { DmfsError } from "../errors.ts";
import { decode, encode } from "../protocol/codec.ts";

export const MANIFEST_VERSION = 1;

export const Manifest = z
  .strictObject({
    v: z.literal(MANIFEST_VERSION),
    chunkSize: z.number().int().min(1),
    size: z.number().int().nonnegative(),
    chunks: z.array(
      z.tuple([z.string().regex(/^[0-9a-f]{64}$/), z.number().int().min(CHUNK_OVERHEAD_BYTES)]),
    ),
  })
  .refine((m) => m.chunks.length === Math.ceil(m.size / m.chunkSize), "chunk count does not match size")
  .refine(
    (m) => m.chunks.reduce((sum, [, len]) => sum + len - CHUNK_OVERHEAD_BYTES, 0) === m.size,
    "chunk lengths do not add up to the size",
  );
export type Manifest = z.infer<typeof Manifest>;

export function encodeManifest(m: Manifest): Buffer {
  return encode(m);
}

/** Decodes and checks a manifest; anything else is E_CHUNK_CORRUPT naming the manifest. */
export function decodeManifest(bytes: Uint8Array, manifestId: string): Manifest {
  let raw: unknown;
  try {
    raw = decode(bytes);
  } catch (err) {
    throw new DmfsError("E_CHUNK_CORRUPT", `manifest ${manifestId} is not valid msgpack`, { cause: err });
  }
  const parsed = Manifest.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new DmfsError(
      "E_CHUNK_CORRUPT",
      `manifest ${manifestId} is invalid: ${issue?.message ?? "bad shape"}`,
    );
  }
  return parsed.data;
}
