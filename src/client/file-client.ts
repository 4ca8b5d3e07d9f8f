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
import { type OpenedMeta, pathIdOf, pathProblem, sealMeta } from "../crypto/catalog-crypto.ts";
import { CHUNK_OVERHEAD_BYTES } from "../crypto/chunk-format.ts";
import { FileKeyBuilder } from "../crypto/file-key.ts";
import type { DataKeys } from "../crypto/keys.ts";
import { DmfsError, isDmfsError } from "../errors.ts";
import { MAX_CHUNK_IDS_PER_REQUEST } from "../protocol/messages.ts";
import type { CryptoPool } from "../workers/crypto-pool.ts";
import { BufferRecycler } from "./buffer-recycler.ts";
import { checkEntry } from "./checked-entry.ts";
import { chunkStream } from "./chunker.ts";
import type { ListingIndex, SyncReport } from "./listing-index.ts";
import { Lookahead } from "./lookahead.ts";
import { decodeManifest, encodeManifest, type Manifest } from "./manifest.ts";
import type { NodeClient } from "./node-client.ts";
import { UploadRenewal } from "./upload-renewal.ts";

/** Chunks in flight at once, each way: bounds memory to a few chunks whatever the file size. */
export const DEFAULT_WINDOW = 8;
/**
 * Reads keep fewer in flight: every fetched chunk is a frame body and a plaintext until written, and
 * four already keep the pool busy while the next replies arrive.
 */
export const READ_WINDOW = 4;
/** How many copies of one chunk a read asks for before it gives up on it (each from another node). */
const MAX_COPIES_TRIED = 8;

/** Bytes done so far, and the file's size once it is known (a read learns it from the catalog). */
export type Progress = (doneBytes: number, totalBytes?: number) => void;

export interface UploadResult {
  key: string;
  path: string;
  size: number;
  chunks: number;
}

/** A catalog entry checked against its sealed metadata. */
export interface CheckedEntry {
  entry: CatalogEntry;
  meta: OpenedMeta;
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
    // Before any data moves: a path the metadata cannot hold would fail only at commit.
    const problem = pathProblem(path);
    if (problem)
      throw new DmfsError("E_USAGE", `cannot upload as ${JSON.stringify(path.slice(0, 80))}: ${problem}`);
    const plaintexts = new Lookahead(chunkStream(source, this.chunkSize, this.#plaintexts));
    let renewal: UploadRenewal | undefined;
    const steps = {
      // A file of more than one chunk is refused before any data moves when the quorum cannot be met. A
      // file of one chunk skips that round trip: the write of its chunk makes the same check first.
      // Only a file of several chunks can outlast the GC grace, so only such a file renews its chunks.
      begin: async () => {
        if (await plaintexts.hasAtLeast(2)) {
          const begun = await this.gateway.request({ t: "file.begin" }, "file.begun");
          renewal = new UploadRenewal(this.gateway, begun.gcGraceMs);
        }
        return {};
      },
      send: async () => {
        const { manifest, key } = await this.sendChunks(plaintexts, progress, renewal);
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
        const fileKey = w.key as string;
        const manifestId = w.manifestId as string;
        await this.gateway.request(
          {
            t: "file.commit",
            pathId: pathIdOf(this.keys, path),
            deleted: false,
            fileKey,
            manifestId,
            size,
            meta: sealMeta(this.keys, { path, size, mtime, fileKey, manifestId }),
          },
          "ok",
        );
        return {};
      },
    };
    const work = await runOperation<UploadWork>(uploadMachine, steps, {})
      .catch(async (err: unknown) => {
        await plaintexts.close();
        throw err;
      })
      .finally(() => renewal?.stop());
    const manifest = work.manifest as Manifest;
    return {
      key: work.key as string,
      path,
      size: manifest.size,
      chunks: manifest.chunks.length,
    } satisfies UploadResult;
  }

  /**
   * Writes the file named by `keyOrPath` to `out` in order and resolves to its checked entry once the
   * file key recomputed from the chunks matches the entry's; until then `out` may hold bytes of a file
   * that fails (E_CORRUPT), so a caller writing to a file keeps it aside until this resolves.
   */
  async read(keyOrPath: string, out: Writable, progress?: Progress): Promise<CheckedEntry> {
    interface ReadWork {
      checked?: CheckedEntry;
      manifest?: { manifest: Manifest; from: string };
    }
    const steps = {
      resolve: async () => ({ checked: await this.resolve(keyOrPath) }),
      manifest: async (w: ReadWork) => ({ manifest: await this.fetchManifest(w.checked as CheckedEntry) }),
      stream: async (w: ReadWork) => {
        const { manifest, from } = w.manifest as { manifest: Manifest; from: string };
        const size = manifest.size;
        const key = await this.receiveChunks(manifest, out, progress && ((n) => progress(n, size)));
        const { entry } = w.checked as CheckedEntry;
        if (key !== entry.fileKey) {
          throw new DmfsError(
            "E_CORRUPT",
            `the chunks of manifest ${(entry.manifestId as string).slice(0, 12)} (served by node ${from.slice(0, 8)}) make file key ${key.slice(0, 16)}, not the entry's ${(entry.fileKey as string).slice(0, 16)}: the catalog entry pairs this path with another file`,
            { subject: from },
          );
        }
        return {};
      },
    };
    const work = await runOperation<ReadWork>(readMachine, steps, {});
    return work.checked as CheckedEntry;
  }

  /** Deletes the file named by `keyOrPath`: a tombstone for its path. */
  async delete(keyOrPath: string): Promise<{ path: string; key: string }> {
    interface DeleteWork {
      checked?: CheckedEntry;
    }
    const steps = {
      resolve: async () => ({ checked: await this.resolve(keyOrPath) }),
      commit: async (w: DeleteWork) => {
        const { entry } = w.checked as CheckedEntry;
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
    const { entry, meta } = work.checked as CheckedEntry;
    return { path: meta.path, key: entry.fileKey as string };
  }

  /** The live files, sorted by path, and the entries that did not pass `checkEntry` (listed apart). */
  /** Brings a listing index up to date from this client's gateway (see ListingIndex.sync). */
  syncListing(index: ListingIndex): Promise<SyncReport> {
    return index.sync(this.gateway);
  }

  async stat(keyOrPath: string): Promise<StatResult> {
    const checked = await this.resolve(keyOrPath);
    const { entry, meta } = checked;
    const { manifest } = await this.fetchManifest(checked);
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
      path: meta.path,
      size: entry.size,
      manifest: { id: ids[0] as string, nodes: nodes[0] ?? [] },
      chunks: manifest.chunks.map(([id], i) => ({ id, nodes: nodes[i + 1] ?? [] })),
    };
  }

  /**
   * A 64-hex argument is tried as a file key first, anything else (or an unknown key) as a path. The
   * entry found must be the one asked for and match its sealed metadata.
   */
  async resolve(keyOrPath: string): Promise<CheckedEntry> {
    const served = this.gateway.nodeId;
    if (/^[0-9a-f]{64}$/.test(keyOrPath)) {
      const { entry } = await this.gateway.request({ t: "file.lookup", fileKey: keyOrPath }, "file.entry");
      if (entry && !entry.deleted) {
        if (entry.fileKey !== keyOrPath) {
          throw new DmfsError(
            "E_CORRUPT",
            `node ${served.slice(0, 8)} answered for file key ${keyOrPath.slice(0, 16)} with another file's entry`,
            { subject: served },
          );
        }
        return { entry, meta: checkEntry(this.keys, entry, served) };
      }
    }
    const pathId = pathIdOf(this.keys, keyOrPath);
    const { entry } = await this.gateway.request({ t: "file.lookup", pathId }, "file.entry");
    if (entry && !entry.deleted) {
      if (entry.pathId !== pathId) {
        throw new DmfsError(
          "E_CORRUPT",
          `node ${served.slice(0, 8)} answered for path "${keyOrPath}" with another path's entry`,
          { subject: served },
        );
      }
      return { entry, meta: checkEntry(this.keys, entry, served) };
    }
    throw new DmfsError("E_NOT_FOUND", `no file with key or path "${keyOrPath}" in the cluster`, {
      subject: keyOrPath,
    });
  }

  /** The entry's manifest, hash-checked and of the size the metadata gives, and the node it came from. */
  private async fetchManifest({ entry, meta }: CheckedEntry): Promise<{ manifest: Manifest; from: string }> {
    const manifestId = entry.manifestId as string;
    const { value: manifest, from } = await this.fetchChecked(manifestId, "manifest", async (data) => {
      const { id, bytes } = await this.pool.hash(data, { ownsBuffer: true });
      if (id !== manifestId) {
        throw new DmfsError("E_CHUNK_CORRUPT", `its bytes hash to ${id.slice(0, 16)}`);
      }
      const decoded = decodeManifest(bytes, manifestId);
      if (decoded.size !== meta.size) {
        throw new DmfsError(
          "E_CHUNK_CORRUPT",
          `it describes ${decoded.size} bytes, the metadata ${meta.size}`,
        );
      }
      return decoded;
    });
    return { manifest, from };
  }

  /**
   * Fetches a chunk or manifest through the gateway and checks it with `check`. A copy that fails is
   * asked for again with the node that served it excluded, so a lying holder is routed around while
   * an honest copy exists; when none is left, E_CHUNK_CORRUPT names every node whose copy failed.
   */
  private async fetchChecked<T>(
    chunkId: string,
    what: string,
    check: (data: Uint8Array) => Promise<T>,
  ): Promise<{ value: T; from: string }> {
    const bad: string[] = [];
    const problems: string[] = [];
    let giveUp = "";
    for (let copy = 0; copy < MAX_COPIES_TRIED; copy++) {
      const exclude = bad.length > 0 ? { exclude: [...bad] } : {};
      let reply: { data: Uint8Array; from?: string | undefined };
      try {
        reply = await this.gateway.request({ t: "file.chunk.read", chunkId, ...exclude }, "chunk.data");
      } catch (err) {
        if (bad.length === 0 || !isDmfsError(err, "E_NOT_FOUND")) throw err;
        giveUp = "; no other node holds a copy";
        break;
      }
      const from = reply.from ?? this.gateway.nodeId;
      try {
        return { value: await check(reply.data), from };
      } catch (err) {
        if (!isDmfsError(err, "E_CHUNK_CORRUPT") && !isDmfsError(err, "E_WRONG_KEY")) throw err;
        problems.push(`the copy from node ${from.slice(0, 8)}: ${err.message}`);
        if (bad.includes(from)) {
          giveUp = `; gateway ${this.gateway.nodeId.slice(0, 8)} served an excluded node's copy again`;
          break;
        }
        bad.push(from);
      }
    }
    throw new DmfsError(
      "E_CHUNK_CORRUPT",
      `${what} ${chunkId.slice(0, 16)} did not verify: ${problems.join("; ")}${giveUp}`,
      { subject: bad[0] ?? chunkId },
    );
  }

  /** Seals chunks in the pool and writes them through the gateway, at most `window` in flight. */
  private async sendChunks(
    plaintexts: AsyncIterable<Uint8Array<ArrayBuffer>>,
    progress?: Progress,
    renewal?: UploadRenewal,
  ) {
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
      renewal?.add(sealed.chunkId);
      // The gateway has the whole frame once it answers, so the socket is done with these bytes.
      this.#storeds.give(sealed.stored);
      sent += length;
      progress?.(sent);
    });
    for (const h of hs) keyBuilder.add(h);
    const manifest: Manifest = { v: 1, chunkSize: this.chunkSize, size, chunks };
    return { manifest, key: keyBuilder.finish() };
  }

  /**
   * Fetches chunks in parallel, opens them in the pool and writes them to `out` strictly in order;
   * resolves to the file key recomputed from the chunks' plaintext hashes.
   */
  private async receiveChunks(manifest: Manifest, out: Writable, progress?: Progress): Promise<string> {
    const fetchOpen = async (chunkId: string) => {
      const { value } = await this.fetchChecked(chunkId, "chunk", (data) =>
        this.pool.open(this.keys, data, chunkId, { ownsBuffer: true }),
      );
      return value;
    };
    const key = new FileKeyBuilder(this.keys.file, manifest.chunkSize);
    const queue: Promise<{ plaintext: Uint8Array; h: Uint8Array }>[] = [];
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
        const { plaintext, h } = await (queue.shift() as Promise<{ plaintext: Uint8Array; h: Uint8Array }>);
        key.add(h);
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
    return key.finish();
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
