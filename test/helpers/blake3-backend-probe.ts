// Run as its own process by test/unit/blake3.test.ts: reports which BLAKE3 backend this process and its
// crypto pool's threads chose under the environment it was given, and whether their digests are right.
import { blake3 } from "@noble/hashes/blake3.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import { loadBlake3, loadBulkBlake3 } from "../../src/crypto/blake3.ts";
import { deriveKeys } from "../../src/crypto/keys.ts";
import { CryptoPool, INLINE_HASH_MAX_BYTES } from "../../src/workers/crypto-pool.ts";

const keys = deriveKeys(new Uint8Array(32).fill(7));
const plaintext = Uint8Array.from({ length: 300_000 }, (_, i) => (i * 7) % 256);
const small = plaintext.slice(0, INLINE_HASH_MAX_BYTES);
const large = plaintext.slice(0, INLINE_HASH_MAX_BYTES + 1);

// The wasm threshold for every backend, so `large` goes through a thread whichever backend loads.
const pool = new CryptoPool({ threads: 1, inlineHashMaxBytes: INLINE_HASH_MAX_BYTES });
try {
  const bulk = (await loadBulkBlake3()).backend;
  const nativeLoads = await loadBlake3("native").then(
    () => true,
    () => false,
  );
  const sealed = await pool.seal(keys, plaintext.slice());
  const pooledHash = await pool.hash(large.slice());
  const inlineHash = await pool.hash(small.slice());
  const report = {
    bulk,
    pool: await pool.backend(),
    nativeLoads,
    pooledIdsMatchNoble:
      bytesToHex(sealed.h) === bytesToHex(blake3(plaintext, { key: keys.chunk })) &&
      sealed.chunkId === bytesToHex(blake3(sealed.stored)) &&
      pooledHash.id === bytesToHex(blake3(large)),
    inlineIdMatchesNoble: inlineHash.id === bytesToHex(blake3(small)),
  };
  process.stdout.write(`${JSON.stringify(report)}\n`);
} finally {
  await pool.destroy();
}
