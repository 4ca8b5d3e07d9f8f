// The node's content-addressed chunk store: immutable blobs at <root>/chunks/<id[0..2]>/<id>, where id
// is the lowercase hex BLAKE3 of the bytes. The 256 shard directories are made when the store opens, so
// a put never creates a directory. Writes go temp file -> fsync -> rename -> fsync the shard, so a crash
// leaves either no chunk or a whole one; file-system failures come back as DmfsError with the path.
import { randomBytes } from "node:crypto";
import { mkdir, open, opendir, readdir, rename, rm, rmdir, stat, statfs, utimes } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { DmfsError } from "../errors.ts";
import type { DiskReserve } from "./disk-reserve.ts";
import { errnoOf, storeError } from "./store-errors.ts";

const CHUNK_ID = /^[0-9a-f]{64}$/;
const SHARD_NAME = /^[0-9a-f]{2}$/;
const SHARD_NAMES = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/**
 * Hashes chunk bytes to lowercase hex BLAKE3. It must leave `bytes` usable afterwards (no transfer to a
 * worker): callers that want zero-copy hashing use `getUnverified` or `put(..., { verified: true })`.
 */
export type ChunkHasher = (bytes: Uint8Array) => Promise<string>;

export interface ChunkStoreStats {
  chunks: number;
  bytes: number;
  /** Bytes available to this process on the store's file system. */
  diskFree: number;
}

export function isChunkId(id: unknown): id is string {
  return typeof id === "string" && CHUNK_ID.test(id);
}

function assertChunkId(id: string): void {
  if (isChunkId(id)) return;
  const shown = JSON.stringify(String(id).slice(0, 80));
  throw new DmfsError("E_INVALID_ID", `invalid chunk id ${shown}: expected 64 lowercase hex characters`, {
    subject: String(id),
  });
}

export class ChunkStore {
  readonly root: string;
  readonly #chunksDir: string;
  readonly #tmpDir: string;
  readonly #quarantineDir: string;
  readonly #hash: ChunkHasher;
  readonly #reserve: DiskReserve | undefined;
  #chunkCount = 0;
  #byteCount = 0;
  /** Tail of the queue of mutations per chunk id, so concurrent put/delete of one id never interleave. */
  readonly #idQueues = new Map<string, Promise<void>>();

  private constructor(root: string, hash: ChunkHasher, reserve: DiskReserve | undefined) {
    this.root = root;
    this.#chunksDir = join(root, "chunks");
    this.#tmpDir = join(root, "tmp");
    this.#quarantineDir = join(root, "quarantine");
    this.#hash = hash;
    this.#reserve = reserve;
  }

  /**
   * Opens (creating if needed) the store at `root`, discards half-written temp files, counts chunks.
   * With a `reserve`, a put that would write a new copy below it is refused with E_DISK_FULL.
   */
  static async open(root: string, opts: { hash: ChunkHasher; reserve?: DiskReserve }): Promise<ChunkStore> {
    const store = new ChunkStore(resolve(root), opts.hash, opts.reserve);
    await createDirsDurably(store.#chunksDir);
    await mkdir(store.#tmpDir, { recursive: true }).catch((err: unknown) => {
      throw storeError(err, "create chunk store directory", store.#tmpDir);
    });
    await store.#removeTempLeftovers();
    await store.#createShards();
    await store.#countChunks();
    return store;
  }

  /** Where the chunk with this id lives (whether or not it is stored). */
  pathOf(id: string): string {
    assertChunkId(id);
    return join(this.#chunksDir, id.slice(0, 2), id);
  }

  /**
   * Stores `bytes` under `id`. Verifies BLAKE3(bytes) == id unless the caller already did (`verified`).
   * "stored" means the chunk is now durably on disk. An existing copy counts only once checked: it is
   * left as it is when it equals `bytes` ("existed"); a copy that rotted is quarantined and rewritten
   * ("replaced"), so a write quorum never counts a bad copy.
   */
  async put(
    id: string,
    bytes: Uint8Array,
    opts: { verified?: boolean } = {},
  ): Promise<"stored" | "existed" | "replaced"> {
    const path = this.pathOf(id);
    if (opts.verified !== true) {
      const actual = await this.#hash(bytes);
      if (actual !== id) {
        throw new DmfsError(
          "E_CHUNK_CORRUPT",
          `chunk bytes do not match id ${id} (they hash to ${actual}); nothing was stored`,
          { subject: id },
        );
      }
    }
    return this.#serialized(id, async () => {
      const existing = await this.#sizeOf(path);
      if (existing === undefined) {
        await this.#writeWithinReserve(path, bytes);
        return "stored";
      }
      // `bytes` hash to `id`, so a byte-equal copy is good: a compare, cheaper than hashing it again.
      // Its mtime is renewed: a write of it (an upload, repair) holds it against garbage collection.
      if (existing === bytes.byteLength && equalBytes(await this.getUnverified(id), bytes)) {
        await this.#touchFile(path);
        return "existed";
      }
      const release = await this.#reserve?.claim(bytes.byteLength);
      try {
        await this.#quarantineFile(id, path, existing);
        await this.#writeDurably(path, bytes);
      } finally {
        release?.();
      }
      return "replaced";
    });
  }

  /** Reads the chunk and checks its bytes still hash to `id`; a mismatch is E_CHUNK_CORRUPT naming the file. */
  async get(id: string): Promise<Uint8Array<ArrayBuffer>> {
    const bytes = await this.getUnverified(id);
    if ((await this.#hash(bytes)) !== id) {
      const path = this.pathOf(id);
      throw new DmfsError("E_CHUNK_CORRUPT", `chunk file ${path} is corrupt: its bytes do not match its id`, {
        subject: path,
      });
    }
    return bytes;
  }

  /**
   * Reads the chunk without checking it, for callers that verify in the worker pool. The result owns its
   * whole ArrayBuffer, so it can be transferred.
   */
  async getUnverified(id: string): Promise<Uint8Array<ArrayBuffer>> {
    const path = this.pathOf(id);
    const handle = await open(path, "r").catch((err: unknown) => {
      if (errnoOf(err) === "ENOENT") throw notFound(id);
      throw storeError(err, "open chunk file", path);
    });
    try {
      const { size } = await handle.stat();
      const bytes = new Uint8Array(size);
      let filled = 0;
      while (filled < size) {
        const { bytesRead } = await handle.read(bytes, filled, size - filled, filled);
        if (bytesRead === 0) break;
        filled += bytesRead;
      }
      // A file that shrank under us is returned as read; verification will reject it.
      return filled === size ? bytes : bytes.slice(0, filled);
    } catch (err) {
      throw storeError(err, "read chunk file", path);
    } finally {
      await handle.close();
    }
  }

  async has(id: string): Promise<boolean> {
    return (await this.#sizeOf(this.pathOf(id))) !== undefined;
  }

  /** Removes the chunk; false when it was not stored. */
  async delete(id: string): Promise<boolean> {
    const path = this.pathOf(id);
    return this.#serialized(id, async () => {
      const size = await this.#sizeOf(path);
      if (size === undefined) return false;
      // No directory fsync: a delete lost in a crash only brings back an unreferenced chunk, which
      // garbage collection deletes again.
      try {
        await rm(path);
      } catch (err) {
        if (errnoOf(err) === "ENOENT") return false;
        throw storeError(err, "delete chunk file", path);
      }
      this.#forget(size);
      return true;
    });
  }

  /**
   * Removes the chunk only if its file was last written (or touched) before `cutoffMs`, checked under the
   * chunk's lock so a concurrent put or touch wins; the bytes freed, 0 when it was younger or absent.
   */
  async deleteIfOlderThan(id: string, cutoffMs: number): Promise<number> {
    const path = this.pathOf(id);
    return this.#serialized(id, async () => {
      const info = await this.#infoOf(path);
      if (info === undefined || info.mtimeMs >= cutoffMs) return 0;
      // No directory fsync: a delete lost in a crash only brings back an unreferenced chunk.
      try {
        await rm(path);
      } catch (err) {
        if (errnoOf(err) === "ENOENT") return 0;
        throw storeError(err, "delete chunk file", path);
      }
      this.#forget(info.size);
      return info.size;
    });
  }

  /** Size and last write (or touch) time of a stored chunk; undefined when it is not stored. */
  async info(id: string): Promise<{ size: number; mtimeMs: number } | undefined> {
    return this.#infoOf(this.pathOf(id));
  }

  /** Renews the chunk's mtime (an upload in progress holding it); false when it is not stored. */
  async touch(id: string): Promise<boolean> {
    const path = this.pathOf(id);
    return this.#serialized(id, async () => {
      if ((await this.#sizeOf(path)) === undefined) return false;
      await this.#touchFile(path);
      return true;
    });
  }

  async #touchFile(path: string): Promise<void> {
    const now = new Date();
    await utimes(path, now, now).catch((err: unknown) => {
      throw storeError(err, "renew chunk file", path);
    });
  }

  /** Moves a corrupt copy out of the store into <root>/quarantine/ so it can be inspected later. */
  async quarantine(id: string): Promise<void> {
    const path = this.pathOf(id);
    await this.#serialized(id, async () => {
      const size = await this.#sizeOf(path);
      if (size === undefined) throw notFound(id);
      await this.#quarantineFile(id, path, size);
    });
  }

  /** The body of `quarantine`, for callers already serialized on `id`. */
  async #quarantineFile(id: string, path: string, size: number): Promise<void> {
    await mkdir(this.#quarantineDir, { recursive: true }).catch((err: unknown) => {
      throw storeError(err, "create quarantine directory", this.#quarantineDir);
    });
    // Suffixed so a chunk quarantined twice keeps both copies; such names are never taken for chunks.
    const target = join(this.#quarantineDir, `${id}.${Date.now()}.${randomBytes(4).toString("hex")}`);
    await rename(path, target).catch((err: unknown) => {
      if (errnoOf(err) === "ENOENT") throw notFound(id);
      throw storeError(err, "quarantine chunk file", path);
    });
    this.#forget(size);
  }

  /** Every stored chunk id, read directory by directory so memory does not grow with the store. */
  async *list(): AsyncIterable<string> {
    for await (const { id } of this.#walk()) yield id;
  }

  async stats(): Promise<ChunkStoreStats> {
    const fsStats = await statfs(this.root).catch((err: unknown) => {
      throw storeError(err, "read free space of", this.root);
    });
    return { chunks: this.#chunkCount, bytes: this.#byteCount, diskFree: fsStats.bavail * fsStats.bsize };
  }

  /** A new copy takes disk space: it is written only if the reserve has room for it. */
  async #writeWithinReserve(path: string, bytes: Uint8Array): Promise<void> {
    const release = await this.#reserve?.claim(bytes.byteLength);
    try {
      await this.#writeDurably(path, bytes);
    } finally {
      release?.();
    }
  }

  async #writeDurably(path: string, bytes: Uint8Array): Promise<void> {
    const tmpPath = join(this.#tmpDir, randomBytes(12).toString("hex"));
    let step = { operation: "write chunk file", path: tmpPath };
    try {
      const handle = await open(tmpPath, "wx");
      try {
        await handle.writeFile(bytes);
        await handle.sync();
      } finally {
        await handle.close();
      }
      step = { operation: "move chunk file into place at", path };
      await rename(tmpPath, path).catch(async (err: unknown) => {
        // The shard was removed from outside since the store opened: make it again.
        if (errnoOf(err) !== "ENOENT") throw err;
        step = { operation: "create chunk directory", path: dirname(path) };
        await createDirDurably(dirname(path));
        step = { operation: "move chunk file into place at", path };
        await rename(tmpPath, path);
      });
    } catch (err) {
      // The original failure is what the caller needs; a temp file we cannot remove goes at the next open.
      await rm(tmpPath, { force: true }).catch(() => {});
      throw storeError(err, step.operation, step.path);
    }
    this.#chunkCount += 1;
    this.#byteCount += bytes.byteLength;
    await syncDir(dirname(path));
  }

  #serialized<T>(id: string, task: () => Promise<T>): Promise<T> {
    const previous = this.#idQueues.get(id) ?? Promise.resolve();
    const result = previous.then(task);
    const tail = result.then(
      () => {},
      () => {},
    );
    this.#idQueues.set(id, tail);
    void tail.then(() => {
      if (this.#idQueues.get(id) === tail) this.#idQueues.delete(id);
    });
    return result;
  }

  async #infoOf(path: string): Promise<{ size: number; mtimeMs: number } | undefined> {
    try {
      const info = await stat(path);
      return info.isFile() ? { size: info.size, mtimeMs: info.mtimeMs } : undefined;
    } catch (err) {
      if (errnoOf(err) === "ENOENT") return undefined;
      throw storeError(err, "look up chunk file", path);
    }
  }

  /** The chunk file's size, or undefined when it is not there. */
  async #sizeOf(path: string): Promise<number | undefined> {
    try {
      const info = await stat(path);
      return info.isFile() ? info.size : undefined;
    } catch (err) {
      if (errnoOf(err) === "ENOENT") return undefined;
      throw storeError(err, "look up chunk file", path);
    }
  }

  #forget(size: number): void {
    this.#chunkCount -= 1;
    this.#byteCount -= size;
  }

  /** Temp files are chunks whose put never finished: never trusted, always removed. */
  async #removeTempLeftovers(): Promise<void> {
    const names = await readdir(this.#tmpDir).catch((err: unknown) => {
      throw storeError(err, "read temp directory", this.#tmpDir);
    });
    for (const name of names) {
      const path = join(this.#tmpDir, name);
      await rm(path, { recursive: true, force: true }).catch((err: unknown) => {
        throw storeError(err, "remove leftover temp file", path);
      });
    }
  }

  /**
   * Counts the chunks and their bytes in one pass over the store. Chunks still in the layout used
   * before 2026-11-25 (chunks/<id[0..2]>/<id[2..4]>/<id>) are moved up into their shard and counted too.
   */
  async #countChunks(): Promise<void> {
    const oldDirs: { shard: string; inner: string }[] = [];
    for await (const { path } of this.#walk((shard, inner) => oldDirs.push({ shard, inner }))) {
      await this.#count(path);
    }
    for (const { shard, inner } of oldDirs) {
      for (const path of await this.#moveUp(shard, inner)) await this.#count(path);
    }
  }

  async #count(path: string): Promise<void> {
    const size = await this.#sizeOf(path);
    if (size === undefined) return;
    this.#chunkCount += 1;
    this.#byteCount += size;
  }

  /**
   * Files under chunks/ whose name is a chunk id in its own shard; anything else there is ignored, but a
   * shard-named directory inside a shard (the old layout) is reported to `onInnerDir`.
   */
  async *#walk(
    onInnerDir?: (shard: string, inner: string) => void,
  ): AsyncGenerator<{ id: string; path: string }> {
    for await (const shard of await openDir(this.#chunksDir)) {
      if (!shard.isDirectory() || !SHARD_NAME.test(shard.name)) continue;
      const shardPath = join(this.#chunksDir, shard.name);
      for await (const entry of await openDir(shardPath)) {
        if (entry.isFile() && isChunkId(entry.name) && entry.name.startsWith(shard.name)) {
          yield { id: entry.name, path: join(shardPath, entry.name) };
        } else if (entry.isDirectory() && SHARD_NAME.test(entry.name)) {
          onInnerDir?.(shard.name, entry.name);
        }
      }
    }
  }

  /** Makes every shard directory that is missing, each made durable in chunks/. */
  async #createShards(): Promise<void> {
    const present = new Set(await readDir(this.#chunksDir));
    let created = false;
    for (const name of SHARD_NAMES) {
      if (present.has(name)) continue;
      const dir = join(this.#chunksDir, name);
      await mkdir(dir).catch((err: unknown) => {
        if (errnoOf(err) !== "EEXIST") throw storeError(err, "create chunk directory", dir);
      });
      created = true;
    }
    if (created) await syncDir(this.#chunksDir);
  }

  /**
   * Moves the chunks of old-layout directory chunks/<shard>/<inner>/ up into their shard (rename, then
   * fsync the shard) and removes the directory if that emptied it; the moved chunks' new paths.
   */
  async #moveUp(shard: string, inner: string): Promise<string[]> {
    const shardPath = join(this.#chunksDir, shard);
    const innerPath = join(shardPath, inner);
    const moved: string[] = [];
    for (const name of await readDir(innerPath)) {
      if (!isChunkId(name) || !name.startsWith(shard + inner)) continue;
      const from = join(innerPath, name);
      const to = join(shardPath, name);
      await rename(from, to).catch((err: unknown) => {
        throw storeError(err, "move chunk file of the old layout", from);
      });
      moved.push(to);
    }
    if (moved.length > 0) await syncDir(shardPath);
    // Left in place if something other than chunks is in it.
    await rmdir(innerPath).catch(() => undefined);
    return moved;
  }
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);
}

function notFound(id: string): DmfsError {
  return new DmfsError("E_NOT_FOUND", `chunk ${id} is not in this store`, { subject: id });
}

function readDir(path: string): Promise<string[]> {
  return readdir(path).catch((err: unknown) => {
    throw storeError(err, "list chunk directory", path);
  });
}

function openDir(path: string) {
  return opendir(path).catch((err: unknown) => {
    throw storeError(err, "list chunk directory", path);
  });
}

/** Creates `dir` and its missing ancestors, fsyncing every directory that gained an entry. */
async function createDirsDurably(dir: string): Promise<void> {
  const firstCreated = await mkdir(dir, { recursive: true }).catch((err: unknown) => {
    throw storeError(err, "create chunk store directory", dir);
  });
  if (firstCreated === undefined) return;
  const topParent = dirname(firstCreated);
  for (let parent = dirname(dir); ; parent = dirname(parent)) {
    await syncDir(parent);
    // dirname() of the file-system root is itself, which also ends the walk.
    if (parent === topParent || parent === dirname(parent)) return;
  }
}

async function createDirDurably(dir: string): Promise<void> {
  try {
    await mkdir(dir);
  } catch (err) {
    if (errnoOf(err) === "EEXIST") return;
    throw err;
  }
  await syncDir(dirname(dir));
}

async function syncDir(dir: string): Promise<void> {
  try {
    const handle = await open(dir, "r");
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch (err) {
    throw storeError(err, "sync directory", dir);
  }
}
