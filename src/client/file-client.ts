// The client's file operations over one gateway connection. Each operation runs as its actor
// (src/actors/upload.ts, read.ts, delete.ts) with the steps below provided; all chunk sealing, opening
// and hashing happens in the crypto pool, and the data key never leaves this process.
import { once } from "node:events";
import type { Readable, Writable } from "node:stream";
import { deleteMachine } from "../actors/delete.ts";
import { runOperation } from "../actors/file-operation.ts";
import { readMachine } from "../actors/read.ts";
import { uploadMachine } from "../actors/upload.ts";
import type { CatalogEntry } from "../cluster/types.ts";
import { type FileMeta, openMeta, pathIdOf, sealMeta } from "../crypto/catalog-crypto.ts";
import { CHUNK_OVERHEAD_BYTES } from "../crypto/chunk-format.ts";
import { FileKeyBuilder } from "../crypto/file-key.ts";
import type { DataKeys } from "../crypto/keys.ts";
import { DmfsError } from "../errors.ts";
import { MAX_CHUNK_IDS_PER_REQUEST } from "../protocol/messages.ts";
import type { CryptoPool } from "../workers/crypto-pool.ts";
import { BufferRecycler } from "./buffer-recycler.ts";
import { chunkStream } from "./chunker.ts";
import { Lookahead } from "./lookahead.ts";
import { decodeManifest, encodeManifest, type Manifest } from "./manifest.ts";
import type { NodeClient } from "./node-client.ts";

/** Chunks in flight at once, each way: bounds memory to a few chunks whatever the file size. */
export const DEFAULT_WINDOW = 8;
/**
 * Reads keep fewer in flight: every fetched chunk is a frame body and a plaintext until written, and
 * four already keep the pool busy while the next replies arrive.
 */
export const READ_WINDOW = 4;

/** Bytes done so far, and the file's size once it is known (a read learns it from the catalog). */
export type Progress = (doneBytes: number, totalBytes?: number) => void;

export interface UploadResult {
  key: string;
  path: string;
  size: number;
  chunks: number;
}

export interface ListedFile {
  path: string;
  key: string;
  size: number;
  mtime: number;
}

export interface StatResult {
  key: string;
  path: string;
  size: number;
  manifest: { id: string; nodes: string[] };
  chunks: { id: string; nodes: string[] }[];
}

export class FileClient {
  /** Plaintext chunk buffers, back from the pool after sealing, and stored ones, back after the gateway took them. */
  readonly #plaintexts: BufferRecycler;
  readonly #storeds: BufferRecycler;

  constructor(
    private readonly gateway: NodeClient,
    private readonly pool: CryptoPool,
    private readonly keys: DataKeys,
    private readonly chunkSize: number,
    private readonly window = DEFAULT_WINDOW,
  ) {
    this.#plaintexts = new BufferRecycler(chunkSize, window);
    this.#storeds = new BufferRecycler(chunkSize + CHUNK_OVERHEAD_BYTES, window);
  }

  async upload(
    source: Readable | AsyncIterable<Uint8Array>,
    path: string,
    mtime: number,
    progress?: Progress,
  ) {
    interface UploadWork {
      manifest?: Manifest;
      manifestId?: string;
      key?: string;
    }
    const plaintexts = new Lookahead(chunkStream(source, this.chunkSize, this.#plaintexts));
    const steps = {
      // A file of more than one chunk is refused before any data moves when the quorum cannot be met. A
      // file of one chunk skips that round trip: the write of its chunk makes the same check first.
      begin: async () => {
        if (await plaintexts.hasAtLeast(2)) await this.gateway.request({ t: "file.begin" }, "file.begun");
        return {};
      },
      send: async () => {
        const { manifest, key } = await this.sendChunks(plaintexts, progress);
        return { manifest, key };
      },
      manifest: async (w: UploadWork) => {
        // The pool takes the buffer it hashes and hands it back: send what came back.
        const { id, bytes } = await this.pool.hash(encodeManifest(w.manifest as Manifest));
        await this.gateway.request({ t: "file.chunk.write", chunkId: id, data: bytes }, "ok");
        return { manifestId: id };
      },
      commit: async (w: UploadWork) => {
        const size = (w.manifest as Manifest).size;
        await this.gateway.request(
          {
            t: "file.commit",
            pathId: pathIdOf(this.keys, path),
            deleted: false,
            fileKey: w.key as string,
            manifestId: w.manifestId as string,
            size,
            meta: sealMeta(this.keys, { path, size, mtime }),
          },
          "ok",
        );
        return {};
      },
    };
    const work = await runOperation<UploadWork>(uploadMachine, steps, {}).catch(async (err: unknown) => {
      await plaintexts.close();
      throw err;
    });
    const manifest = work.manifest as Manifest;
    return {
      key: work.key as string,
      path,
      size: manifest.size,
      chunks: manifest.chunks.length,
    } satisfies UploadResult;
  }

  /** Writes the file named by `keyOrPath` to `out` in order; resolves to its entry and metadata. */
  async read(
    keyOrPath: string,
    out: Writable,
    progress?: Progress,
  ): Promise<{ entry: CatalogEntry; meta: FileMeta }> {
    interface ReadWork {
      entry?: CatalogEntry;
      manifest?: Manifest;
    }
    const steps = {
      resolve: async () => ({ entry: await this.resolve(keyOrPath) }),
      manifest: async (w: ReadWork) => ({ manifest: await this.fetchManifest(w.entry as CatalogEntry) }),
      stream: async (w: ReadWork) => {
        const size = (w.manifest as Manifest).size;
        await this.receiveChunks(w.manifest as Manifest, out, progress && ((n) => progress(n, size)));
        return {};
      },
    };
    const work = await runOperation<ReadWork>(readMachine, steps, {});
    const entry = work.entry as CatalogEntry;
    return { entry, meta: this.metaOf(entry) };
  }

  /** Deletes the file named by `keyOrPath`: a tombstone for its path. */
  async delete(keyOrPath: string): Promise<{ path: string; key: string }> {
    interface DeleteWork {
      entry?: CatalogEntry;
    }
    const steps = {
      resolve: async () => ({ entry: await this.resolve(keyOrPath) }),
      commit: async (w: DeleteWork) => {
        const entry = w.entry as CatalogEntry;
        await this.gateway.request(
          {
            t: "file.commit",
            pathId: entry.pathId,
            deleted: true,
            fileKey: null,
            manifestId: null,
            size: 0,
            meta: null,
          },
          "ok",
        );
        return {};
      },
    };
    const work = await runOperation<DeleteWork>(deleteMachine, steps, {});
    const entry = work.entry as CatalogEntry;
    return { path: this.metaOf(entry).path, key: entry.fileKey as string };
  }

  async list(): Promise<ListedFile[]> {
    const files: ListedFile[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 100_000; page++) {
      const reply = await this.gateway.request(
        { t: "file.list", ...(cursor ? { cursor } : {}) },
        "catalog.entries",
      );
      for (const e of reply.entries) {
        const meta = this.metaOf(e);
        files.push({ path: meta.path, key: e.fileKey as string, size: e.size, mtime: meta.mtime });
      }
      cursor = reply.cursor;
      if (!cursor) break;
    }
    return files.sort((a, b) => a.path.localeCompare(b.path));
  }

  async stat(keyOrPath: string): Promise<StatResult> {
    const entry = await this.resolve(keyOrPath);
    const manifest = await this.fetchManifest(entry);
    const ids = [entry.manifestId as string, ...manifest.chunks.map(([id]) => id)];
    const nodes: string[][] = [];
    for (let i = 0; i < ids.length; i += MAX_CHUNK_IDS_PER_REQUEST) {
      const batch = ids.slice(i, i + MAX_CHUNK_IDS_PER_REQUEST);
      nodes.push(
        ...(await this.gateway.request({ t: "chunk.locate", chunkIds: batch }, "chunk.locations")).nodes,
      );
    }
    return {
      key: entry.fileKey as string,
      path: this.metaOf(entry).path,
      size: entry.size,
      manifest: { id: ids[0] as string, nodes: nodes[0] ?? [] },
      chunks: manifest.chunks.map(([id], i) => ({ id, nodes: nodes[i + 1] ?? [] })),
    };
  }

  /** A 64-hex argument is tried as a file key first, anything else (or an unknown key) as a path. */
  async resolve(keyOrPath: string): Promise<CatalogEntry> {
    if (/^[0-9a-f]{64}$/.test(keyOrPath)) {
      const byKey = await this.gateway.request({ t: "file.lookup", fileKey: keyOrPath }, "file.entry");
      if (byKey.entry && !byKey.entry.deleted) return byKey.entry;
    }
    const byPath = await this.gateway.request(
      { t: "file.lookup", pathId: pathIdOf(this.keys, keyOrPath) },
      "file.entry",
    );
    if (byPath.entry && !byPath.entry.deleted) return byPath.entry;
    throw new DmfsError("E_NOT_FOUND", `no file with key or path "${keyOrPath}" in the cluster`, {
      subject: keyOrPath,
    });
  }

  private metaOf(entry: CatalogEntry): FileMeta {
    if (!entry.meta)
      throw new DmfsError("E_WRONG_KEY", "wrong data key or corrupted data: the entry has no metadata");
    return openMeta(this.keys, entry.meta);
  }

  private async fetchManifest(entry: CatalogEntry): Promise<Manifest> {
    const manifestId = entry.manifestId as string;
    const reply = await this.gateway.request({ t: "file.chunk.read", chunkId: manifestId }, "chunk.data");
    const { id, bytes } = await this.pool.hash(reply.data, { ownsBuffer: true });
    if (id !== manifestId) throw new DmfsError("E_CHUNK_CORRUPT", `manifest ${manifestId} arrived corrupt`);
    return decodeManifest(bytes, manifestId);
  }

  /** Seals chunks in the pool and writes them through the gateway, at most `window` in flight. */
  private async sendChunks(plaintexts: AsyncIterable<Uint8Array<ArrayBuffer>>, progress?: Progress) {
    const keyBuilder = new FileKeyBuilder(this.keys.file, this.chunkSize);
    const chunks: [string, number][] = [];
    const hs: Uint8Array[] = [];
    let size = 0;
    let sent = 0;
    await boundedParallel(plaintexts, this.window, async (plaintext, i) => {
      const length = plaintext.length;
      size += length;
      const sealed = await this.pool.seal(this.keys, plaintext, this.#storeds.spare());
      this.#plaintexts.give(sealed.plaintext);
      hs[i] = sealed.h;
      chunks[i] = [sealed.chunkId, sealed.stored.length];
      await this.gateway.request(
        { t: "file.chunk.write", chunkId: sealed.chunkId, data: sealed.stored },
        "ok",
      );
      // The gateway has the whole frame once it answers, so the socket is done with these bytes.
      this.#storeds.give(sealed.stored);
      sent += length;
      progress?.(sent);
    });
    for (const h of hs) keyBuilder.add(h);
    const manifest: Manifest = { v: 1, chunkSize: this.chunkSize, size, chunks };
    return { manifest, key: keyBuilder.finish() };
  }

  /** Fetches chunks in parallel, opens them in the pool and writes them to `out` strictly in order. */
  private async receiveChunks(manifest: Manifest, out: Writable, progress?: Progress): Promise<void> {
    const fetchOpen = async (chunkId: string) => {
      const reply = await this.gateway.request({ t: "file.chunk.read", chunkId }, "chunk.data");
      return this.pool.open(this.keys, reply.data, chunkId, { ownsBuffer: true });
    };
    const queue: Promise<Uint8Array>[] = [];
    let next = 0;
    let written = 0;
    const fill = () => {
      while (queue.length < Math.min(this.window, READ_WINDOW) && next < manifest.chunks.length) {
        const p = fetchOpen((manifest.chunks[next] as [string, number])[0]);
        p.catch(() => undefined); // awaited in order below; this only silences the early rejection
        queue.push(p);
        next++;
      }
    };
    fill();
    try {
      while (queue.length > 0) {
        const plaintext = await (queue.shift() as Promise<Uint8Array>);
        fill();
        if (!out.write(plaintext)) await once(out, "drain");
        written += plaintext.length;
        progress?.(written);
      }
    } catch (err) {
      // Let the fetches and pool tasks still under way finish before the caller tears the pool down.
      await Promise.allSettled(queue);
      throw err;
    }
  }
}

/** Runs `work` over every item with at most `limit` running at once; the first failure rejects. */
async function boundedParallel<T>(
  items: AsyncIterable<T>,
  limit: number,
  work: (item: T, index: number) => Promise<void>,
): Promise<void> {
  const running = new Set<Promise<void>>();
  let failure: { err: unknown } | undefined;
  let index = 0;
  for await (const item of items) {
    if (failure) break;
    const p = work(item, index++).catch((err: unknown) => {
      failure ??= { err };
    });
    running.add(p);
    void p.finally(() => running.delete(p));
    if (running.size >= limit) await Promise.race(running);
  }
  await Promise.all(running);
  if (failure) throw failure.err;
}
