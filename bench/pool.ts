// Suite "pool": how fast the crypto pool seals chunks, per BLAKE3 backend, thread count and chunk size,
// next to the single-thread limits of a seal's parts (raw AES-256-GCM, raw BLAKE3) measured on the main
// thread in the same run. bench/README.md explains every figure.
import { createCipheriv, randomBytes } from "node:crypto";
import { availableParallelism } from "node:os";
import { BLAKE3_BACKENDS, type Blake3Backend, loadBlake3 } from "../src/crypto/blake3.ts";
import type { ChunkKeys } from "../src/crypto/chunk-format.ts";
import { deriveKeys } from "../src/crypto/keys.ts";
import { CryptoPool } from "../src/workers/crypto-pool.ts";
import type { BenchRecord, BenchSuite } from "./index.ts";
import { IN_FLIGHT_PER_THREAD, megabytesPerSecond, sealRate } from "./seal-rate.ts";

const KiB = 1024;
const MiB = 1024 * KiB;
const CHUNK_SIZES = [256 * KiB, MiB, 4 * MiB];
// Data per case: enough for a steady rate, little enough that the suite ends in a minute or two.
// noble is over ten times slower than wasm, so it gets an eighth of the data; native about eight times
// faster, so it gets twice as much (AES then bounds its seals).
const BYTES_PER_CASE: Record<Blake3Backend, number> = { native: 512 * MiB, wasm: 256 * MiB, noble: 32 * MiB };
const AES_BYTES_PER_CASE = 256 * MiB;
/** Sizes and bytes per case of the hash placement cases: a small file's chunk up to a large chunk. */
const HASH_SIZES = [4 * KiB, 64 * KiB, 256 * KiB, MiB, 4 * MiB];
const HASH_BYTES_PER_CASE = 128 * MiB;
// Tasks queued per thread: one running, one waiting, so no thread idles between tasks.

type PoolCase = "seal" | "raw-aes-gcm" | "raw-blake3" | "hash-inline" | "hash-pool";

export const poolSuite: BenchSuite = {
  columns: [
    { field: "case", title: "case" },
    { field: "backend", title: "backend" },
    { field: "threads", title: "threads" },
    { field: "chunkBytes", title: "chunk", format: (bytes) => `${Number(bytes) / KiB} KiB` },
    { field: "MBps", title: "MB/s", format: (rate) => Number(rate).toFixed(1) },
    {
      field: "cpuUsPerOp",
      title: "CPU us/op",
      format: (us) => (us === undefined ? "" : Number(us).toFixed(0)),
    },
  ],
  run: runPoolSuite,
};

async function runPoolSuite(report: (record: BenchRecord) => void): Promise<void> {
  const keys = deriveKeys(randomBytes(32));
  for (const chunkBytes of CHUNK_SIZES) {
    report(poolRecord("raw-aes-gcm", null, 1, chunkBytes, rawAesGcmRate(keys.enc, chunkBytes)));
    for (const backend of BLAKE3_BACKENDS) {
      report(poolRecord("raw-blake3", backend, 1, chunkBytes, await rawBlake3Rate(backend, chunkBytes)));
    }
  }
  await measureHashPlacement(report);
  for (const backend of BLAKE3_BACKENDS) {
    for (let threads = 1; threads <= availableParallelism(); threads++) {
      const pool = new CryptoPool({ threads, backend });
      try {
        await warmUp(pool, keys);
        for (const chunkBytes of CHUNK_SIZES) {
          const rate = await sealRate(pool, keys, chunkBytes, BYTES_PER_CASE[backend]);
          report(poolRecord("seal", backend, threads, chunkBytes, rate));
        }
      } finally {
        await pool.destroy();
      }
    }
  }
}

function poolRecord(
  benchCase: PoolCase,
  backend: Blake3Backend | null,
  threads: number,
  chunkBytes: number,
  MBps: number,
): BenchRecord {
  return { suite: "pool", case: benchCase, backend, threads, chunkBytes, MBps: Math.round(MBps * 10) / 10 };
}

/** Plaintext MB (10^6 bytes) sealed per second, with every thread kept busy. */

// Starts every thread and warms its hashing code before anything is timed.
async function warmUp(pool: CryptoPool, keys: ChunkKeys): Promise<void> {
  const tasks = Array.from({ length: pool.threads * IN_FLIGHT_PER_THREAD * 4 }, () =>
    pool.seal(keys, randomBytes(256 * KiB)),
  );
  await Promise.all(tasks);
}

function rawAesGcmRate(key: Uint8Array, chunkBytes: number): number {
  const chunk = randomBytes(chunkBytes);
  const nonce = randomBytes(12);
  return timedLoop(Math.ceil(AES_BYTES_PER_CASE / chunkBytes), chunkBytes, () => {
    const cipher = createCipheriv("aes-256-gcm", key, nonce);
    cipher.update(chunk);
    cipher.final();
    cipher.getAuthTag();
  });
}

async function rawBlake3Rate(backend: Blake3Backend, chunkBytes: number): Promise<number> {
  const hasher = await loadBlake3(backend);
  const chunk = randomBytes(chunkBytes);
  return timedLoop(Math.ceil(BYTES_PER_CASE[backend] / chunkBytes), chunkBytes, () => hasher.hash(chunk));
}

function timedLoop(iterations: number, bytesPerIteration: number, work: () => void): number {
  for (let i = 0; i < Math.min(3, iterations); i++) work();
  const start = performance.now();
  for (let i = 0; i < iterations; i++) work();
  return megabytesPerSecond(iterations * bytesPerIteration, performance.now() - start);
}

/**
 * What a node pays to check a received chunk's id, one chunk at a time as it arrives: hashed on the
 * calling thread (`hash-inline`) or handed to a pool thread and back (`hash-pool`), per backend and size.
 * Each chunk is a fresh buffer filled from a received-looking source, as a frame body is; `cpuUsPerOp`
 * is the CPU of the whole process (every thread) per hash, which is what sets `inlineHashMaxBytes`.
 */
async function measureHashPlacement(report: (record: BenchRecord) => void): Promise<void> {
  const source = randomBytes(Math.max(...HASH_SIZES));
  for (const backend of ["native", "wasm"] as const) {
    for (const [benchCase, inlineHashMaxBytes] of [
      ["hash-inline", Number.POSITIVE_INFINITY],
      ["hash-pool", -1],
    ] as const) {
      const pool = new CryptoPool({ threads: 1, backend, inlineHashMaxBytes });
      try {
        for (let i = 0; i < 8; i++) await pool.hash(source.subarray(0, MiB).slice());
        for (const size of HASH_SIZES) {
          const ops = Math.max(16, Math.min(256, Math.floor(HASH_BYTES_PER_CASE / size)));
          const cpuBefore = process.cpuUsage();
          const start = performance.now();
          for (let i = 0; i < ops; i++) {
            const received = new Uint8Array(size);
            received.set(source.subarray(0, size));
            await pool.hash(received, { ownsBuffer: true });
          }
          const milliseconds = performance.now() - start;
          const cpu = process.cpuUsage(cpuBefore);
          report({
            ...poolRecord(benchCase, backend, 1, size, megabytesPerSecond(ops * size, milliseconds)),
            cpuUsPerOp: Math.round((cpu.user + cpu.system) / ops),
          });
        }
      } finally {
        await pool.destroy();
      }
    }
  }
}
