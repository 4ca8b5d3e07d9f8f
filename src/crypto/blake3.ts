// BLAKE3 with two interchangeable backends: `noble` (@noble/hashes, pure JS, the reference) and `wasm`
// (hash-wasm, about ten times faster, for bulk chunk hashing in the worker pool). Both give identical
// digests. Key derivation (keys.ts) and the file key (file-key.ts) use noble directly.
import { createBLAKE3 } from "hash-wasm";

export type Blake3Backend = "wasm" | "noble";

export const BLAKE3_BACKENDS: readonly Blake3Backend[] = ["wasm", "noble"];

/** Length of every digest and key this project uses. */
export const BLAKE3_BYTES = 32;

/** Synchronous BLAKE3 once loaded; each call returns a fresh 32-byte array that owns its buffer. */
export interface Blake3 {
  readonly backend: Blake3Backend;
  hash(bytes: Uint8Array): Uint8Array;
  keyedHash(key: Uint8Array, bytes: Uint8Array): Uint8Array;
}

const loaded = new Map<Blake3Backend, Promise<Blake3>>();

/** Loads a backend once per thread (the wasm one compiles and instantiates its module then). */
export function loadBlake3(backend: Blake3Backend): Promise<Blake3> {
  let hasher = loaded.get(backend);
  if (hasher === undefined) {
    hasher = backend === "noble" ? createNobleBlake3() : createWasmBlake3();
    loaded.set(backend, hasher);
  }
  return hasher;
}

async function createNobleBlake3(): Promise<Blake3> {
  // Imported dynamically on purpose: worker threads started from TypeScript source can load our modules
  // only through tsx's CommonJS transform (Node 20 applies no ESM loader hooks there), which would
  // transform noble too, and noble transformed that way hashes about four times slower. A dynamic
  // import of its .js file always loads it as native ESM.
  const { blake3 } = await import("@noble/hashes/blake3.js");
  return {
    backend: "noble",
    hash: (bytes) => blake3(bytes),
    keyedHash: (key, bytes) => blake3(bytes, { key }),
  };
}

async function createWasmBlake3(): Promise<Blake3> {
  const plain = await createBLAKE3();
  // hash-wasm fixes the key when a hasher is created, and creating one is async, which a sync
  // `keyedHash(anyKey)` cannot wait for. Its keyed hasher keeps a view of the key array it was given
  // and re-reads it on every init(), so one hasher serves every key: write the key into that array,
  // then init(). The self-check below refuses to run if a hash-wasm release ever stops doing this.
  const keySlot = new Uint8Array(BLAKE3_BYTES);
  const keyed = await createBLAKE3(BLAKE3_BYTES * 8, keySlot);
  const hasher: Blake3 = {
    backend: "wasm",
    hash: (bytes) => plain.init().update(bytes).digest("binary"),
    keyedHash: (key, bytes) => {
      if (key.byteLength !== BLAKE3_BYTES) {
        throw new RangeError(`a BLAKE3 key is ${BLAKE3_BYTES} bytes, got ${key.byteLength}`);
      }
      keySlot.set(key);
      return keyed.init().update(bytes).digest("binary");
    },
  };
  assertMatchesReference(hasher, await loadBlake3("noble"));
  return hasher;
}

function assertMatchesReference(hasher: Blake3, reference: Blake3): void {
  const probe = new TextEncoder().encode("DMFS wasm BLAKE3 self-check");
  for (const fill of [1, 2]) {
    const key = new Uint8Array(BLAKE3_BYTES).fill(fill);
    if (Buffer.compare(hasher.keyedHash(key, probe), reference.keyedHash(key, probe)) !== 0) {
      throw new Error(
        "hash-wasm's keyed BLAKE3 disagrees with @noble/hashes; this hash-wasm version is unusable",
      );
    }
  }
}
