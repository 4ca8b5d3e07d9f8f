import { describe, expect, it } from "vitest";
import type { InboundContext } from "../../src/actors/inbound.ts";
import { DmfsError } from "../../src/errors.ts";
import { NodeMetrics } from "../../src/node/metrics.ts";
import type { Message, NodeStatus } from "../../src/protocol/messages.ts";
import { parseMetrics, sampleValue } from "../helpers/prometheus.ts";

const SELF = "a".repeat(64);
const PEER = "b".repeat(64);
const DOWN = "c".repeat(64);

function statusWith(overrides: Partial<NodeStatus> = {}): NodeStatus {
  return {
    clusterId: "d".repeat(32),
    nodeId: SELF,
    listenAddr: "127.0.0.1:7000",
    startedAt: 1,
    blake3Backend: "native",
    members: [
      { nodeId: SELF, addr: "127.0.0.1:7000", state: "self", rttMs: 0, lastSeen: 1 },
      { nodeId: PEER, addr: "127.0.0.1:7001", state: "alive", rttMs: 2.5, lastSeen: 1 },
      { nodeId: DOWN, addr: "127.0.0.1:7002", state: "down", rttMs: null, lastSeen: 1 },
    ],
    store: { chunks: 12, bytes: 3_000, diskFree: 1e9 },
    counters: { bytesIn: 500, bytesOut: 700, framesRejected: { malformed: 2 } },
    catalog: { files: 4, tombstones: 1 },
    activity: { uploads: 3, reads: 5, deletes: 1, chunksStored: 12, chunksServed: 9, chunkReads: 7 },
    underReplicated: null,
    gc: { reclaimableBytes: null, reclaimedBytes: 42 },
    ...overrides,
  };
}

const from = {} as InboundContext;

describe("a node's Prometheus metrics", () => {
  it("render the status snapshot of the scrape as valid text format", async () => {
    let status = statusWith();
    const metrics = new NodeMetrics(async () => status);
    let families = parseMetrics(await metrics.render());
    expect(sampleValue(families, "dmfs_store_chunks")).toBe(12);
    expect(sampleValue(families, "dmfs_store_bytes")).toBe(3_000);
    expect(sampleValue(families, "dmfs_catalog_files")).toBe(4);
    expect(sampleValue(families, "dmfs_network_received_bytes_total")).toBe(500);
    expect(sampleValue(families, "dmfs_frames_rejected_total", { reason: "malformed" })).toBe(2);
    expect(sampleValue(families, "dmfs_gc_reclaimed_bytes_total")).toBe(42);
    expect(sampleValue(families, "dmfs_chunk_reads_total")).toBe(7);
    expect(sampleValue(families, "dmfs_disk_full")).toBe(0);
    expect(sampleValue(families, "dmfs_read_only")).toBe(0);
    expect(families.get("dmfs_store_chunks")?.type).toBe("GAUGE");
    expect(families.get("dmfs_uploads_total")?.type).toBe("COUNTER");
    expect(sampleValue(families, "dmfs_peer_up", { peer: PEER, state: "alive" })).toBe(1);
    expect(sampleValue(families, "dmfs_peer_up", { peer: DOWN, state: "down" })).toBe(0);
    expect(sampleValue(families, "dmfs_peer_up", { peer: SELF })).toBeUndefined();
    expect(sampleValue(families, "dmfs_peer_rtt_seconds", { peer: PEER })).toBeCloseTo(0.0025);
    expect(sampleValue(families, "dmfs_peer_rtt_seconds", { peer: DOWN })).toBeUndefined();
    expect(sampleValue(families, "dmfs_info", { node_id: SELF, blake3_backend: "native" })).toBe(1);
    // Figures the node does not have yet are left out, not reported as 0.
    expect(families.has("dmfs_under_replicated_chunks")).toBe(true);
    expect(sampleValue(families, "dmfs_under_replicated_chunks")).toBeUndefined();
    expect(sampleValue(families, "dmfs_misplaced_chunks")).toBeUndefined();
    expect(sampleValue(families, "dmfs_repair_bytes_to_move")).toBeUndefined();
    expect(families.get("dmfs_process_resident_memory_bytes")).toBeDefined();

    // The next scrape reads a new snapshot: counters move, a vanished peer's series goes away.
    status = statusWith({
      store: { chunks: 20, bytes: 5_000, diskFree: 1e9, full: true, reserveBytes: 5e7 },
      activity: { uploads: 4, reads: 5, deletes: 1, chunksStored: 20, chunksServed: 9, chunkReads: 7 },
      members: statusWith().members.slice(0, 2),
      underReplicated: 3,
      readOnly: "read-only: this node was out of contact with the cluster for 9 s, and so on",
      repair: {
        misplaced: 2,
        bytesToMove: 3_000_000,
        bytesMoved: 1_048_604,
        copiesDropped: 5,
        bytesPerSecond: 100_000_000,
        etaSeconds: 1,
      },
    });
    families = parseMetrics(await metrics.render());
    expect(sampleValue(families, "dmfs_misplaced_chunks")).toBe(2);
    expect(sampleValue(families, "dmfs_repair_bytes_to_move")).toBe(3_000_000);
    expect(sampleValue(families, "dmfs_repair_moved_bytes_total")).toBe(1_048_604);
    expect(sampleValue(families, "dmfs_repair_dropped_copies_total")).toBe(5);
    expect(families.get("dmfs_repair_moved_bytes_total")?.type).toBe("COUNTER");
    expect(sampleValue(families, "dmfs_store_chunks")).toBe(20);
    expect(sampleValue(families, "dmfs_disk_full")).toBe(1);
    expect(sampleValue(families, "dmfs_read_only")).toBe(1);
    expect(sampleValue(families, "dmfs_disk_reserve_bytes")).toBe(5e7);
    expect(sampleValue(families, "dmfs_uploads_total")).toBe(4);
    expect(sampleValue(families, "dmfs_under_replicated_chunks")).toBe(3);
    expect(sampleValue(families, "dmfs_peer_up", { peer: DOWN })).toBeUndefined();
  });

  it("count requests by type, and errors by type and code whether thrown or answered", async () => {
    const metrics = new NodeMetrics(async () => statusWith());
    const handle = metrics.countRequests(async (m: Message) => {
      if (m.t === "ping") return undefined;
      if (m.t === "status") throw new DmfsError("E_NOT_FOUND", "no such thing");
      throw new Error("a plain failure");
    });
    await handle({ t: "ping", at: 1 } as Message, from);
    await handle({ t: "ping", at: 2 } as Message, from);
    await expect(handle({ t: "status", id: 1 } as Message, from)).rejects.toThrow("no such thing");
    await expect(handle({ t: "gc.run", id: 2 } as Message, from)).rejects.toThrow("a plain failure");
    const families = parseMetrics(await metrics.render());
    expect(sampleValue(families, "dmfs_requests_total", { type: "ping" })).toBe(2);
    expect(sampleValue(families, "dmfs_requests_total", { type: "status" })).toBe(1);
    expect(sampleValue(families, "dmfs_request_errors_total", { type: "status", code: "E_NOT_FOUND" })).toBe(
      1,
    );
    expect(sampleValue(families, "dmfs_request_errors_total", { type: "gc.run", code: "E_IO" })).toBe(1);
    expect(sampleValue(families, "dmfs_request_errors_total", { type: "ping" })).toBeUndefined();
  });
});
