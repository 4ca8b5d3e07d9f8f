// Everything known about the selected node, one labelled line per topic; on a small screen only the
// first lines that fit show, so the most useful come first.
import { Text } from "ink";
import { freshFigures, type NodeFigures, type NodeView } from "./cluster-model.ts";
import { formatClock, formatDuration, formatRate, formatRtt, formatSize } from "./format.ts";
import { Panel } from "./panel.tsx";
import { STATE_HUES, useTheme } from "./theme.ts";

export interface NodeDetailsProps {
  node: NodeView | undefined;
  now: number;
  /** Content lines that fit under the title. */
  lines: number;
  height: number;
  width?: number;
  flexGrow?: number;
}

export function NodeDetails({ node, now, lines, height, width, flexGrow }: NodeDetailsProps) {
  const theme = useTheme();
  const rows = node ? detailLines(node, now) : [["", "no node selected"] as const];
  return (
    <Panel title="Details" height={height} width={width} flexGrow={flexGrow}>
      {rows.slice(0, lines).map(([label, value]) => (
        <Text key={label} wrap="truncate">
          <Text color={theme.hue("gray")}>{label.padEnd(10)}</Text>
          {label === "state" && node ? <Text color={theme.hue(STATE_HUES[node.state])}>{value}</Text> : value}
        </Text>
      ))}
    </Panel>
  );
}

/** What the node's repair has left to move, and when it should be done. */
function movingLine(r: NodeFigures["repair"]): string {
  if (!r) return "- (not reported by this node)";
  if (r.misplaced === null || r.bytesToMove === null) return "- (no repair scan yet)";
  const eta =
    r.bytesToMove === 0 ? "" : `, ETA ${r.etaSeconds === null ? "-" : formatDuration(r.etaSeconds * 1000)}`;
  return `${formatSize(r.bytesToMove)} to move${eta}, ${r.misplaced} misplaced`;
}

/** [label, value] pairs, most useful first. */
export function detailLines(node: NodeView, now: number): [string, string][] {
  const f = node.figures;
  const fresh = freshFigures(node, now);
  const seen =
    node.isGateway || node.lastSeen === null
      ? ""
      : `, last seen ${formatClock(node.lastSeen)} (${formatDuration(now - node.lastSeen)} ago)`;
  const rtt = node.isGateway
    ? "this monitor's gateway"
    : `rtt ${formatRtt(node.state === "down" ? null : node.rttMs)}`;
  const lines: [string, string][] = [
    ["id", node.nodeId],
    ["address", node.addr],
    ["state", `${node.state}, ${rtt}${seen}`],
  ];
  if (!f) return [...lines, ["figures", "not reported yet"]];
  const rejected = Object.entries(f.counters.framesRejected)
    .filter(([, n]) => n > 0)
    .map(([reason, n]) => `${reason} ${n}`);
  const a = f.activity;
  // Right under the state, as it changes what the node does; short enough for the details panel (the
  // node's whole sentence, with how to rejoin it, is in `dmfs status` and its log).
  const readOnly: [string, string][] = f.readOnly
    ? [["read-only", "READ-ONLY: missed a purge, takes no new copies"]]
    : [];
  return [
    ...lines,
    ...readOnly,
    ["store", `${f.store.chunks} chunks, ${formatSize(f.store.bytes)}`],
    ["in", `${formatSize(f.counters.bytesIn)} since start, ${formatRate(fresh?.inRate ?? null)} MB/s now`],
    ["out", `${formatSize(f.counters.bytesOut)} since start, ${formatRate(fresh?.outRate ?? null)} MB/s now`],
    ["rejected", rejected.length === 0 ? "no frames rejected" : `frames: ${rejected.join(", ")}`],
    ["served", `${a.uploads} uploads, ${a.reads} reads, ${a.deletes} deletes`],
    [
      "disk free",
      f.store.full
        ? `${formatSize(f.store.diskFree)}, FULL: below its free-space reserve, takes no new copies`
        : formatSize(f.store.diskFree),
    ],
    ["chunks", `${a.chunksStored} stored, ${a.chunksServed} served since start`],
    ["catalog", `${f.catalog.files} files, ${f.catalog.tombstones} tombstones`],
    ["repair", `under-replicated chunks: ${f.underReplicated ?? "- (no scan yet)"}`],
    ["moving", movingLine(f.repair)],
    [
      "moved",
      f.repair
        ? `${formatSize(f.repair.bytesMoved)}, ${f.repair.copiesDropped} copies dropped since start`
        : "-",
    ],
    ["blake3", `${f.blake3Backend} hashing in the crypto pool`],
    ["started", `${formatClock(f.startedAt)}, up ${formatDuration(now - f.startedAt)}`],
    ["reported", `${formatClock(f.receivedAt)}${fresh ? "" : " (not current)"}`],
  ];
}
