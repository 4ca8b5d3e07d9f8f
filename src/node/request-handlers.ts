// What a node answers. Every message reaching here passed schema and role checks in the Connection;
// handlers do the work against the store and the catalog and return the reply. A failure is answered
// with its code in a sentence that names no local path; the node logs the full error itself.
import type { InboundContext, RequestHandler } from "../actors/inbound.ts";
import type { FullPeers } from "../cluster/full-peers.ts";
import type { HybridClock } from "../cluster/hlc.ts";
import type { PeerClocks } from "../cluster/peer-clocks.ts";
import type { TombstoneAcks } from "../cluster/tombstone-acks.ts";
import { DmfsError } from "../errors.ts";
import type { Message } from "../protocol/messages.ts";
import type { Catalog } from "../store/catalog.ts";
import type { CatalogGroupCommit } from "../store/catalog-group-commit.ts";
import type { ChunkStore } from "../store/chunk-store.ts";
import type { CryptoPool } from "../workers/crypto-pool.ts";
import type { Absence } from "./absence.ts";
import { type ReplyScope, replyErrorFor } from "./error-replies.ts";
import { type FileQuery, localEntry, lookUpFile } from "./file-lookup.ts";
import type { GarbageCollector } from "./garbage-collector.ts";
import type { Gateway } from "./gateway.ts";
import type { LayoutKeeper } from "./layout-keeper.ts";
import type { Logger } from "./logger.ts";
import type { RevocationGuard } from "./revocation-guard.ts";
import type { Activity, StatusPublisher } from "./status-publisher.ts";

export interface NodeServices {
  store: ChunkStore;
  catalog: Catalog;
  catalogWrites: CatalogGroupCommit;
  pool: CryptoPool;
  status: StatusPublisher;
  gateway: Gateway;
  gc: GarbageCollector;
  clock: HybridClock;
  peerClocks?: PeerClocks;
  activity: Activity;
  revocations: RevocationGuard;
  layout: LayoutKeeper;
  /** The bytes this node offers, told to the admin for the next layout. */
  capacity: () => Promise<number>;
  /** The zone this node's config names (a room, a site), told to the admin for the next layout. */
  zone?: string;
  /** This node's certificate name. */
  name: string;
  /** What the last repair scan found still to move. */
  repairState: () => { misplaced: number | null; underReplicated: number | null };
  log: Logger;
  /** Peers that said their disk is below its reserve: their heartbeats update it. */
  fullPeers?: FullPeers;
  /** What error replies must not carry (the node's root). */
  replyScope: ReplyScope;
  /** Where peers' catalog.ack requests are kept, for the tombstone purge rule. */
  tombstoneAcks?: TombstoneAcks;
  /** Refuses catalog traffic while the node is back from an absence and not (yet) current (absence.ts). */
  absence?: Pick<Absence, "refuseIfReadOnly" | "refuseUntilCurrent">;
}

export function createRequestHandler(services: NodeServices): RequestHandler {
  const handle = createHandler(services);
  const { log, replyScope } = services;
  return async (m, from) => {
    try {
      return await handle(m, from);
    } catch (err) {
      const reply = replyErrorFor(err, replyScope);
      if (reply !== err) {
        const message = err instanceof Error ? err.message : String(err);
        log.warn({ request: m.t, err: message }, "a request failed on this node");
      }
      throw reply;
    }
  };
}

function createHandler(services: NodeServices): RequestHandler {
  const {
    store,
    catalog,
    catalogWrites,
    pool,
    status,
    gateway,
    gc,
    clock,
    peerClocks,
    activity,
    revocations,
    layout,
    capacity,
    zone,
    name,
    repairState,
    log,
    fullPeers,
    absence,
  } = services;
  /** Whether this node holds a copy of `chunkId` that hashes to its id; a bad one is quarantined. */
  const holdsGoodCopy = async (chunkId: string): Promise<boolean> => {
    if (!(await store.has(chunkId))) return false;
    try {
      const { id } = await pool.hash(await store.getUnverified(chunkId));
      if (id === chunkId) return true;
      await store.quarantine(chunkId);
      log.warn({ chunkId }, "quarantined a corrupt chunk copy");
    } catch {
      // Gone or unreadable since `has`: not a copy anyone may count on.
    }
    return false;
  };
  return async (m: Message, from: InboundContext): Promise<Message | undefined> => {
    switch (m.t) {
      case "ping":
        if (from.hello.nodeId) {
          fullPeers?.heard(from.hello.nodeId, m.full, m.readOnly);
          const behindMs = peerClocks?.heard(from.hello.nodeId, m.at);
          if (behindMs !== undefined) {
            log.warn(
              { peer: from.hello.nodeId.slice(0, 8), behindMs },
              "a peer's clock is more than 60 s behind this node's: one of the two clocks is wrong",
            );
          }
        }
        return { t: "pong", re: m.id, at: m.at };
      case "status":
        if (m.subscribe) status.subscribe(from.conn);
        return { t: "status.reply", re: m.id, status: await status.snapshot() };
      case "peers":
        if (m.revocations) await revocations.accept(m.revocations);
        if (m.layout) await layout.accept(m.layout);
        return undefined;
      case "cluster.revoke":
        await revocations.accept([m.revocation]);
        return { t: "ok", re: m.id };
      case "layout.set":
        await layout.accept(m.layout);
        return { t: "ok", re: m.id };
      case "layout.get":
        return {
          t: "layout.reply",
          re: m.id,
          layout: layout.signedBytes() ?? null,
          changing: layout.changing(),
          capacity: await capacity(),
          ...(zone === undefined ? {} : { zone }),
          name,
          ...repairState(),
        };
      case "chunk.put": {
        // Verify in the pool; the bytes come back from the worker and go to disk unchanged.
        const { id, bytes } = await pool.hash(m.data, { ownsBuffer: true });
        if (id !== m.chunkId) {
          throw new DmfsError(
            "E_CHUNK_CORRUPT",
            `chunk ${m.chunkId} arrived corrupt (its bytes hash to ${id})`,
          );
        }
        const outcome = await store.put(id, bytes, { verified: true });
        if (outcome !== "existed") activity.chunksStored++;
        if (outcome === "replaced")
          log.warn({ chunkId: id }, "quarantined a rotten chunk copy and rewrote it");
        return { t: "ok", re: m.id };
      }
      case "chunk.get": {
        const { id, bytes } = await pool.hash(await store.getUnverified(m.chunkId));
        if (id !== m.chunkId) {
          await store.quarantine(m.chunkId);
          throw new DmfsError("E_CHUNK_CORRUPT", `the copy of chunk ${m.chunkId} on this node is corrupt`);
        }
        activity.chunksServed++;
        return { t: "chunk.data", re: m.id, data: bytes };
      }
      case "chunk.has": {
        if (m.verify) {
          // One at a time: a batch of re-hashes must not crowd out client traffic in the pool.
          const have: boolean[] = [];
          for (const chunkId of m.chunkIds) have.push(await holdsGoodCopy(chunkId));
          return { t: "chunk.have", re: m.id, have };
        }
        const have = await Promise.all(m.chunkIds.map((id) => store.has(id)));
        return { t: "chunk.have", re: m.id, have };
      }
      case "chunk.touch":
        await Promise.all(m.chunkIds.map((id) => store.touch(id)));
        return { t: "ok", re: m.id };
      case "catalog.push":
        absence?.refuseIfReadOnly();
        try {
          clock.observeAll(m.entries.map((e) => e.hlc));
        } catch (err) {
          log.warn(
            { peer: from.hello.nodeId?.slice(0, 8), err: (err as Error).message },
            "refused catalog entries stamped too far ahead of this node's clock",
          );
          throw err;
        }
        await catalogWrites.apply(m.entries);
        return { t: "ok", re: m.id };
      case "catalog.digest": {
        absence?.refuseIfReadOnly();
        // Read together, with no await between: the stamp is what these digests cover.
        const buckets = catalog.bucketDigests();
        const through = catalog.lastArrival();
        const purgedThrough = catalog.purgedThrough();
        return {
          t: "catalog.digest.reply",
          re: m.id,
          buckets,
          ...(through ? { through } : {}),
          ...(purgedThrough ? { purgedThrough } : {}),
        };
      }
      case "catalog.ack":
        if (from.hello.nodeId) services.tombstoneAcks?.heard(from.hello.nodeId, m.through);
        return { t: "ok", re: m.id };
      case "catalog.pull": {
        // A returning node offers no entry before it knows they are current.
        absence?.refuseUntilCurrent();
        const page = catalog.entriesInBuckets(m.buckets, m.cursor);
        return {
          t: "catalog.entries",
          re: m.id,
          entries: page.entries,
          ...(page.cursor ? { cursor: page.cursor } : {}),
        };
      }
      // The client's file operations, served by this node as its gateway.
      case "file.begin":
        absence?.refuseIfReadOnly();
        return { t: "file.begun", re: m.id, ...gateway.begin() };
      case "file.chunk.write":
        await gateway.writeChunk(m.chunkId, m.data);
        return { t: "ok", re: m.id };
      case "file.chunk.read": {
        // A read of a file starts with its manifest: that is what counts as one read (not its retries).
        if (catalog.isManifestLive(m.chunkId) && !m.exclude) activity.reads++;
        const { bytes, from } = await gateway.readChunk(m.chunkId, m.exclude);
        activity.chunkReads++;
        return { t: "chunk.data", re: m.id, data: bytes, from };
      }
      case "file.chunk.touch":
        await gateway.touch(m.chunkIds);
        return { t: "ok", re: m.id };
      case "gc.run":
        return { t: "gc.done", re: m.id, ...(await gc.run()) };
      case "file.commit":
        absence?.refuseIfReadOnly();
        await gateway.commit(m);
        return { t: "ok", re: m.id };
      case "file.lookup": {
        const fromNode = from.conn.peerRole === "node";
        // A peer's answer is merged into its client's like a pull: not from a catalog not yet current.
        if (fromNode) absence?.refuseUntilCurrent();
        else absence?.refuseIfReadOnly();
        const query: FileQuery | undefined = m.pathId
          ? { pathId: m.pathId }
          : m.fileKey
            ? { fileKey: m.fileKey }
            : undefined;
        if (!query) return { t: "file.entry", re: m.id, entry: null };
        const sources = {
          local: (pathId: string) => catalog.get(pathId),
          localByKey: (fileKey: string) => catalog.byFileKey(fileKey),
          askPeers: (q: FileQuery) => gateway.askPeers(q),
        };
        // A peer asking is answered from this catalog alone; a client's miss here asks the peers.
        const entry = fromNode ? localEntry(query, sources) : await lookUpFile(query, sources);
        return { t: "file.entry", re: m.id, entry: entry ?? null };
      }
      case "catalog.changes":
        absence?.refuseIfReadOnly();
        return { t: "catalog.changes.page", re: m.id, ...catalog.changesSince(m.after, m.limit) };
      case "chunk.locate":
        return { t: "chunk.locations", re: m.id, nodes: await gateway.locate(m.chunkIds) };
      default:
        // Replies and stream messages are not requests; an unexpected one is a protocol violation.
        if ("id" in m) throw new DmfsError("E_UNAUTHORIZED", `${m.t} is not a request this node serves`);
        return undefined;
    }
  };
}
