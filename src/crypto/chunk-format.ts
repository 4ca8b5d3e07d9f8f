// The stored form of a chunk: nonce || AES-256-GCM ciphertext || tag, named by the BLAKE3 of those
// bytes. Pure functions: the worker pool runs them off the main thread, tests call them directly.
import { createCipheriv, createDecipheriv } from "node:crypto";
import { bytesToHex } from "@noble/hashes/utils.js";
import { DmfsError } from "../errors.ts";
import type { Blake3 } from "./blake3.ts";

export const NONCE_BYTES = 12;
export const TAG_BYTES = 16;
/** Bytes a stored chunk adds to its plaintext; also the size of a stored empty chunk. */
export const CHUNK_OVERHEAD_BYTES = NONCE_BYTES + TAG_BYTES;

/** k_chunk keys the plaintext hash that yields the nonce; k_enc is the AES-256-GCM key. */
export type ChunkKeys = { readonly chunk: Uint8Array; readonly enc: Uint8Array };

export type SealedChunk = {
  /** nonce || ciphertext || tag, in a buffer of its own (never a slice of a shared pool). */
  stored: Uint8Array<ArrayBuffer>;
  /** Lowercase hex BLAKE3 of `stored`, 64 characters. */
  chunkId: string;
  /** Keyed BLAKE3 of the plaintext; its first 12 bytes are the nonce, all 32 feed the file key. */
  h: Uint8Array;
};

/**
 * Same plaintext under the same keys gives the same bytes, so equal chunks deduplicate. The stored
 * bytes are written into `into` when it is exactly their length (a buffer reused from an earlier chunk),
 * else into a new buffer.
 */
export function sealChunk(
  hasher: Blake3,
  keys: ChunkKeys,
  plaintext: Uint8Array,
  into?: Uint8Array<ArrayBuffer>,
): SealedChunk {
  const h = hasher.keyedHash(keys.chunk, plaintext);
  const nonce = h.subarray(0, NONCE_BYTES);
  const cipher = createCipheriv("aes-256-gcm", keys.enc, nonce);
  const length = plaintext.length + CHUNK_OVERHEAD_BYTES;
  // allocUnsafeSlow: every byte is written below, and the buffer must own its memory so it can be
  // transferred between threads (allocUnsafe may hand out a slice of Node's shared pool).
  const stored = into?.byteLength === length ? into : Buffer.allocUnsafeSlow(length);
  stored.set(nonce, 0);
  stored.set(cipher.update(plaintext), NONCE_BYTES);
  cipher.final();
  stored.set(cipher.getAuthTag(), NONCE_BYTES + plaintext.length);
  return { stored, chunkId: chunkIdOf(hasher, stored), h };
}

export type OpenedChunk = {
  plaintext: Uint8Array;
  /** Keyed BLAKE3 of the plaintext, recomputed: a reader feeds it to the file key it checks. */
  h: Uint8Array;
};

/** Returns the plaintext, or throws: E_CHUNK_CORRUPT if the bytes do not match the id, E_WRONG_KEY if they do not decrypt. */
export function openChunk(hasher: Blake3, keys: ChunkKeys, stored: Uint8Array, chunkId: string): OpenedChunk {
  if (stored.length < CHUNK_OVERHEAD_BYTES || chunkIdOf(hasher, stored) !== chunkId) {
    throw new DmfsError("E_CHUNK_CORRUPT", `chunk ${chunkId} is corrupt: its bytes do not hash to its id`, {
      subject: chunkId,
    });
  }
  const tagStart = stored.length - TAG_BYTES;
  const nonce = stored.subarray(0, NONCE_BYTES);
  const decipher = createDecipheriv("aes-256-gcm", keys.enc, nonce, { authTagLength: TAG_BYTES });
  decipher.setAuthTag(stored.subarray(tagStart));
  const plaintext = decipher.update(stored.subarray(NONCE_BYTES, tagStart));
  try {
    decipher.final();
  } catch (err) {
    throw wrongKey(chunkId, err);
  }
  // GCM passing with a nonce that is not this plaintext's hash means the chunk was sealed under
  // another k_chunk: the blob did not come from this data key's seal.
  const h = hasher.keyedHash(keys.chunk, plaintext);
  if (Buffer.compare(nonce, h.subarray(0, NONCE_BYTES)) !== 0) throw wrongKey(chunkId);
  return { plaintext, h };
}

/** The id of a stored chunk (or of any content-addressed blob): lowercase hex of its unkeyed BLAKE3. */
export function chunkIdOf(hasher: Blake3, stored: Uint8Array): string {
  return bytesToHex(hasher.hash(stored));
}

function wrongKey(chunkId: string, cause?: unknown): DmfsError {
  return new DmfsError("E_WRONG_KEY", "wrong data key or corrupted data", { subject: chunkId, cause });
}
