// What `dmfs monitor` shows, as a pure fold of the status snapshots it receives: the gateway's view of
// the members, each member's own figures, cluster throughput and an event log. No I/O and no clock here:
// callers pass `now`, so every step can be replayed in a test.
import { type RepairSummary, summarizeRepair } from "../cluster/repair-summary.ts";
import type { NodeStatus } from "../protocol/messages.ts";
import { addTraffic, type ThroughputHistory } from "./throughput-history.ts";

export type NodeState = "alive" | "suspect" | "down";

/** The event log keeps this many events, dropping the oldest. */
export const MAX_EVENTS = 500;
/** A node's own figures older than this are shown as unknown rather than as current. */
export const STALE_AFTER_MS = 3_000;

/** A node's own report of itself (from its own status, not the gateway's). */
export interface NodeFigures {
  startedAt: number;
  receivedAt: number;
  store: NodeStatus["store"];
  counters: NodeStatus["counters"];
  catalog: NodeStatus["catalog"];
  activity: NodeStatus["activity"];
  underReplicated: number | null;
  /** What its repair has left to move (absent from nodes built before 2026-11-25). */
  repair: NodeStatus["repair"];
  blake3Backend: NodeStatus["blake3Backend"];
  /** Why the node is read-only (it missed a tombstone purge while away), while it is. */
  readOnly: string | undefined;
  /** Bytes per second since the previous report; null until there are two reports from one run. */
  inRate: number | null;
  outRate: number | null;
}

export interface NodeView {
  nodeId: string;
  addr: string;
  /** As the gateway sees it (the gateway itself is alive). */
  state: NodeState;
  rttMs: number | null;
  lastSeen: number | null;
  isGateway: boolean;
  figures: NodeFigures | null;
}

export type EventKind =
  | "joined"
  | "alive"
  | "suspect"
  | "down"
  | "restarted"
  | "rejected"
  | "activity"
  | "gateway";

export interface MonitorEvent {
  /** Counts up from 1 over the monitor's run: a stable key while the log scrolls. */
  id: number;
  at: number;
  kind: EventKind;
  text: string;
}

export type GatewayLink =
  | { state: "connecting"; addr: null; since: number }
  | { state: "connected"; addr: string; nodeId: string; since: number }
  | { state: "lost"; addr: string; since: number };

export interface ClusterModel {
  clusterId: string | null;
  gateway: GatewayLink;
  /** Sorted by address. */
  nodes: readonly NodeView[];
  /** Live files in the gateway's catalog. */
  files: number | null;
  throughput: ThroughputHistory;
  /** Oldest first, at most MAX_EVENTS. */
  events: readonly MonitorEvent[];
}

export interface ClusterSummary {
  alive: number;
  total: number;
  /** Sum over the nodes that are not down; null before any node reported. */
  bytesStored: number | null;
  /** Sum over the nodes that are not down and have run a repair scan; null while none has. */
  underReplicated: number | null;
  /** Over the nodes that are not down and reported: copies off their homes, bytes left, the slowest ETA. */
  repair: RepairSummary;
}

export function emptyModel(now: number): ClusterModel {
  return {
    clusterId: null,
    gateway: { state: "connecting", addr: null, since: now },
    nodes: [],
    files: null,
    throughput: [],
    events: [],
  };
}

export function gatewayConnected(
  model: ClusterModel,
  gateway: { addr: string; nodeId: string },
  now: number,
): ClusterModel {
  const text =
    model.gateway.state === "lost"
      ? `switched to gateway ${gateway.addr} (${shortId(gateway.nodeId)})`
      : `watching through gateway ${gateway.addr} (${shortId(gateway.nodeId)})`;
  return withEvents(
    { ...model, gateway: { state: "connected", addr: gateway.addr, nodeId: gateway.nodeId, since: now } },
    [{ at: now, kind: "gateway", text }],
  );
}

/** Our connection to the gateway closed: we take that node for down until another node says otherwise. */
export function gatewayLost(model: ClusterModel, now: number): ClusterModel {
  if (model.gateway.state !== "connected") return model;
  const { addr, nodeId } = model.gateway;
  const events: NewEvent[] = [
    { at: now, kind: "gateway", text: `lost gateway ${addr}; trying the other nodes` },
  ];
  const nodes = model.nodes.map((n) => {
    if (n.nodeId !== nodeId) return n;
    if (n.state !== "down") events.push({ at: now, kind: "down", text: `${label(n)} is unreachable` });
    return { ...n, state: "down" as const, isGateway: false };
  });
  return withEvents({ ...model, gateway: { state: "lost", addr, since: now }, nodes }, events);
}

/** The gateway's status: the member list with states as it sees them, and its own figures. */
export function applyGatewayStatus(model: ClusterModel, status: NodeStatus, now: number): ClusterModel {
  const previous = new Map(model.nodes.map((n) => [n.nodeId, n]));
  const firstList = model.nodes.length === 0;
  const events: NewEvent[] = [];
  const nodes = status.members
    .map((m): NodeView => {
      const before = previous.get(m.nodeId);
      const state: NodeState = m.state === "self" ? "alive" : m.state;
      const node: NodeView = {
        nodeId: m.nodeId,
        addr: m.addr,
        state,
        rttMs: m.rttMs,
        lastSeen: m.lastSeen,
        isGateway: m.state === "self",
        figures: before?.figures ?? null,
      };
      if (!before && !firstList) {
        events.push({ at: now, kind: "joined", text: `${label(node)} joined, ${state}` });
      } else if (before && before.state !== state) {
        events.push({ at: now, kind: state, text: transitionText(node, before.state) });
      }
      return node;
    })
    .sort((a, b) => a.addr.localeCompare(b.addr));
  if (firstList) {
    const alive = nodes.filter((n) => n.state === "alive").length;
    events.push({
      at: now,
      kind: "gateway",
      text: `the cluster has ${plural(nodes.length, "member")}, ${alive} alive`,
    });
  }
  const next = withEvents(
    { ...model, clusterId: status.clusterId, files: status.catalog.files, nodes },
    events,
  );
  return applyNodeStatus(next, status, now);
}

/** A node's own status: its store, counters and activity. Ignored for nodes the gateway does not list. */
export function applyNodeStatus(model: ClusterModel, status: NodeStatus, now: number): ClusterModel {
  const node = model.nodes.find((n) => n.nodeId === status.nodeId);
  if (!node) return model;
  const before = node.figures;
  const sameRun = before !== null && before.startedAt === status.startedAt;
  // A second report in the same millisecond has no interval to spread its traffic over; the next one will.
  if (sameRun && now <= before.receivedAt) return model;
  const events: NewEvent[] = [];
  let throughput = model.throughput;
  let inRate: number | null = null;
  let outRate: number | null = null;
  if (sameRun) {
    const seconds = (now - before.receivedAt) / 1000;
    const bytesIn = Math.max(0, status.counters.bytesIn - before.counters.bytesIn);
    const bytesOut = Math.max(0, status.counters.bytesOut - before.counters.bytesOut);
    inRate = bytesIn / seconds;
    outRate = bytesOut / seconds;
    throughput = addTraffic(throughput, before.receivedAt, now, bytesIn, bytesOut);
    events.push(...rejectedEvents(node, before.counters.framesRejected, status.counters.framesRejected, now));
    const activity = activityEvent(node, before.activity, status.activity, now);
    if (activity) events.push(activity);
  } else if (before !== null && before.startedAt !== status.startedAt) {
    events.push({ at: now, kind: "restarted", text: `${label(node)} restarted` });
  }
  const figures: NodeFigures = {
    startedAt: status.startedAt,
    receivedAt: now,
    store: status.store,
    counters: status.counters,
    catalog: status.catalog,
    activity: status.activity,
    underReplicated: status.underReplicated,
    repair: status.repair,
    blake3Backend: status.blake3Backend,
    readOnly: status.readOnly,
    inRate,
    outRate,
  };
  const nodes = model.nodes.map((n) => (n === node ? { ...n, figures } : n));
  return withEvents({ ...model, nodes, throughput }, events);
}

export function summarize(model: ClusterModel): ClusterSummary {
  const up = model.nodes.filter((n) => n.state !== "down");
  const reported = up.flatMap((n) => (n.figures ? [n.figures] : []));
  const scanned = reported.flatMap((f) => (f.underReplicated === null ? [] : [f.underReplicated]));
  return {
    alive: model.nodes.filter((n) => n.state === "alive").length,
    total: model.nodes.length,
    bytesStored: reported.length === 0 ? null : reported.reduce((sum, f) => sum + f.store.bytes, 0),
    underReplicated: scanned.length === 0 ? null : scanned.reduce((sum, u) => sum + u, 0),
    repair:
      reported.length === 0
        ? { misplaced: null, bytesToMove: null, etaSeconds: null }
        : summarizeRepair(reported.map((f) => f.repair)),
  };
}

/** The node's figures if they can pass for current: recent, and the node is not down. */
export function freshFigures(node: NodeView, now: number): NodeFigures | null {
  const f = node.figures;
  return f && node.state !== "down" && now - f.receivedAt <= STALE_AFTER_MS ? f : null;
}

export function shortId(nodeId: string): string {
  return nodeId.slice(0, 8);
}

function label(node: NodeView): string {
  return `node ${shortId(node.nodeId)} (${node.addr})`;
}

function transitionText(node: NodeView, from: NodeState): string {
  if (node.state === "alive") return `${label(node)} is back, was ${from}`;
  if (node.state === "suspect") return `${label(node)} missed heartbeats`;
  return `${label(node)} is down`;
}

function rejectedEvents(
  node: NodeView,
  before: Record<string, number>,
  after: Record<string, number>,
  now: number,
): NewEvent[] {
  return Object.entries(after).flatMap(([reason, count]) => {
    const added = count - (before[reason] ?? 0);
    if (added <= 0) return [];
    return [
      {
        at: now,
        kind: "rejected" as const,
        text: `${label(node)}: ${added}× ${reason}`,
      },
    ];
  });
}

function activityEvent(
  node: NodeView,
  before: NodeStatus["activity"],
  after: NodeStatus["activity"],
  now: number,
): NewEvent | undefined {
  const parts = [
    [after.uploads - before.uploads, "upload"],
    [after.reads - before.reads, "read"],
    [after.deletes - before.deletes, "delete"],
  ] as const;
  const seen = parts.filter(([n]) => n > 0).map(([n, what]) => plural(n, what));
  if (seen.length === 0) return undefined;
  return { at: now, kind: "activity", text: `${label(node)}: ${seen.join(", ")}` };
}

function plural(n: number, what: string): string {
  return `${n} ${what}${n === 1 ? "" : "s"}`;
}

type NewEvent = Omit<MonitorEvent, "id">;

function withEvents(model: ClusterModel, events: NewEvent[]): ClusterModel {
  if (events.length === 0) return model;
  const lastId = model.events.at(-1)?.id ?? 0;
  const numbered = events.map((e, i) => ({ ...e, id: lastId + 1 + i }));
  return { ...model, events: [...model.events, ...numbered].slice(-MAX_EVENTS) };
}
