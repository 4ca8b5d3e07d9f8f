// The file key: keyed BLAKE3 (k_file) over u64be(chunkSize) || h_1 || ... || h_n, where h_i is the
// keyed hash of chunk i's plaintext. Same content, same chunk size, same data key: same file key.
import { blake3 } from "@noble/hashes/blake3.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import type { Blake3 } from "./blake3.ts";

const CHUNK_SIZE_BYTES = 8;

export function fileKey(
  hasher: Blake3,
  kFile: Uint8Array,
  chunkSize: number,
  hs: readonly Uint8Array[],
): string {
  let length = CHUNK_SIZE_BYTES;
  for (const h of hs) length += h.length;
  const input = Buffer.allocUnsafe(length);
  input.set(chunkSizeBytes(chunkSize), 0);
  let offset = CHUNK_SIZE_BYTES;
  for (const h of hs) {
    input.set(h, offset);
    offset += h.length;
  }
  return bytesToHex(hasher.keyedHash(kFile, input));
}

/** The same key as `fileKey`, built while a file streams past, one chunk hash at a time. */
export class FileKeyBuilder {
  // The input is 32 bytes per chunk, so the pure-JS hasher is fast enough and hashes incrementally.
  readonly #hash: ReturnType<typeof blake3.create>;

  constructor(kFile: Uint8Array, chunkSize: number) {
    this.#hash = blake3.create({ key: kFile }).update(chunkSizeBytes(chunkSize));
  }

  add(h: Uint8Array): void {
    this.#hash.update(h);
  }

  finish(): string {
    return bytesToHex(this.#hash.digest());
  }
}

function chunkSizeBytes(chunkSize: number): Buffer {
  const bytes = Buffer.allocUnsafe(CHUNK_SIZE_BYTES);
  bytes.writeBigUInt64BE(BigInt(chunkSize));
  return bytes;
}
