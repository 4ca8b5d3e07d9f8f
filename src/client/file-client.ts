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
import type { FifoGate } from "../workers/fifo-gate.ts";
import { BufferRecycler } from "./buffer-recycler.ts";
import { type ByteRange, checkRangeRequest, clampRange, type RangeRequest, sliceOf } from "./byte-range.ts";
import { checkEntry } from "./checked-entry.ts";
import { ChunkRoutes, type ChunkRoutesOptions } from "./chunk-routes.ts";
import { READ_WINDOW, UPLOAD_WINDOW, windowOf } from "./chunk-window.ts";
import { chunkStream } from "./chunker.ts";
import { InOrder } from "./in-order.ts";
import type { ListingIndex, SyncReport } from "./listing-index.ts";
import { Lookahead } from "./lookahead.ts";
import { decodeIndexObject, encodeIndexObject, type IndexEntry, type IndexNode } from "./manifest.ts";
import { DEFAULT_INDEX_FAN_OUT, ManifestBuilder } from "./manifest-builder.ts";
import { type ChunkRef, checkChild, chunksCovering, type FetchChild } from "./manifest-tree.ts";
import type { NodeClient } from "./node-client.ts";
import { UploadRenewal } from "./upload-renewal.ts";

/** How many copies of one chunk a read asks for before it gives up on it (each from another node). */
const MAX_COPIES_TRIED = 8;
/**
 * Reads covering more chunks than this, and the chunks of an upload past this many, go straight to the
 * nodes that hold them or are their first homes (see chunk-routes.ts); a small file goes through the
 * gateway, where dialling the other nodes would cost more than it saves.
 */
const DIRECT_MIN_CHUNKS = 8;
/** A long-lived client (the S3 gateway) asks again for the members and the layout after this long. */
const ROUTES_MAX_AGE_MS = 30_000;
/**
 * How long a large read waits for its routes before it starts (through the gateway for what is not up
 * yet): on a LAN they take a few milliseconds; a node that does not answer must not hold the read up.
 */
const ROUTES_WAIT_MS = 1_000;

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
  /** The root of the manifest tree (its id is the entry's manifest id). */
  manifest: { id: string; nodes: string[] };
  /** The tree's other index objects, depth first; empty for a file of up to a fan-out of chunks. */
  index: { id: string; nodes: string[] }[];
  chunks: { id: string; nodes: string[] }[];
}

/**
 * A file to compose another from (`FileClient.compose`): its path, the file key it had when its hashes
 * were kept, and the plaintext hashes of its chunks in order (32 bytes each, concatenated).
 */
export interface ComposePart {
  path: string;
  fileKey: string;
  chunkHashes: Uint8Array;
}

const HASH_BYTES = 32;

/** A manifest tree's root: an index object with its file's chunk size and size. */
type Root = IndexNode & { file: NonNullable<IndexNode["file"]> };

/** A range of a file being read: its checked entry, the file's size, the range clamped to it, its bytes. */
export interface RangeRead extends ByteRange {
  checked: CheckedEntry;
  size: number;
  /**
   * The range's plaintext in order, each chunk verified. For the whole file the file key is recomputed
   * from the chunks and checked at the end (E_CORRUPT after the last bytes when it differs); a part of a
   * file is bound to the entry by the hashes from the sealed manifest id down to each chunk.
   */
  bytes: AsyncIterable<Uint8Array>;
}

/** How `FileClient.read` may treat its output stream. */
export interface ReadOptions {
  /**
   * `out` is done with each buffer once that write's callback has run (a file or a socket, as the CLI
   * writes to; not a stream that hands its buffers on, such as a PassThrough): the read then decrypts
   * its next chunks into them instead of leaving one dead buffer per chunk for V8's next full collection.
   */
  writesThrough?: boolean;
}

/** Options of a FileClient beyond its connection and keys. */
export interface FileClientOptions {
  /** Chunks in flight at once, each way (default: 8 MiB of chunks for uploads, 4 MiB for reads; see windowOf). */
  window?: number;
  /**
   * Entries per index object of the manifest trees this client writes (default 1,000). A seam for tests
   * and benches, which use a small one to build deep trees from small files; readers accept any.
   */
  indexFanOut?: number;
  /** Lets large reads go straight to the nodes holding the chunks; without it every read goes through the gateway. */
  directPaths?: ChunkRoutesOptions;
  /**
   * Chunks being sealed or written across all the uploads of this client at once, beside each upload's
   * own `window`: the S3 gateway runs every request's upload through one client, and without a shared
   * bound its memory grew with requests times the window. An upload waiting for room holds at most the
   * two chunks it read ahead, and pulls nothing more from its source (so its request body waits).
   */
  uploadGate?: FifoGate;
}

export class FileClient {
  /** Plaintext chunk buffers, back from the pool after sealing, and stored ones, back after the gateway took them. */
  readonly #plaintexts: BufferRecycler;
  readonly #storeds: BufferRecycler;
  private readonly window: number;
  private readonly readWindow: number;
  private readonly indexFanOut: number;
  private readonly directPaths: ChunkRoutesOptions | undefined;
  private readonly uploadGate: FifoGate | undefined;
  #routes: ChunkRoutes | undefined;
  #routesAt = 0;
  /** Settles once the current routes are discovered or ROUTES_WAIT_MS passed, whichever is first. */
  #routesReady: Promise<void> = Promise.resolve();

  constructor(
    private readonly gateway: NodeClient,
    private readonly pool: CryptoPool,
    private readonly keys: DataKeys,
    private readonly chunkSize: number,
    options: FileClientOptions = {},
  ) {
    this.window = options.window ?? windowOf(UPLOAD_WINDOW, chunkSize);
    this.readWindow = Math.min(this.window, windowOf(READ_WINDOW, chunkSize));
    this.indexFanOut = options.indexFanOut ?? DEFAULT_INDEX_FAN_OUT;
    this.directPaths = options.directPaths;
    this.uploadGate = options.uploadGate;
    // Enough spares for every chunk that can be in flight at once, so none is allocated afresh.
    const keep = Math.max(this.window, this.uploadGate?.limit ?? 0);
    this.#plaintexts = new BufferRecycler(chunkSize, keep);
    this.#storeds = new BufferRecycler(chunkSize + CHUNK_OVERHEAD_BYTES, keep);
  }

  /** Closes the direct connections of large reads (the gateway connection belongs to the caller). */
  close(): void {
    this.#routes?.close();
    this.#routes = undefined;
  }

  /**
   * Routes for a read of `chunks` chunks: direct ones for a large read, waited for at most
   * ROUTES_WAIT_MS; a small read uses those a large one made, or the gateway.
   */
  private async routesFor(chunks: number): Promise<ChunkRoutes | undefined> {
    if (!this.directPaths || chunks <= DIRECT_MIN_CHUNKS) return this.#routes;
    if (!this.#routes || this.#routesAt + ROUTES_MAX_AGE_MS < Date.now()) {
      this.#routes?.close();
      const routes = new ChunkRoutes(this.gateway, this.directPaths);
      this.#routes = routes;
      this.#routesAt = Date.now();
      // Until it is done, or when it fails, chunks go through the gateway as before.
      const discovered = routes.discover().catch(() => undefined);
      let timer: NodeJS.Timeout | undefined;
      this.#routesReady = Promise.race([
        discovered,
        new Promise<void>((r) => (timer = setTimeout(r, ROUTES_WAIT_MS))),
      ]).then(() => clearTimeout(timer));
    }
    // A window's worth of chunks asks at once: each waits for the same discovery, not only the first.
    await this.#routesReady;
    return this.#routes;
  }

  /**
   * Stores `source` as the file at `path`. `chunkHash` is told each chunk's plaintext hash `h`, in file
   * order (what the file key is made of): the S3 gateway keeps a part's hashes so that a file composed of
   * parts gets its file key without reading the parts again (`compose`).
   */
  async upload(
    source: Readable | AsyncIterable<Uint8Array>,
    path: string,
    mtime: number,
    progress?: Progress,
    chunkHash?: (h: Uint8Array) => void,
  ) {
    interface UploadWork {
      manifestId?: string;
      size?: number;
      key?: string;
    }
    // Before any data moves: a path the metadata cannot hold would fail only at commit.
    const problem = pathProblem(path);
    if (problem)
      throw new DmfsError("E_USAGE", `cannot upload as ${JSON.stringify(path.slice(0, 80))}: ${problem}`);
    const plaintexts = new Lookahead(chunkStream(source, this.chunkSize, this.#plaintexts));
    let renewal: UploadRenewal | undefined;
    // Index objects are written like chunks as they fill, and held against GC like them until the commit.
    const tree = new ManifestBuilder(this.chunkSize, this.indexFanOut, (bytes) =>
      this.writeIndexObject(bytes, renewal),
    );
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
      send: async () => ({ key: await this.sendChunks(plaintexts, tree, progress, renewal, chunkHash) }),
      manifest: async () => await tree.finish(),
      commit: async (w: UploadWork) => {
        await this.commitFile(path, mtime, w.size as number, w.key as string, w.manifestId as string);
        return {};
      },
    };
    const work = await runOperation<UploadWork>(uploadMachine, steps, {})
      .catch(async (err: unknown) => {
        await plaintexts.close();
        throw err;
      })
      .finally(() => renewal?.stop());
    return {
      key: work.key as string,
      path,
      size: work.size as number,
      chunks: tree.chunks,
    } satisfies UploadResult;
  }

  /**
   * Stores at `path` the file made of `parts` in order (files already in the cluster, each with the
   * plaintext hashes of its chunks that `upload` reported for it) without moving their data: the new
   * manifest tree lists the parts' own index entries (each carries its lengths), so only the index objects
   * above them are written. The file key is made from the parts' hashes, each part's hashes checked first
   * against that part's file key; a part that is not the file named (another file key now) or was written
   * with another chunk size is E_CORRUPT / E_USAGE. The parts stay as they are: the caller deletes them.
   */
  async compose(parts: readonly ComposePart[], path: string, mtime: number): Promise<UploadResult> {
    const problem = pathProblem(path);
    if (problem)
      throw new DmfsError("E_USAGE", `cannot store as ${JSON.stringify(path.slice(0, 80))}: ${problem}`);
    const fileKey = new FileKeyBuilder(this.keys.file, this.chunkSize);
    // Pass 1: check every part and learn the highest root level, which the composed tree is built from.
    let level = 0;
    let chunks = 0;
    for (const part of parts) {
      const root = await this.partRoot(part);
      if (root.file.size > 0) level = Math.max(level, root.level);
      chunks += part.chunkHashes.length / HASH_BYTES;
      fileKey.add(part.chunkHashes);
    }
    const begun = await this.gateway.request({ t: "file.begin" }, "file.begun");
    const renewal = new UploadRenewal(this.gateway, begun.gcGraceMs);
    try {
      const tree = new ManifestBuilder(
        this.chunkSize,
        this.indexFanOut,
        (bytes) => this.writeIndexObject(bytes, renewal),
        level,
      );
      // Pass 2 (roots fetched again, so memory holds one at a time): a part whose root is of that level
      // gives its entries; a lower one is written as a plain index object and lifted to it.
      for (const part of parts) {
        const root = await this.partRoot(part);
        if (root.file.size === 0) continue;
        if (root.level === level) {
          for (const entry of root.entries) await tree.addEntry(entry);
          continue;
        }
        let entry: IndexEntry | undefined;
        for (let l = root.level; l < level; l++) {
          const bytes = encodeIndexObject(
            entry ? { level: l, entries: [entry] } : { level: l, entries: root.entries },
          );
          entry = [await this.writeIndexObject(bytes, renewal), bytes.length, root.file.size];
        }
        await tree.addEntry(entry as IndexEntry);
      }
      const { manifestId, size } = await tree.finish();
      const key = fileKey.finish();
      await this.commitFile(path, mtime, size, key, manifestId);
      return { key, path, size, chunks };
    } finally {
      await renewal.stop();
    }
  }

  /** A part's checked root, its entry still the file `part` names, its hashes that file's key. */
  private async partRoot(part: ComposePart): Promise<Root> {
    const checked = await this.resolve(part.path);
    if (checked.entry.fileKey !== part.fileKey) {
      throw new DmfsError("E_CORRUPT", `part ${part.path} is not the file it was (its file key changed)`, {
        subject: part.path,
      });
    }
    const { root } = await this.fetchRoot(checked);
    if (root.file.chunkSize !== this.chunkSize) {
      throw new DmfsError(
        "E_USAGE",
        `part ${part.path} was written in chunks of ${root.file.chunkSize} bytes, this client writes ${this.chunkSize}`,
        { subject: part.path },
      );
    }
    const ownKey = new FileKeyBuilder(this.keys.file, this.chunkSize);
    ownKey.add(part.chunkHashes);
    if (part.chunkHashes.length % HASH_BYTES !== 0 || ownKey.finish() !== part.fileKey) {
      throw new DmfsError(
        "E_CORRUPT",
        `the chunk hashes kept for part ${part.path} do not make its file key`,
        {
          subject: part.path,
        },
      );
    }
    return root;
  }

  /** Stores one index object like a chunk (held against GC by `renewal` until the commit); its id. */
  private async writeIndexObject(bytes: Buffer, renewal: UploadRenewal | undefined): Promise<string> {
    // The pool takes the buffer it hashes and hands it back: send what came back.
    const { id, bytes: data } = await this.pool.hash(bytes);
    await this.gateway.request({ t: "file.chunk.write", chunkId: id, data }, "ok");
    renewal?.add(id);
    return id;
  }

  /** The catalog entry for a stored file: its path, sizes and keys, with the sealed metadata. */
  private async commitFile(
    path: string,
    mtime: number,
    size: number,
    fileKey: string,
    manifestId: string,
  ): Promise<void> {
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
  }

  /**
   * Writes the file named by `keyOrPath` - or the part `range` asks for, clamped to the file - to `out`
   * in order, and resolves to its checked entry once every byte is out and verified. For the whole file
   * that includes the file key recomputed from the chunks: until the read resolves, `out` may hold bytes
   * of a file that fails (E_CORRUPT), so a caller writing to a file keeps it aside until then.
   */
  async read(
    keyOrPath: string,
    out: Writable,
    progress?: Progress,
    range: RangeRequest = {},
    options: ReadOptions = {},
  ): Promise<CheckedEntry> {
    interface ReadWork {
      checked?: CheckedEntry;
      root?: { root: Root; from: string };
    }
    checkRangeRequest(range);
    const steps = {
      resolve: async () => ({ checked: await this.resolve(keyOrPath) }),
      manifest: async (w: ReadWork) => ({ root: await this.fetchRoot(w.checked as CheckedEntry) }),
      stream: async (w: ReadWork) => {
        const { root, from } = w.root as { root: Root; from: string };
        const clamped = clampRange(root.file.size, range);
        const total = clamped.end - clamped.start;
        let written = 0;
        const recycler = options.writesThrough ? this.#plaintexts : undefined;
        const chunks = this.rangeBytes(w.checked as CheckedEntry, root, from, clamped, recycler);
        for await (const bytes of chunks) {
          // A chunk cut to the range is a view, which the recycler refuses; a whole one goes back.
          const done = recycler && ((err?: Error | null) => err || recycler.give(bytes));
          if (!out.write(bytes, done)) await once(out, "drain");
          written += bytes.length;
          progress?.(written, total);
        }
        return {};
      },
    };
    const work = await runOperation<ReadWork>(readMachine, steps, {});
    return work.checked as CheckedEntry;
  }

  /**
   * Opens a range of the file named by `keyOrPath` (the S3 gateway's ranged GET): resolves once the entry
   * and its manifest root are checked, with the range clamped to the file; its bytes are fetched as they
   * are iterated, only the chunks covering the range, found by walking the manifest tree.
   */
  async readRange(keyOrPath: string, range: RangeRequest = {}): Promise<RangeRead> {
    checkRangeRequest(range);
    const checked = await this.resolve(keyOrPath);
    const { root, from } = await this.fetchRoot(checked);
    const clamped = clampRange(root.file.size, range);
    return {
      checked,
      size: root.file.size,
      ...clamped,
      bytes: this.rangeBytes(checked, root, from, clamped),
    };
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
    const { root } = await this.fetchRoot(checked);
    const index: string[] = [];
    const chunks: string[] = [];
    const recordIndex: FetchChild = (e, level) => {
      index.push(e[0]);
      return this.fetchChild(e, level);
    };
    for await (const c of chunksCovering(root, { start: 0, end: root.file.size }, recordIndex))
      chunks.push(c.id);
    const ids = [entry.manifestId as string, ...index, ...chunks];
    const nodes: string[][] = [];
    for (let i = 0; i < ids.length; i += MAX_CHUNK_IDS_PER_REQUEST) {
      const batch = ids.slice(i, i + MAX_CHUNK_IDS_PER_REQUEST);
      nodes.push(
        ...(await this.gateway.request({ t: "chunk.locate", chunkIds: batch }, "chunk.locations")).nodes,
      );
    }
    const located = (id: string, i: number) => ({ id, nodes: nodes[i] ?? [] });
    return {
      key: entry.fileKey as string,
      path: meta.path,
      size: entry.size,
      manifest: located(ids[0] as string, 0),
      index: index.map((id, i) => located(id, 1 + i)),
      chunks: chunks.map((id, i) => located(id, 1 + index.length + i)),
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

  /**
   * The entry's manifest root, hash-checked, a root, of the size the metadata gives, and the node it
   * came from. A first-format manifest is read as a root leaf.
   */
  private async fetchRoot({ entry, meta }: CheckedEntry): Promise<{ root: Root; from: string }> {
    const manifestId = entry.manifestId as string;
    const { value: root, from } = await this.fetchChecked(manifestId, "manifest", async (data) => {
      const { id, bytes } = await this.pool.hash(data, { ownsBuffer: true });
      if (id !== manifestId) {
        throw new DmfsError("E_CHUNK_CORRUPT", `its bytes hash to ${id.slice(0, 16)}`);
      }
      const decoded = decodeIndexObject(bytes, manifestId);
      if (decoded.file === undefined)
        throw new DmfsError("E_CHUNK_CORRUPT", "it is not the root of a manifest");
      if (decoded.file.size !== meta.size) {
        throw new DmfsError(
          "E_CHUNK_CORRUPT",
          `it describes ${decoded.file.size} bytes, the metadata ${meta.size}`,
        );
      }
      return decoded as Root;
    });
    return { root, from };
  }

  /** An index object below the root, hash-checked and checked against the entry that names it. */
  private readonly fetchChild: FetchChild = async (entry, level) => {
    const objectId = entry[0];
    const { value } = await this.fetchChecked(objectId, "index object", async (data) => {
      const { id, bytes } = await this.pool.hash(data, { ownsBuffer: true });
      if (id !== objectId) throw new DmfsError("E_CHUNK_CORRUPT", `its bytes hash to ${id.slice(0, 16)}`);
      const node = decodeIndexObject(bytes, objectId);
      checkChild(node, entry, level, bytes.length);
      return node;
    });
    return value;
  };

  /**
   * Fetches a chunk or manifest - through the gateway, or straight from a holder when `routes` has one
   * up - and checks it with `check`. A copy that fails is asked for again with the node that served it
   * excluded, so a lying holder is routed around while an honest copy exists; when none is left,
   * E_CHUNK_CORRUPT names every node whose copy failed. A direct connection that fails is dropped and
   * the chunk asked for again elsewhere, the gateway last.
   */
  private async fetchChecked<T>(
    chunkId: string,
    what: string,
    check: (data: Uint8Array) => Promise<T>,
    routes?: ChunkRoutes,
  ): Promise<{ value: T; from: string }> {
    const bad: string[] = [];
    /** Direct routes that failed this chunk: asked no more for it. */
    const failed: string[] = [];
    const problems: string[] = [];
    let giveUp = "";
    for (let copy = 0; copy < MAX_COPIES_TRIED; copy++) {
      const exclude = bad.length > 0 ? { exclude: [...bad] } : {};
      const node = routes?.via(chunkId, [...bad, ...failed]) ?? this.gateway;
      let reply: { data: Uint8Array; from?: string | undefined };
      try {
        reply = await node.request({ t: "file.chunk.read", chunkId, ...exclude }, "chunk.data");
      } catch (err) {
        if (node !== this.gateway && routes) {
          // Asked again elsewhere, the gateway last: bounded, each failure takes a node off this chunk's routes.
          failed.push(node.nodeId);
          if (node.closed) routes.drop(node);
          copy--;
          continue;
        }
        if (bad.length === 0 || !isDmfsError(err, "E_NOT_FOUND")) throw err;
        giveUp = "; no other node holds a copy";
        break;
      }
      const from = reply.from ?? node.nodeId;
      try {
        return { value: await check(reply.data), from };
      } catch (err) {
        if (!isDmfsError(err, "E_CHUNK_CORRUPT") && !isDmfsError(err, "E_WRONG_KEY")) throw err;
        problems.push(`the copy from node ${from.slice(0, 8)}: ${err.message}`);
        if (bad.includes(from)) {
          giveUp = `; node ${node.nodeId.slice(0, 8)} served an excluded node's copy again`;
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

  /**
   * Seals chunks in the pool and writes them through the gateway, at most `window` in flight (and within
   * the client's `uploadGate`, when it has one); each written chunk goes, in file order, into the
   * manifest tree and the file key, which it resolves to.
   */
  private async sendChunks(
    plaintexts: AsyncIterable<Uint8Array<ArrayBuffer>>,
    tree: ManifestBuilder,
    progress?: Progress,
    renewal?: UploadRenewal,
    chunkHash?: (h: Uint8Array) => void,
  ): Promise<string> {
    const keyBuilder = new FileKeyBuilder(this.keys.file, this.chunkSize);
    const written = new InOrder<{ chunkId: string; stored: number; plain: number; h: Uint8Array }>(
      async ({ chunkId, stored, plain, h }) => {
        keyBuilder.add(h);
        chunkHash?.(h);
        await tree.add(chunkId, stored, plain);
      },
    );
    let sent = 0;
    await boundedParallel(plaintexts, this.window, this.uploadGate, async (plaintext, i) => {
      const plain = plaintext.length;
      let chunk: { chunkId: string; stored: number; plain: number; h: Uint8Array };
      try {
        const sealed = await this.pool.seal(this.keys, plaintext, this.#storeds.spare());
        this.#plaintexts.give(sealed.plaintext);
        const { chunkId, stored, h } = sealed;
        // The first chunks go through the gateway; past a small file's size, straight to their first home.
        const routes = i >= DIRECT_MIN_CHUNKS ? await this.routesFor(i + 1) : undefined;
        await this.writeChunk(chunkId, stored, routes);
        renewal?.add(chunkId);
        // The node has the whole frame once it answers, so the socket is done with these bytes.
        this.#storeds.give(stored);
        chunk = { chunkId, stored: stored.length, plain, h };
      } catch (err) {
        written.abort(err); // the chunks after this one wait for it: they fail too, none hangs
        throw err;
      }
      sent += plain;
      progress?.(sent);
      await written.put(i, chunk);
    });
    return keyBuilder.finish();
  }

  /**
   * Sends a sealed chunk to the best-ranked node for it whose direct connection is up (its first home,
   * which stores it and forwards it to the other homes, acknowledging after W copies like a gateway), else
   * to the gateway. A direct node that went away or did not answer in time is dropped and the chunk sent
   * through the gateway; any other answer (no quorum, disks full) is the write's answer.
   */
  private async writeChunk(chunkId: string, data: Uint8Array, routes: ChunkRoutes | undefined) {
    const node = routes?.via(chunkId) ?? this.gateway;
    try {
      await node.request({ t: "file.chunk.write", chunkId, data }, "ok");
    } catch (err) {
      if (!routes || node === this.gateway) throw err;
      if (!node.closed && !isDmfsError(err, "E_TIMEOUT")) throw err;
      routes.drop(node);
      await this.gateway.request({ t: "file.chunk.write", chunkId, data }, "ok");
    }
  }

  /**
   * The plaintext of `range` in order: the chunks covering it, fetched and opened in the pool at most
   * readWindow at once, each cut to the range. For the whole file the recomputed file key must be the
   * entry's (E_CORRUPT naming the node that served the manifest, after the last bytes).
   */
  private async *rangeBytes(
    { entry }: CheckedEntry,
    root: Root,
    from: string,
    range: ByteRange,
    recycler?: BufferRecycler,
  ): AsyncGenerator<Uint8Array> {
    const whole = range.start === 0 && range.end === root.file.size;
    const key = whole ? new FileKeyBuilder(this.keys.file, root.file.chunkSize) : undefined;
    const routes = await this.routesFor(Math.ceil((range.end - range.start) / root.file.chunkSize));
    for await (const { ref, plaintext, h } of this.openInOrder(
      chunksCovering(root, range, this.fetchChild),
      routes,
      recycler,
    )) {
      key?.add(h);
      const slice = sliceOf(ref.offset, plaintext.length, range);
      yield slice.from === 0 && slice.to === plaintext.length
        ? plaintext
        : plaintext.subarray(slice.from, slice.to);
    }
    const recomputed = key?.finish();
    if (recomputed !== undefined && recomputed !== entry.fileKey) {
      throw new DmfsError(
        "E_CORRUPT",
        `the chunks of manifest ${(entry.manifestId as string).slice(0, 12)} (served by node ${from.slice(0, 8)}) make file key ${recomputed.slice(0, 16)}, not the entry's ${(entry.fileKey as string).slice(0, 16)}: the catalog entry pairs this path with another file`,
        { subject: from },
      );
    }
  }

  /**
   * Fetches and opens the chunks `refs` names, in parallel, yielding them strictly in order; into spare
   * buffers of `recycler` when it has some (the caller gives the plaintexts back once written).
   */
  private async *openInOrder(
    refs: AsyncIterable<ChunkRef>,
    routes: ChunkRoutes | undefined,
    recycler?: BufferRecycler,
  ): AsyncGenerator<{ ref: ChunkRef; plaintext: Uint8Array; h: Uint8Array }> {
    type Opened = { ref: ChunkRef; plaintext: Uint8Array; h: Uint8Array };
    const fetchOpen = async (ref: ChunkRef): Promise<Opened> => {
      const { value } = await this.fetchChecked(
        ref.id,
        "chunk",
        (data) => this.pool.open(this.keys, data, ref.id, { ownsBuffer: true, into: recycler?.spare() }),
        routes,
      );
      return { ref, ...value };
    };
    const pending = refs[Symbol.asyncIterator]();
    const queue: Promise<Opened>[] = [];
    let exhausted = false;
    const fill = async () => {
      while (!exhausted && queue.length < this.readWindow) {
        const next = await pending.next();
        if (next.done) {
          exhausted = true;
          break;
        }
        const p = fetchOpen(next.value);
        p.catch(() => undefined); // awaited in order below; this only silences the early rejection
        queue.push(p);
      }
    };
    try {
      await fill();
      while (queue.length > 0) {
        const opened = await (queue.shift() as Promise<Opened>);
        await fill();
        yield opened;
      }
    } finally {
      // On failure or an early stop: let the fetches and pool tasks under way finish before the caller
      // tears the pool down, and stop the walk of the tree.
      await Promise.allSettled(queue);
      if (!exhausted) await pending.return?.();
    }
  }
}

/**
 * Runs `work` over every item with at most `limit` running at once, each also holding room in `shared`
 * (when given) while it runs; the next item is pulled only once this one has its room. The first failure
 * rejects.
 */
async function boundedParallel<T>(
  items: AsyncIterable<T>,
  limit: number,
  shared: FifoGate | undefined,
  work: (item: T, index: number) => Promise<void>,
): Promise<void> {
  const running = new Set<Promise<void>>();
  let failure: { err: unknown } | undefined;
  let index = 0;
  for await (const item of items) {
    if (failure) break;
    const leave = await shared?.enter();
    if (failure) {
      leave?.();
      break;
    }
    const p = work(item, index++)
      .catch((err: unknown) => {
        failure ??= { err };
      })
      .finally(() => leave?.());
    running.add(p);
    void p.finally(() => running.delete(p));
    if (running.size >= limit) await Promise.race(running);
  }
  await Promise.all(running);
  if (failure) throw failure.err;
}
