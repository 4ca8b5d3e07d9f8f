// `dmfs status`: asks a node for the cluster's members, then every member for its own store figures.
import { Command } from "commander";
import { NodeClient } from "../client/node-client.ts";
import type { Blake3Backend } from "../crypto/blake3.ts";
import type { NodeStatus } from "../protocol/messages.ts";
import { addClusterOptions, type ClusterAccessOptions, resolveClusterAccess } from "./cluster-access.ts";
import { formatBytes, table } from "./format.ts";

export interface ClusterStatusJson {
  clusterId: string;
  gateway: string;
  nodes: {
    id: string;
    address: string;
    state: "alive" | "suspect" | "down";
    rttMs: number | null;
    chunks: number | null;
    bytes: number | null;
    diskFree: number | null;
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
        reclaimable: detail?.gc.reclaimableBytes ?? null,
        reclaimed: detail?.gc.reclaimedBytes ?? null,
        blake3: detail?.blake3Backend ?? null,
      };
    }),
  );
  return { clusterId: own.clusterId, gateway: gateway.addr, nodes };
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
        "DISK FREE",
        "BLAKE3",
      ],
      s.nodes.map((n) => [
        n.id.slice(0, 8),
        n.address,
        n.state,
        n.rttMs === null ? "-" : `${n.rttMs.toFixed(1)} ms`,
        n.chunks === null ? "-" : String(n.chunks),
        n.bytes === null ? "-" : formatBytes(n.bytes),
        n.reclaimable === null ? "-" : formatBytes(n.reclaimable),
        n.reclaimed === null ? "-" : formatBytes(n.reclaimed),
        n.diskFree === null ? "-" : formatBytes(n.diskFree),
        n.blake3 ?? "-",
      ]),
    )
  );
}
