// The node's status: members as the node actor sees them, store and catalog figures, traffic counters.
// Answers one-off status requests and pushes an update every second to each subscribed connection.
import type { Member } from "../actors/node.ts";
import type { Blake3Backend } from "../crypto/blake3.ts";
import type { Connection, ConnectionCounters } from "../protocol/connection.ts";
import type { NodeStatus } from "../protocol/messages.ts";
import type { Catalog } from "../store/catalog.ts";
import type { ChunkStore } from "../store/chunk-store.ts";
import type { DiskReserve } from "../store/disk-reserve.ts";
import type { RepairProgress } from "./repair.ts";

export const STATUS_INTERVAL_MS = 1_000;

export interface Activity {
  uploads: number;
  reads: number;
  deletes: number;
  chunksStored: number;
  chunksServed: number;
  chunkReads: number;
}

export interface StatusSources {
  self: { clusterId: string; nodeId: string; listenAddr: string; startedAt: number };
  /** The BLAKE3 backend of the crypto pool's threads (they load it when first asked). */
  blake3Backend: () => Promise<Blake3Backend>;
  members: () => Member[];
  store: ChunkStore;
  catalog: Catalog;
  counters: ConnectionCounters;
  activity: Activity;
  underReplicated: () => number | null;
  /** What repair has left to move, and how fast. */
  repair?: () => RepairProgress;
  /** The disk's free-space reserve: whether the node is below it, and how large it is. */
  reserve?: DiskReserve;
  gc: () => NodeStatus["gc"];
  /** Why the node is read-only (one sentence), while it is. */
  readOnly?: () => string | undefined;
}

export class StatusPublisher {
  private readonly subscribers = new Set<Connection>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly sources: StatusSources) {}

  async snapshot(): Promise<NodeStatus> {
    const { self, counters } = this.sources;
    const store = await this.sources.store.stats();
    const reserve = this.sources.reserve;
    const space = reserve ? { full: reserve.full, reserveBytes: reserve.figures().reserveBytes } : {};
    const members = this.sources
      .members()
      .map((m) => ({ nodeId: m.nodeId, addr: m.addr, state: m.state, rttMs: m.rttMs, lastSeen: m.lastSeen }))
      .sort((a, b) => a.addr.localeCompare(b.addr));
    return {
      ...self,
      blake3Backend: await this.sources.blake3Backend(),
      members: [
        { nodeId: self.nodeId, addr: self.listenAddr, state: "self", rttMs: 0, lastSeen: Date.now() },
        ...members,
      ],
      store: { chunks: store.chunks, bytes: store.bytes, diskFree: store.diskFree, ...space },
      counters: {
        bytesIn: counters.bytesIn,
        bytesOut: counters.bytesOut,
        framesRejected: { ...counters.framesRejected },
      },
      catalog: this.sources.catalog.counts(),
      activity: { ...this.sources.activity },
      underReplicated: this.sources.underReplicated(),
      ...(this.sources.repair ? { repair: this.sources.repair() } : {}),
      gc: this.sources.gc(),
      ...readOnlyField(this.sources.readOnly?.()),
    };
  }

  subscribe(conn: Connection): void {
    this.subscribers.add(conn);
    conn.once("close", () => this.subscribers.delete(conn));
  }

  start(): void {
    this.timer = setInterval(() => void this.publish(), STATUS_INTERVAL_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.subscribers.clear();
  }

  private async publish(): Promise<void> {
    if (this.subscribers.size === 0) return;
    let status: NodeStatus;
    try {
      status = await this.snapshot();
    } catch {
      // A snapshot fails while the node stops (its crypto pool is gone): skip this update. Let loose
      // from a timer, the rejection would end the process before it logs that it stopped.
      return;
    }
    for (const conn of this.subscribers) conn.send({ t: "status.update", status }).catch(() => undefined);
  }
}

function readOnlyField(sentence: string | undefined): { readOnly?: string } {
  return sentence === undefined ? {} : { readOnly: sentence };
}
