// `dmfs cluster layout`: the layout the cluster follows - its version, and each node that owns data
// with its capacity, zone and state - plus the members that own no data (removed, or not yet in it).
// `dmfs cluster layout apply` signs the next version with what the nodes say of themselves now.
import { isDeepStrictEqual } from "node:util";
import { Command } from "commander";
import { nextLayout } from "../cluster/layout.ts";
import { addClusterOptions, type ClusterAccessOptions, resolveClusterAccess } from "./cluster-access.ts";
import { formatBytes, table } from "./format.ts";
import { baseLayout, type ClusterLayoutView, issueLayout, readClusterLayout } from "./layout-admin.ts";

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
  /** Distinct zones among the layout's nodes (nodes naming none count as one zone). */
  zones: number;
  /** Layout nodes whose config names another zone than the layout does (`layout apply` takes it). */
  zoneChanges: { nodeId: string; name: string; zone: string; layoutZone: string | null }[];
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
    .addCommand(layoutApplyCommand())
    .action(async (o: ClusterAccessOptions & { json?: boolean }) => {
      const view = await readClusterLayout(await resolveClusterAccess(o));
      const json = layoutJson(view);
      process.stdout.write(o.json ? `${JSON.stringify(json)}\n` : render(json));
    });
}

function layoutApplyCommand(): Command {
  return addClusterOptions(
    new Command("apply").description(
      "sign the next layout version with what the nodes report now: their names and zones (and their capacities, when no layout was signed yet)",
    ),
  )
    .option("--json", "print { version, changed, nodes } as JSON")
    .action(async (own: ClusterAccessOptions & { json?: boolean }, cmd: Command) => {
      // `layout` has the same options, and commander hands those written after `apply` to it.
      const o = { ...cmd.parent?.opts<ClusterAccessOptions & { json?: boolean }>(), ...own };
      const access = await resolveClusterAccess(o);
      const view = await readClusterLayout(access);
      const base = await baseLayout(access, view);
      if (view.signed && isDeepStrictEqual(base.nodes, view.layout.nodes)) {
        if (o.json) {
          process.stdout.write(
            `${JSON.stringify({ version: view.layout.version, changed: false, nodes: [] })}\n`,
          );
        } else {
          process.stdout.write(
            `The layout (version ${view.layout.version}) already says what the nodes report; nothing to sign.\n`,
          );
        }
        return;
      }
      const next = nextLayout(base, (nodes) => nodes);
      const nodes = await issueLayout(access, next);
      if (o.json) {
        process.stdout.write(`${JSON.stringify({ version: next.version, changed: true, nodes })}\n`);
        return;
      }
      const zones = new Set(next.nodes.map((n) => n.zone ?? "-")).size;
      process.stdout.write(
        `Signed layout version ${next.version}: ${next.nodes.length} node(s) in ${zones} zone(s), taken by ${nodes.length} node(s) (${nodes.join(", ")}); they now move copies to their homes.\n`,
      );
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
    zones: new Set(view.layout.nodes.map((n) => n.zone ?? "")).size,
    zoneChanges: view.layout.nodes.flatMap((n) => {
      const report = view.reports.get(n.nodeId);
      if (report?.zone === undefined || report.zone === n.zone) return [];
      return [{ nodeId: n.nodeId, name: report.name, zone: report.zone, layoutZone: n.zone ?? null }];
    }),
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
  if (json.zones > 1)
    out += `Each chunk's copies go to as many of the ${json.zones} zones as it has copies.\n`;
  for (const c of json.zoneChanges) {
    out += `${c.name}'s config names zone ${c.zone}, the layout ${c.layoutZone ?? "none"}: "dmfs cluster layout apply" signs that in.\n`;
  }
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
