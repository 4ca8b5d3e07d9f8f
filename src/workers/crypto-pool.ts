// Worker threads for bulk crypto: every chunk is sealed, opened and hashed here (piscina pool running
// crypto-worker), so the main thread stays free for sockets and disk. Buffers move between threads
// by transfer, never by copy: a buffer handed to the pool is detached from the caller. Tasks beyond
// what the threads can start soon wait in a FifoGate, in order, before they reach piscina's queue.
import { availableParallelism } from "node:os";
import { extname } from "node:path";
import { setFlagsFromString } from "node:v8";
import { Piscina } from "piscina";
import {
  BLAKE3_BACKEND_ENV,
  type Blake3,
  type Blake3Backend,
  loadBlake3,
  loadBulkBlake3,
  preferredBackend,
} from "../crypto/blake3.ts";
import { type ChunkKeys, chunkIdOf, type SealedChunk } from "../crypto/chunk-format.ts";
import { type CryptoTask, type CryptoWorkerData, deserializeError, transferable } from "./crypto-task.ts";
import { FifoGate } from "./fifo-gate.ts";

export type CryptoPoolOptions = {
  /** Worker threads, started up front; defaults to os.availableParallelism(). */
  threads?: number;
  /** BLAKE3 backend for bulk hashing; defaults to the fastest that loads (loadBulkBlake3, DMFS_BLAKE3). */
  backend?: Blake3Backend;
  /** Tasks handed to the threads at once (running or queued in piscina); defaults to two per thread. */
  maxTasks?: number;
  /**
   * V8 flags (process-wide) each thread sets again once it runs. Making a thread's heap resets some of
   * them for the whole process - V8 raises --semi-space-growth-factor back to 2 for every new heap - so
   * a process that set one before starting the pool would lose it (src/cli/garbage-collection.ts).
   */
  v8Flags?: string[];
  /** Hashes up to this many bytes run on the calling thread; defaults to inlineHashMaxBytes(backend). */
  inlineHashMaxBytes?: number;
};

export type TransferOptions = {
  /**
   * The caller owns the whole ArrayBuffer behind the view - nothing else it will read lives there, as
   * with a binary field of a decoded frame, whose body buffer is the message's own. The whole buffer is
   * then transferred with the view's offset kept, instead of copying a partial view first: on a node,
   * that saves a 1 MiB copy per chunk received.
   */
  ownsBuffer?: boolean;
};

function movable(view: Uint8Array, opts: TransferOptions): Uint8Array<ArrayBuffer> {
  return opts.ownsBuffer && view.buffer instanceof ArrayBuffer
    ? (view as Uint8Array<ArrayBuffer>)
    : transferable(view);
}

/**
 * Blobs up to this size are hashed on the calling thread with the wasm backend. A task's round trip
 * through the pool costs about 0.1 ms of CPU across the two threads (messages, wake-ups) while BLAKE3
 * (WASM) of 4 KiB takes 5 microseconds; a small file's chunk and manifest are verified on three nodes, so
 * sending those to the pool cost a tenth of a small upload's CPU (docs/performance.md). A 64 KiB hash
 * takes ~80 microseconds, short enough not to hold up the thread's sockets.
 */
export const INLINE_HASH_MAX_BYTES = 64 * 1024;

/**
 * The same with the native backend, which hashes 1 MiB in ~0.4 ms: up to a chunk of the default size
 * (1 MiB plus its header) a hash costs less CPU on the calling thread than the pool's round trip -
 * 1.3-2.0 ms against 1.8-2.3 ms per received 1 MiB chunk, 0.45-0.62 against 0.60-0.63 ms at 256 KiB
 * (`npm run bench -- pool`, hash-inline and hash-pool, at load 9-10). At 4 MiB the pool costs less
 * (5.9-6.8 against 8.4-10.3 ms: a buffer that large left on this thread costs its garbage collector
 * more), and one hash would hold up the sockets for longer, so larger chunks still go to the pool.
 */
export const NATIVE_INLINE_HASH_MAX_BYTES = 2 * 1024 * 1024;

export function inlineHashMaxBytes(backend: Blake3Backend): number {
  return backend === "native" ? NATIVE_INLINE_HASH_MAX_BYTES : INLINE_HASH_MAX_BYTES;
}

export class CryptoPool {
  readonly #pool: Piscina<CryptoTask, unknown>;
  readonly #threads: number;
  readonly #backend: Blake3Backend | undefined;
  readonly #gate: FifoGate;
  readonly #inlineHashMaxBytes: number | undefined;
  #destroyed = false;

  constructor(opts: CryptoPoolOptions = {}) {
    this.#threads = opts.threads ?? availableParallelism();
    this.#backend = opts.backend;
    this.#inlineHashMaxBytes = opts.inlineHashMaxBytes;
    // A bad DMFS_BLAKE3 fails here, with E_CONFIG, before any thread starts and keeps the process alive.
    if (opts.backend === undefined) preferredBackend(process.env[BLAKE3_BACKEND_ENV]);
    // Two per thread keep every thread busy (one runs, one is ready); the rest wait in the gate.
    this.#gate = new FifoGate(opts.maxTasks ?? 2 * this.#threads);
    // Threads read V8's flags when they start: this gives them `gc`, which they use to free the chunk
    // buffers they drop (dead-buffer-sweeper.ts). It adds a global to contexts created from now on only.
    setFlagsFromString("--expose-gc");
    const workerData: CryptoWorkerData = { backend: this.#backend, v8Flags: opts.v8Flags ?? [] };
    this.#pool = new Piscina({
      ...workerThreadSource(),
      minThreads: this.#threads,
      maxThreads: this.#threads,
      workerData,
    });
    // Piscina reports a reply that arrives for a task it no longer tracks (one finishing after destroy)
    // as an 'error' event; unheard, that would crash the process. Every task's own failure reaches its
    // caller anyway, so after destroy such an event is dropped, and before it only warned about.
    this.#pool.on("error", (err: Error) => {
      if (!this.#destroyed) process.emitWarning(err);
    });
  }

  get threads(): number {
    return this.#threads;
  }

  /** The BLAKE3 backend one of the pool's threads hashes with (they all make the same choice). */
  backend(): Promise<Blake3Backend> {
    return this.#run({ op: "backend" }, []);
  }

  /**
   * Encrypts one chunk. `plaintext` is transferred to the worker and is detached (empty) afterwards,
   * unless it is a partial view of a larger buffer, which is copied once instead; the result hands it
   * back as `plaintext`, so its memory can hold the next chunk. `into`, a buffer whose contents are no
   * longer needed, is transferred too and receives the stored bytes when it is exactly their length.
   */
  seal(
    keys: ChunkKeys,
    plaintext: Uint8Array,
    into?: Uint8Array<ArrayBuffer>,
  ): Promise<SealedChunk & { plaintext: Uint8Array<ArrayBuffer> }> {
    const moved = transferable(plaintext);
    const task: CryptoTask = { op: "seal", keys: { chunk: keys.chunk, enc: keys.enc }, plaintext: moved };
    if (into === undefined || into.buffer === moved.buffer) return this.#run(task, [moved]);
    return this.#run({ ...task, into }, [moved, into]);
  }

  /**
   * Verifies and decrypts one stored chunk (transferred like `seal`'s plaintext); `h` feeds the file key.
   * `into`, a buffer whose contents are no longer needed, is transferred too and comes back as the
   * plaintext when it is exactly its length, so a reader can reuse its buffers like an upload does.
   */
  open(
    keys: ChunkKeys,
    stored: Uint8Array,
    chunkId: string,
    opts: TransferOptions & { into?: Uint8Array<ArrayBuffer> | undefined } = {},
  ): Promise<{ plaintext: Uint8Array<ArrayBuffer>; h: Uint8Array }> {
    const moved = movable(stored, opts);
    const task: CryptoTask = {
      op: "open",
      keys: { chunk: keys.chunk, enc: keys.enc },
      stored: moved,
      chunkId,
    };
    const { into } = opts;
    if (into === undefined || into.buffer === moved.buffer) return this.#run(task, [moved]);
    return this.#run({ ...task, into }, [moved, into]);
  }

  /**
   * Unkeyed BLAKE3 as a 64-char hex id; the bytes travel to the worker and come back in `bytes`. Up to
   * inlineHashMaxBytes(backend) they are hashed here instead, and `bytes` is the caller's own view.
   */
  async hash(
    bytes: Uint8Array,
    opts: TransferOptions = {},
  ): Promise<{ id: string; bytes: Uint8Array<ArrayBuffer> }> {
    if (bytes.buffer instanceof ArrayBuffer) {
      const hasher = await this.#hasher();
      if (bytes.byteLength <= (this.#inlineHashMaxBytes ?? inlineHashMaxBytes(hasher.backend))) {
        return { id: chunkIdOf(hasher, bytes), bytes: bytes as Uint8Array<ArrayBuffer> };
      }
    }
    const moved = movable(bytes, opts);
    return this.#run({ op: "hash", bytes: moved }, [moved]);
  }

  destroy(): Promise<void> {
    this.#destroyed = true;
    return this.#pool.destroy();
  }

  #hasher(): Promise<Blake3> {
    return this.#backend === undefined ? loadBulkBlake3() : loadBlake3(this.#backend);
  }

  async #run<Result>(task: CryptoTask, moved: Uint8Array<ArrayBuffer>[]): Promise<Result> {
    try {
      return (await this.#gate.run(() =>
        this.#pool.run(task, { transferList: moved.map((view) => view.buffer) }),
      )) as Result;
    } catch (err) {
      throw deserializeError(err);
    }
  }
}

/**
 * The worker entry sits beside this module with the same extension: crypto-worker.ts when running
 * from source (vitest, tsx), crypto-worker.js in dist/. Node 20 cannot load TypeScript by itself, so
 * threads started from source load tsx first, resolved from here so the working directory does not matter.
 */
function workerThreadSource(): { filename: string; execArgv?: string[] } {
  const extension = extname(new URL(import.meta.url).pathname);
  const filename = new URL(`./crypto-worker${extension}`, import.meta.url).href;
  if (extension !== ".ts") return { filename };
  return { filename, execArgv: ["--import", import.meta.resolve("tsx")] };
}
