import { EventEmitter } from "node:events";
import { afterEach, describe, expect, it, vi } from "vitest";
import { STATUS_INTERVAL_MS, StatusPublisher, type StatusSources } from "../../src/node/status-publisher.ts";
import type { Connection } from "../../src/protocol/connection.ts";
import type { Message } from "../../src/protocol/messages.ts";
import type { Catalog } from "../../src/store/catalog.ts";
import type { ChunkStore } from "../../src/store/chunk-store.ts";

/** A subscriber connection that records what it is sent. */
function subscriber(): { conn: Connection; sent: Message[] } {
  const sent: Message[] = [];
  const conn = Object.assign(new EventEmitter(), {
    send: async (m: Message) => {
      sent.push(m);
    },
  });
  return { conn: conn as unknown as Connection, sent };
}

function sources(backend: () => Promise<"native">): StatusSources {
  return {
    self: { clusterId: "c".repeat(32), nodeId: "a".repeat(32), listenAddr: "127.0.0.1:1", startedAt: 1 },
    blake3Backend: backend,
    members: () => [],
    store: { stats: async () => ({ chunks: 0, bytes: 0, diskFree: 1 }) } as unknown as ChunkStore,
    catalog: { counts: () => ({ files: 0, tombstones: 0 }) } as unknown as Catalog,
    counters: { bytesIn: 0, bytesOut: 0, framesRejected: {} },
    activity: { uploads: 0, reads: 0, deletes: 0, chunksStored: 0, chunksServed: 0, chunkReads: 0 },
    underReplicated: () => 0,
    gc: () => ({ lastRunAt: null, collected: 0 }) as never,
  };
}

afterEach(() => {
  vi.useRealTimers();
});

describe("status publisher", () => {
  it("skips an update whose snapshot fails (a node stopping) without an unhandled rejection, then goes on", async () => {
    vi.useFakeTimers({ toFake: ["setInterval", "clearInterval"] });
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    try {
      let fail = true;
      const publisher = new StatusPublisher(
        sources(async () => {
          if (fail) throw new Error("Terminating worker thread");
          return "native";
        }),
      );
      const { conn, sent } = subscriber();
      publisher.subscribe(conn);
      publisher.start();
      await vi.advanceTimersByTimeAsync(STATUS_INTERVAL_MS);
      // Unhandled rejections are reported once the microtasks after a macrotask have run.
      await new Promise((resolve) => setImmediate(resolve));
      await new Promise((resolve) => setImmediate(resolve));
      expect(unhandled).toEqual([]);
      expect(sent).toEqual([]);

      fail = false;
      await vi.advanceTimersByTimeAsync(STATUS_INTERVAL_MS);
      expect(sent.map((m) => m.t)).toEqual(["status.update"]);
      publisher.stop();
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
  });
});
