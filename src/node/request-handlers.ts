// What a node answers. Every message reaching here passed schema and role checks in the Connection;
// handlers do the work against the store and the catalog and return the reply.
import type { InboundContext, RequestHandler } from "../actors/inbound.ts";
import { DmfsError } from "../errors.ts";
import type { ConnectionCounters } from "../protocol/connection.ts";
import type { Message } from "../protocol/messages.ts";
import type { Catalog } from "../store/catalog.ts";
import type { ChunkStore } from "../store/chunk-store.ts";
import type { CryptoPool } from "../workers/crypto-pool.ts";
import type { StatusPublisher } from "./status-publisher.ts";

export interface NodeServices {
  store: ChunkStore;
  catalog: Catalog;
  pool: CryptoPool;
  status: StatusPublisher;
  counters: ConnectionCounters;
}

export function createRequestHandler(services: NodeServices): RequestHandler {
  const { store, catalog, pool, status } = services;
  return async (m: Message, from: InboundContext): Promise<Message | undefined> => {
    switch (m.t) {
      case "ping":
        return { t: "pong", re: m.id, at: m.at };
      case "status":
        if (m.subscribe) status.subscribe(from.conn);
        return { t: "status.reply", re: m.id, status: await status.snapshot() };
      case "chunk.put": {
        // Verify in the pool; the bytes come back from the worker and go to disk unchanged.
        const { id, bytes } = await pool.hash(m.data);
        if (id !== m.chunkId) {
          throw new DmfsError(
            "E_CHUNK_CORRUPT",
            `chunk ${m.chunkId} arrived corrupt (its bytes hash to ${id})`,
          );
        }
        await store.put(id, bytes, { verified: true });
        return { t: "ok", re: m.id };
      }
      case "chunk.get": {
        const { id, bytes } = await pool.hash(await store.getUnverified(m.chunkId));
        if (id !== m.chunkId) {
          await store.quarantine(m.chunkId);
          throw new DmfsError("E_CHUNK_CORRUPT", `the copy of chunk ${m.chunkId} on this node is corrupt`);
        }
        return { t: "chunk.data", re: m.id, data: bytes };
      }
      case "chunk.has": {
        const have = await Promise.all(m.chunkIds.map((id) => store.has(id)));
        return { t: "chunk.have", re: m.id, have };
      }
      case "catalog.push":
        catalog.applyMany(m.entries);
        return { t: "ok", re: m.id };
      case "catalog.digest":
        return { t: "catalog.digest.reply", re: m.id, buckets: catalog.bucketDigests() };
      case "catalog.pull": {
        const page = catalog.entriesInBuckets(m.buckets, m.cursor);
        return {
          t: "catalog.entries",
          re: m.id,
          entries: page.entries,
          ...(page.cursor ? { cursor: page.cursor } : {}),
        };
      }
      default:
        // Replies and stream messages are not requests; an unexpected one is a protocol violation.
        if ("id" in m) throw new DmfsError("E_UNAUTHORIZED", `${m.t} is not a request this node serves`);
        return undefined;
    }
  };
}
