// BLAKE3 with three interchangeable backends, identical digests: `native` (@napi-rs/blake-hash, Rust with
// SIMD, prebuilt per platform, ~8x faster than wasm), `wasm` (hash-wasm, the fallback wherever the native
// binary does not load) and `noble` (@noble/hashes, pure JS, the reference the tests compare against).
// Bulk chunk hashing uses loadBulkBlake3(); key derivation (keys.ts) and the file key (file-key.ts) use
// noble directly.
import { createBLAKE3 } from "hash-wasm";
import { DmfsError } from "../errors.ts";

export type Blake3Backend = "native" | "wasm" | "noble";

export const BLAKE3_BACKENDS: readonly Blake3Backend[] = ["native", "wasm", "noble"];

/**
 * Environment variable that picks the bulk backend, read once per thread when it first hashes:
 * `native` (the default: native, falling back to wasm when the binary does not load), `wasm` or `noble`.
 */
export const BLAKE3_BACKEND_ENV = "DMFS_BLAKE3";

/** Length of every digest and key this project uses. */
export const BLAKE3_BYTES = 32;

/** Synchronous BLAKE3 once loaded; each call returns a fresh 32-byte array that owns its buffer. */
export interface Blake3 {
  readonly backend: Blake3Backend;
  hash(bytes: Uint8Array): Uint8Array;
  keyedHash(key: Uint8Array, bytes: Uint8Array): Uint8Array;
}

const loaded = new Map<Blake3Backend, Promise<Blake3>>();
let bulk: Promise<Blake3> | undefined;

/**
 * Loads one backend once per thread (the wasm one compiles its module then). The native one rejects
 * when its binary does not load on this platform.
 */
export function loadBlake3(backend: Blake3Backend): Promise<Blake3> {
  let hasher = loaded.get(backend);
  if (hasher === undefined) {
    hasher = { native: createNativeBlake3, wasm: createWasmBlake3, noble: createNobleBlake3 }[backend]();
    loaded.set(backend, hasher);
  }
  return hasher;
}

/** The backend for bulk hashing: the one DMFS_BLAKE3 names, native by default, wasm if native fails. */
export function loadBulkBlake3(): Promise<Blake3> {
  bulk ??= loadPreferred(preferredBackend(process.env[BLAKE3_BACKEND_ENV]));
  return bulk;
}

export function preferredBackend(setting: string | undefined): Blake3Backend {
  if (setting === undefined || setting === "") return "native";
  if ((BLAKE3_BACKENDS as readonly string[]).includes(setting)) return setting as Blake3Backend;
  throw new DmfsError(
    "E_CONFIG",
    `${BLAKE3_BACKEND_ENV} must be one of ${BLAKE3_BACKENDS.join(", ")}, got "${setting}"`,
    { subject: BLAKE3_BACKEND_ENV },
  );
}

async function loadPreferred(backend: Blake3Backend): Promise<Blake3> {
  if (backend !== "native") return loadBlake3(backend);
  // A platform without a prebuilt binary (or a broken install) still works, at wasm speed; `dmfs status`
  // shows which backend each node runs.
  return loadBlake3("native").catch(() => loadBlake3("wasm"));
}

async function createNativeBlake3(): Promise<Blake3> {
  // The package's loader picks the binary for this platform from its optional dependencies and throws
  // when none loads; the import then rejects.
  const { blake3, Blake3Hasher } = await import("@napi-rs/blake-hash");
  // Creating a keyed hasher costs about three 4 KiB hashes, and a thread keys almost every hash with
  // the same chunk key, so the last key's hasher is kept and reset (reset keeps the key).
  let lastKey = new Uint8Array(0);
  let keyedHasher: InstanceType<typeof Blake3Hasher> | undefined;
  const hasher: Blake3 = {
    backend: "native",
    hash: (bytes) => blake3(asBuffer(bytes)),
    keyedHash: (key, bytes) => {
      assertKeyLength(key);
      if (keyedHasher === undefined || Buffer.compare(key, lastKey) !== 0) {
        lastKey = Uint8Array.from(key);
        keyedHasher = Blake3Hasher.newKeyed(Buffer.from(lastKey.buffer));
      } else {
        keyedHasher.reset();
      }
      return keyedHasher.update(asBuffer(bytes)).digestBuffer();
    },
  };
  assertMatchesReference(hasher, await loadBlake3("noble"));
  return hasher;
}

// The native functions are typed for Buffers; a Buffer view of the same memory costs no copy.
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

async function createNobleBlake3(): Promise<Blake3> {
  // Imported dynamically on purpose: worker threads started from TypeScript source can load our modules
  // only through tsx's CommonJS transform (Node 20 applies no ESM loader hooks there), which would
  // transform noble too, and noble transformed that way hashes about four times slower. A dynamic
  // import of its .js file always loads it as native ESM.
  const { blake3 } = await import("@noble/hashes/blake3.js");
  return {
    backend: "noble",
    hash: (bytes) => blake3(asBuffer(bytes)),
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
      assertKeyLength(key);
      keySlot.set(key);
      return keyed.init().update(bytes).digest("binary");
    },
  };
  assertMatchesReference(hasher, await loadBlake3("noble"));
  return hasher;
}

function assertKeyLength(key: Uint8Array): void {
  if (key.byteLength !== BLAKE3_BYTES) {
    throw new RangeError(`a BLAKE3 key is ${BLAKE3_BYTES} bytes, got ${key.byteLength}`);
  }
}

// Keys switch between calls on purpose: both fast backends reuse keyed state across keys.
function assertMatchesReference(hasher: Blake3, reference: Blake3): void {
  const probe = new TextEncoder().encode("DMFS BLAKE3 self-check");
  const agree = (a: Uint8Array, b: Uint8Array) => Buffer.compare(a, b) === 0;
  for (const fill of [1, 2, 1]) {
    const key = new Uint8Array(BLAKE3_BYTES).fill(fill);
    if (
      !agree(hasher.keyedHash(key, probe), reference.keyedHash(key, probe)) ||
      !agree(hasher.hash(probe), reference.hash(probe))
    ) {
      throw new Error(
        `the ${hasher.backend} BLAKE3 backend disagrees with @noble/hashes; this version is unusable`,
      );
    }
  }
}
