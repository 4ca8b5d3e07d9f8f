// A node's Prometheus metrics (prom-client): what `dmfs status` shows - store, disk, catalog, traffic,
// under-replicated chunks, garbage collection, peers and their RTT - plus requests and errors by message
// type and the process's own figures (CPU, memory, event-loop lag). Figures the node already keeps are
// read from one status snapshot per scrape; only the request counters are counted here.
import { Counter, collectDefaultMetrics, Gauge, Registry } from "prom-client";
import type { RequestHandler } from "../actors/inbound.ts";
import { isDmfsError } from "../errors.ts";
import type { NodeStatus } from "../protocol/messages.ts";

const PREFIX = "dmfs_";

export class NodeMetrics {
  readonly registry = new Registry();
  /** The snapshot the current scrape reads; taken once per scrape so every figure is from one moment. */
  #status: NodeStatus | undefined;
  readonly #requests: Counter<"type">;
  readonly #errors: Counter<"type" | "code">;

  constructor(private readonly snapshot: () => Promise<NodeStatus>) {
    const registers = [this.registry];
    const status = () => this.#status;
    collectDefaultMetrics({ register: this.registry, prefix: PREFIX });
    this.#requests = new Counter({
      name: `${PREFIX}requests_total`,
      help: "Requests this node received, by message type",
      labelNames: ["type"],
      registers,
    });
    this.#errors = new Counter({
      name: `${PREFIX}request_errors_total`,
      help: "Requests this node answered with an error, by message type and error code",
      labelNames: ["type", "code"],
      registers,
    });

    new Gauge({
      name: `${PREFIX}info`,
      help: "Always 1; the labels name the node, its cluster and its BLAKE3 backend",
      labelNames: ["node_id", "cluster_id", "listen_addr", "blake3_backend"],
      registers,
      collect() {
        const s = status();
        this.reset();
        if (s === undefined) return;
        this.set(
          {
            node_id: s.nodeId,
            cluster_id: s.clusterId,
            listen_addr: s.listenAddr,
            blake3_backend: s.blake3Backend,
          },
          1,
        );
      },
    });
    gauge(registers, "store_chunks", "Chunks in this node's store", () => status()?.store.chunks);
    gauge(registers, "store_bytes", "Bytes of the chunks in this node's store", () => status()?.store.bytes);
    gauge(
      registers,
      "disk_free_bytes",
      "Bytes free for this node on its store's file system",
      () => status()?.store.diskFree,
    );
    gauge(
      registers,
      "disk_reserve_bytes",
      "Free space this node keeps; below it it takes no new chunk copies (absent when no reserve is set)",
      () => status()?.store.reserveBytes,
    );
    gauge(registers, "disk_full", "1 while this node is below its free-space reserve, else 0", () => {
      const s = status();
      return s === undefined ? undefined : s.store.full ? 1 : 0;
    });
    gauge(
      registers,
      "read_only",
      "1 while this node is read-only because it missed a tombstone purge while away (it takes no new copies and merges no catalog), else 0",
      () => {
        const s = status();
        return s === undefined ? undefined : s.readOnly === undefined ? 0 : 1;
      },
    );
    gauge(registers, "catalog_files", "Live files in this node's catalog", () => status()?.catalog.files);
    gauge(
      registers,
      "catalog_tombstones",
      "Tombstones (deleted files) in this node's catalog",
      () => status()?.catalog.tombstones,
    );
    gauge(
      registers,
      "under_replicated_chunks",
      "Chunks held here with fewer than R copies on their homes at the last repair scan (absent before one)",
      () => status()?.underReplicated ?? undefined,
    );
    gauge(
      registers,
      "misplaced_chunks",
      "Copies held here that are not on one of their homes at the last repair scan, still to hand over (absent before one)",
      () => status()?.repair?.misplaced ?? undefined,
    );
    gauge(
      registers,
      "repair_bytes_to_move",
      "Bytes of copies this node still owes homes that lack them (absent before its first repair survey)",
      () => status()?.repair?.bytesToMove ?? undefined,
    );
    counter(
      registers,
      "repair_moved_bytes_total",
      "Bytes repair and rebalance pushed from this node to the homes of its chunks",
      () => status()?.repair?.bytesMoved,
    );
    counter(
      registers,
      "repair_dropped_copies_total",
      "Copies this node dropped because every home of the chunk held a verified copy",
      () => status()?.repair?.copiesDropped,
    );
    gauge(
      registers,
      "gc_reclaimable_bytes",
      "Bytes of chunks no live file referenced at the last complete garbage collection pass, not yet deleted",
      () => status()?.gc.reclaimableBytes ?? undefined,
    );
    counter(
      registers,
      "gc_reclaimed_bytes_total",
      "Bytes garbage collection deleted",
      () => status()?.gc.reclaimedBytes,
    );
    counter(
      registers,
      "network_received_bytes_total",
      "Bytes received on all connections",
      () => status()?.counters.bytesIn,
    );
    counter(
      registers,
      "network_sent_bytes_total",
      "Bytes sent on all connections",
      () => status()?.counters.bytesOut,
    );
    counter(
      registers,
      "uploads_total",
      "Uploads this node served as the gateway",
      () => status()?.activity.uploads,
    );
    counter(
      registers,
      "reads_total",
      "Reads this node served as the gateway",
      () => status()?.activity.reads,
    );
    counter(
      registers,
      "deletes_total",
      "Deletes this node served as the gateway",
      () => status()?.activity.deletes,
    );
    counter(
      registers,
      "chunks_stored_total",
      "Chunk copies this node stored",
      () => status()?.activity.chunksStored,
    );
    counter(registers, "chunks_served_total", "Chunks this node sent", () => status()?.activity.chunksServed);
    counter(
      registers,
      "chunk_reads_total",
      "Chunks and index objects clients fetched through this node",
      () => status()?.activity.chunkReads,
    );

    new Counter({
      name: `${PREFIX}frames_rejected_total`,
      help: "Frames this node refused, by reason",
      labelNames: ["reason"],
      registers,
      collect() {
        this.reset();
        for (const [reason, count] of Object.entries(status()?.counters.framesRejected ?? {})) {
          this.inc({ reason }, count);
        }
      },
    });
    new Gauge({
      name: `${PREFIX}peer_up`,
      help: "1 for a peer this node sees alive, 0 for one suspected or down",
      labelNames: ["peer", "addr", "state"],
      registers,
      collect() {
        this.reset();
        for (const m of status()?.members ?? []) {
          if (m.state !== "self")
            this.set({ peer: m.nodeId, addr: m.addr, state: m.state }, m.state === "alive" ? 1 : 0);
        }
      },
    });
    new Gauge({
      name: `${PREFIX}peer_rtt_seconds`,
      help: "Round-trip time of the last heartbeat to each peer",
      labelNames: ["peer"],
      registers,
      collect() {
        this.reset();
        for (const m of status()?.members ?? []) {
          if (m.state !== "self" && m.rttMs !== null) this.set({ peer: m.nodeId }, m.rttMs / 1000);
        }
      },
    });
  }

  /** Wraps the node's request handler so every request, and every error answer, is counted by type. */
  countRequests(handle: RequestHandler): RequestHandler {
    return async (message, from) => {
      this.#requests.inc({ type: message.t });
      try {
        const reply = await handle(message, from);
        if (reply?.t === "error") this.#errors.inc({ type: message.t, code: reply.code });
        return reply;
      } catch (err) {
        // What the connection answers for it (connection.ts): a DmfsError's code, else E_IO.
        const code = isDmfsError(err) ? err.code : "E_IO";
        this.#errors.inc({ type: message.t, code });
        throw err;
      }
    };
  }

  /** The Prometheus text exposition of every metric, from a status snapshot taken now. */
  async render(): Promise<string> {
    this.#status = await this.snapshot();
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

/** A gauge read from the scrape's snapshot; left out of the scrape while `read` gives undefined. */
function gauge(registers: Registry[], name: string, help: string, read: () => number | undefined): void {
  new Gauge({
    name: `${PREFIX}${name}`,
    help,
    registers,
    collect() {
      const value = read();
      // An unlabelled gauge reads 0 after reset; removing its one series leaves it out of the scrape.
      if (value === undefined) this.remove({});
      else this.set(value);
    },
  });
}

/** A counter whose running total the node keeps already (in its status); the scrape copies it. */
function counter(registers: Registry[], name: string, help: string, read: () => number | undefined): void {
  new Counter({
    name: `${PREFIX}${name}`,
    help,
    registers,
    collect() {
      this.reset();
      this.inc(read() ?? 0);
    },
  });
}
