// What the client puts in a catalog entry so that nodes learn nothing from it: the path id is a keyed
// hash of the path, and `meta` is AES-256-GCM under the metadata key with a random nonce
// (nonce || ciphertext || tag). Version 2 of `meta` binds { path, size, mtime, fileKey, manifestId }, so
// a node cannot pair an entry with another file's contents; version 1 entries ({ path, size, mtime },
// written before 2026-11-25) still open. Small inputs: this runs on the main thread.
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { blake3 } from "@noble/hashes/blake3.js";
import { bytesToHex, utf8ToBytes } from "@noble/hashes/utils.js";
import { z } from "zod";
import { DmfsError } from "../errors.ts";
import { decode, encode } from "../protocol/codec.ts";
import type { DataKeys } from "./keys.ts";

const NONCE = 12;
const TAG = 16;
export const META_VERSION = 2;
export const MAX_PATH_BYTES = 1024;
// In a `u` regex a surrogate pair is one code point, so this matches only halves with no partner.
const LONE_SURROGATE = /\p{Cs}/u;

/** Why `path` cannot name a file (valid UTF-8, 1..1024 bytes, no NUL), or undefined when it can. */
export function pathProblem(path: string): string | undefined {
  if (path.length === 0) return "the path is empty";
  if (LONE_SURROGATE.test(path)) return "the path is not valid UTF-8 (it holds a lone surrogate)";
  if (path.includes("\0")) return "the path contains a NUL character";
  const bytes = Buffer.byteLength(path, "utf8");
  if (bytes > MAX_PATH_BYTES) return `the path is ${bytes} bytes long; at most ${MAX_PATH_BYTES} are allowed`;
  return undefined;
}

const hex64 = z.string().regex(/^[0-9a-f]{64}$/);
const size = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
// Milliseconds since 1970; earlier files have negative times.
const mtime = z.number().int().min(Number.MIN_SAFE_INTEGER).max(Number.MAX_SAFE_INTEGER);

const MetaV2 = z.strictObject({
  v: z.literal(META_VERSION),
  path: z.string().refine((p) => pathProblem(p) === undefined),
  size,
  mtime,
  fileKey: hex64,
  manifestId: hex64,
});
/** The first format, exactly as it was sealed: no version field, nothing bound but these three. */
const MetaV1 = z.strictObject({
  path: z.string().min(1).max(1024),
  size,
  mtime: z.number().int().nonnegative(),
});

/** What a client seals into a new entry. */
export type FileMeta = Omit<z.infer<typeof MetaV2>, "v">;
/** What an entry's meta opens to: version 1 lacks the file key and manifest id. */
export type OpenedMeta =
  | (FileMeta & { v: 2 })
  | (z.infer<typeof MetaV1> & { v: 1; fileKey?: undefined; manifestId?: undefined });

export function pathIdOf(keys: Pick<DataKeys, "path">, path: string): string {
  return bytesToHex(blake3(utf8ToBytes(path), { key: keys.path }));
}

/** Seals version-2 metadata; refuses (E_USAGE) anything `openMeta` would not open again. */
export function sealMeta(keys: Pick<DataKeys, "meta">, meta: FileMeta): Uint8Array {
  // -0 would come back as 0; everything else round-trips through msgpack unchanged.
  const parsed = MetaV2.safeParse({ v: META_VERSION, ...meta, mtime: meta.mtime + 0 });
  if (!parsed.success) {
    const problem = pathProblem(meta.path) ?? parsed.error.issues[0]?.message ?? "invalid metadata";
    throw new DmfsError("E_USAGE", `cannot store ${JSON.stringify(meta.path.slice(0, 80))}: ${problem}`);
  }
  const nonce = randomBytes(NONCE);
  const cipher = createCipheriv("aes-256-gcm", keys.meta, nonce);
  const body = Buffer.concat([cipher.update(encode(parsed.data)), cipher.final()]);
  return Buffer.concat([nonce, body, cipher.getAuthTag()]);
}

/** Decrypts and checks an entry's metadata; a wrong data key or a tampered blob is E_WRONG_KEY. */
export function openMeta(keys: Pick<DataKeys, "meta">, sealed: Uint8Array): OpenedMeta {
  const wrong = () =>
    new DmfsError("E_WRONG_KEY", "wrong data key or corrupted data: file metadata does not decrypt");
  if (sealed.length < NONCE + TAG) throw wrong();
  let plain: Buffer;
  try {
    const decipher = createDecipheriv("aes-256-gcm", keys.meta, sealed.subarray(0, NONCE));
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG));
    plain = Buffer.concat([decipher.update(sealed.subarray(NONCE, sealed.length - TAG)), decipher.final()]);
  } catch {
    throw wrong();
  }
  const raw = safeDecode(plain);
  const v2 = MetaV2.safeParse(raw);
  if (v2.success) return v2.data;
  const v1 = MetaV1.safeParse(raw);
  if (v1.success) return { v: 1, ...v1.data };
  throw wrong();
}

function safeDecode(bytes: Uint8Array): unknown {
  try {
    return decode(bytes);
  } catch {
    return undefined;
  }
}
