// `dmfs cluster layout`: the layout the cluster follows - its version, and each node that owns data
// with its capacity, zone and state - plus the members that own no data (removed, or not yet in it).
import { Command } from "commander";
import { addClusterOptions, type ClusterAccessOptions, resolveClusterAccess } from "./cluster-access.ts";
import { formatBytes, table } from "./format.ts";
import { type ClusterLayoutView, readClusterLayout } from "./layout-admin.ts";

export interface ClusterLayoutJson {
  version: number;
  /** False: no layout was ever signed, and the cluster places over every member, equally weighted. */
  signed: boolean;
  issuedAt: number | null;
  /** Nodes that answered and still also write to the homes of the layout before this one. */
  changing: string[];
  nodes: {
    nodeId: string;
    name: string | null;
    capacity: number;
    zone: string | null;
    state: "alive" | "suspect" | "down" | "unseen";
  }[];
  /** Members that are not in the layout: they own no data and give their copies to the homes. */
  outside: { nodeId: string; addr: string; state: "alive" | "suspect" | "down" }[];
  /**
   * Per node that answered, at its last repair scan: copies it holds off their homes (to hand over)
   * and chunks it holds whose homes lack a copy; null before its first scan.
   */
  repair: { nodeId: string; name: string; misplaced: number | null; underReplicated: number | null }[];
}

export function clusterLayoutCommand(): Command {
  return addClusterOptions(
    new Command("layout").description(
      "show the layout: which nodes own data, with their capacity, zone and state",
    ),
  )
    .option("--json", "print one JSON object")
    .action(async (o: ClusterAccessOptions & { json?: boolean }) => {
      const view = await readClusterLayout(await resolveClusterAccess(o));
      const json = layoutJson(view);
      process.stdout.write(o.json ? `${JSON.stringify(json)}\n` : render(json));
    });
}

export function layoutJson(view: ClusterLayoutView): ClusterLayoutJson {
  const stateOf = new Map(
    view.members.map((m) => [m.nodeId, m.state === "self" ? "alive" : m.state] as const),
  );
  const inLayout = new Set(view.layout.nodes.map((n) => n.nodeId));
  return {
    version: view.layout.version,
    signed: view.signed,
    issuedAt: view.signed ? view.layout.issuedAt : null,
    changing: [...view.reports.values()].filter((r) => r.changing).map((r) => r.name),
    nodes: view.layout.nodes.map((n) => ({
      nodeId: n.nodeId,
      name: n.name ?? view.reports.get(n.nodeId)?.name ?? null,
      capacity: n.capacity,
      zone: n.zone ?? null,
      state: stateOf.get(n.nodeId) ?? "unseen",
    })),
    outside: view.members
      .filter((m) => !inLayout.has(m.nodeId))
      .map((m) => ({ nodeId: m.nodeId, addr: m.addr, state: m.state === "self" ? "alive" : m.state })),
    repair: [...view.reports.values()].map((r) => ({
      nodeId: r.nodeId,
      name: r.name,
      misplaced: r.misplaced,
      underReplicated: r.underReplicated,
    })),
  };
}

function render(json: ClusterLayoutJson): string {
  const head = json.signed
    ? `Layout version ${json.version}, signed ${new Date(json.issuedAt ?? 0).toISOString()}.\n`
    : `Layout version ${json.version} (implicit: no layout was signed yet, every member owns data, equally weighted).\n`;
  const weights = json.nodes.reduce((sum, n) => sum + n.capacity, 0);
  const rows = json.nodes.map((n) => [
    n.name ?? "-",
    n.nodeId,
    json.signed ? formatBytes(n.capacity) : "-",
    `${((100 * n.capacity) / weights).toFixed(1)}%`,
    n.zone ?? "-",
    n.state,
  ]);
  let out = head + table(["NAME", "NODE", "CAPACITY", "SHARE", "ZONE", "STATE"], rows);
  if (json.outside.length > 0) {
    out += `Members outside the layout (they own no data):\n${json.outside
      .map((m) => `  ${m.nodeId}  ${m.addr}  ${m.state}\n`)
      .join("")}`;
  }
  const pending = json.repair.filter((r) => (r.misplaced ?? 0) > 0 || (r.underReplicated ?? 0) > 0);
  for (const r of pending) {
    out += `${r.name}: ${r.misplaced ?? 0} cop${r.misplaced === 1 ? "y" : "ies"} to hand to their homes, ${r.underReplicated ?? 0} chunk(s) whose homes lack a copy (last repair scan).\n`;
  }
  if (json.changing.length > 0) {
    out += `Still moving copies to their new homes: ${json.changing.join(", ")}.\n`;
  }
  return out;
}
