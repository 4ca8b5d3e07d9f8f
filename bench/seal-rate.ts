// Rates shared by the suites: MB/s, and how fast the crypto pool seals chunks with every thread busy.
import { randomBytes } from "node:crypto";
import type { ChunkKeys } from "../src/crypto/chunk-format.ts";
import type { CryptoPool } from "../src/workers/crypto-pool.ts";

/** Seal tasks queued per pool thread, so no thread waits for the next chunk. */
export const IN_FLIGHT_PER_THREAD = 2;

/** MB (10^6 bytes) per second. */
export function megabytesPerSecond(bytes: number, milliseconds: number): number {
  return bytes / 1e6 / (milliseconds / 1000);
}

/** Plaintext MB/s that `pool` seals in `chunkBytes` chunks, `totalBytes` in all, every thread busy. */
export async function sealRate(
  pool: CryptoPool,
  keys: ChunkKeys,
  chunkBytes: number,
  totalBytes: number,
): Promise<number> {
  const chunks = Math.ceil(totalBytes / chunkBytes);
  const template = randomBytes(chunkBytes);
  let submitted = 0;
  // Each chunk needs a fresh buffer, as seal moves it to a worker; filling it is part of the cost,
  // as reading a file into it would be.
  const lane = async () => {
    while (submitted < chunks) {
      const plaintext = Buffer.allocUnsafeSlow(chunkBytes);
      template.copy(plaintext);
      plaintext.writeUInt32LE(submitted++, 0);
      await pool.seal(keys, plaintext);
    }
  };
  const start = performance.now();
  await Promise.all(Array.from({ length: pool.threads * IN_FLIGHT_PER_THREAD }, lane));
  return megabytesPerSecond(chunks * chunkBytes, performance.now() - start);
}
