// `dmfs status`: asks a node for the cluster's members, then every member for its own store figures,
// whether its disk is below its free-space reserve, its share of the under-replicated chunks, and what its
// repair has left to move (misplaced copies, bytes owed to homes, an ETA).
import { Command } from "commander";
import { NodeClient } from "../client/node-client.ts";
import { summarizeRepair } from "../cluster/repair-summary.ts";
import type { Blake3Backend } from "../crypto/blake3.ts";
import type { NodeStatus } from "../protocol/messages.ts";
import { formatTimeSpan } from "../time-span.ts";
import { addClusterOptions, type ClusterAccessOptions, resolveClusterAccess } from "./cluster-access.ts";
import { formatBytes, table } from "./format.ts";

export interface ClusterStatusJson {
  clusterId: string;
  gateway: string;
  /**
   * Chunks with a home lacking its copy, cluster-wide: the sum of the alive nodes' counts from their
   * last repair scan (each chunk is counted by one holder); null while an alive node has not scanned
   * or did not answer.
   */
  underReplicated: number | null;
  /** Copies held off their homes, summed over the nodes that are up; null while one has not said. */
  misplaced: number | null;
  /** Bytes the nodes still owe homes that lack a copy, summed; null while one has not said. */
  bytesToMove: number | null;
  /** Seconds until the slowest node has moved its share at its rate; 0: nothing left; null: unknown. */
  etaSeconds: number | null;
  nodes: {
    id: string;
    address: string;
    state: "alive" | "suspect" | "down";
    rttMs: number | null;
    chunks: number | null;
    bytes: number | null;
    diskFree: number | null;
    /** Below its free-space reserve (`diskReserve` bytes): takes no new chunk copies; null when unknown. */
    full: boolean | null;
    diskReserve: number | null;
    /**
     * Why the node is read-only (it missed a tombstone purge while away: it takes no new copies and
     * serves no catalog until removed and re-added), one sentence; null when it is not, or did not answer.
     */
    readOnly: string | null;
    /** The node's share of the under-replicated chunks at its last repair scan; null before one. */
    underReplicated: number | null;
    /** Copies the node holds off their homes at its last repair scan; null before one. */
    misplaced: number | null;
    /** Bytes of copies the node still owes homes that lack them; null before its first repair survey. */
    bytesToMove: number | null;
    /** Bytes the node's repair pushed to homes since it started. */
    bytesMoved: number | null;
    /** Seconds until the node has moved `bytesToMove` at its rate (measured, else paced); null: unknown. */
    etaSeconds: number | null;
    /** Bytes of unreferenced chunks at the node's last GC pass, not yet deleted; null before a pass. */
    reclaimable: number | null;
    /** Bytes garbage collection deleted on the node since it started. */
    reclaimed: number | null;
    /** The BLAKE3 implementation the node hashes with; null when the node did not answer. */
    blake3: Blake3Backend | null;
  }[];
}

export function statusCommand(): Command {
  return addClusterOptions(
    new Command("status").description("show the cluster's nodes, their health and storage"),
  )
    .option("--json", "print one JSON object")
    .action(async (o: ClusterAccessOptions & { json?: boolean }) => {
      const access = await resolveClusterAccess(o);
      const client = await NodeClient.connect(access.addrs, {
        identity: access.identity,
        chunkSize: access.chunkSize,
      });
      try {
        const status = await clusterStatus(client, (addr) =>
          NodeClient.connect([addr], {
            identity: access.identity,
            chunkSize: access.chunkSize,
            timeoutMs: 2_000,
          }),
        );
        if (o.json) process.stdout.write(`${JSON.stringify(status)}\n`);
        else process.stdout.write(render(status));
      } finally {
        client.close();
      }
    });
}

export async function clusterStatus(
  gateway: NodeClient,
  connect: (addr: string) => Promise<NodeClient>,
): Promise<ClusterStatusJson> {
  const own = await gateway.status();
  const nodes = await Promise.all(
    own.members.map(async (m) => {
      const state = m.state === "self" ? "alive" : m.state;
      let detail: NodeStatus | undefined = m.state === "self" ? own : undefined;
      if (!detail && state !== "down") {
        const c = await connect(m.addr).catch(() => undefined);
        detail = await c?.status().catch(() => undefined);
        c?.close();
      }
      return {
        id: m.nodeId,
        address: m.addr,
        state: state as "alive" | "suspect" | "down",
        rttMs: m.rttMs,
        chunks: detail?.store.chunks ?? null,
        bytes: detail?.store.bytes ?? null,
        diskFree: detail?.store.diskFree ?? null,
        full: detail?.store.full ?? null,
        diskReserve: detail?.store.reserveBytes ?? null,
        readOnly: detail?.readOnly ?? null,
        underReplicated: detail?.underReplicated ?? null,
        misplaced: detail?.repair?.misplaced ?? null,
        bytesToMove: detail?.repair?.bytesToMove ?? null,
        bytesMoved: detail?.repair?.bytesMoved ?? null,
        etaSeconds: detail?.repair?.etaSeconds ?? null,
        repair: detail?.repair,
        reclaimable: detail?.gc.reclaimableBytes ?? null,
        reclaimed: detail?.gc.reclaimedBytes ?? null,
        blake3: detail?.blake3Backend ?? null,
      };
    }),
  );
  const scanned = nodes.filter((n) => n.state !== "down").map((n) => n.underReplicated);
  const underReplicated = scanned.every((u) => u !== null)
    ? scanned.reduce((sum: number, u) => sum + (u ?? 0), 0)
    : null;
  const repair = summarizeRepair(nodes.filter((n) => n.state !== "down").map((n) => n.repair));
  return {
    clusterId: own.clusterId,
    gateway: gateway.addr,
    underReplicated,
    ...repair,
    nodes: nodes.map(({ repair: _figures, ...n }) => n),
  };
}

function render(s: ClusterStatusJson): string {
  const alive = s.nodes.filter((n) => n.state === "alive").length;
  const head = `cluster ${s.clusterId}  ${alive}/${s.nodes.length} nodes alive  (asked ${s.gateway})\n\n`;
  return (
    head +
    table(
      [
        "NODE",
        "ADDRESS",
        "STATE",
        "RTT",
        "CHUNKS",
        "STORED",
        "RECLAIMABLE",
        "RECLAIMED",
        "TO MOVE",
        "DISK FREE",
        "BLAKE3",
      ],
      s.nodes.map((n) => [
        n.id.slice(0, 8),
        n.address,
        n.readOnly !== null && n.state === "alive" ? "read-only" : n.state,
        n.rttMs === null ? "-" : `${n.rttMs.toFixed(1)} ms`,
        n.chunks === null ? "-" : String(n.chunks),
        n.bytes === null ? "-" : formatBytes(n.bytes),
        n.reclaimable === null ? "-" : formatBytes(n.reclaimable),
        n.reclaimed === null ? "-" : formatBytes(n.reclaimed),
        n.bytesToMove === null ? "-" : formatBytes(n.bytesToMove),
        n.diskFree === null ? "-" : `${formatBytes(n.diskFree)}${n.full ? " FULL" : ""}`,
        n.blake3 ?? "-",
      ]),
    ) +
    s.nodes
      .filter((n) => n.full)
      .map(
        (n) =>
          `\nnode ${n.id.slice(0, 8)} is full: its disk is below its free-space reserve${n.diskReserve === null ? "" : ` of ${formatBytes(n.diskReserve)}`}, so it takes no new chunk copies (it still serves reads and deletes)`,
      )
      .join("") +
    s.nodes
      .filter((n) => n.readOnly !== null)
      .map((n) => `\nnode ${n.id.slice(0, 8)} is ${n.readOnly}`)
      .join("") +
    `\nunder-replicated chunks: ${s.underReplicated === null ? "- (not every alive node has finished a repair scan)" : s.underReplicated}\n` +
    `${repairLine(s)}\n`
  );
}

function repairLine(s: ClusterStatusJson): string {
  if (s.misplaced === null || s.bytesToMove === null) {
    return "misplaced copies, bytes left to move: - (not every alive node has finished a repair scan)";
  }
  const left = `misplaced copies: ${s.misplaced}   bytes left to move: ${formatBytes(s.bytesToMove)}`;
  if (s.bytesToMove === 0) return left;
  return `${left}   ETA: ${s.etaSeconds === null ? "- (no copy is moving now, or its rate is not measured yet)" : formatTimeSpan(s.etaSeconds)}`;
}
